/* Refresh the baked adoption counter from the service. On any failure the baked number stays. */
(function () {
  "use strict";

  function refresh() {
    var meta = document.querySelector('meta[name="adoptions-api"]');
    if (!meta || !meta.content || !window.fetch) return;
    if (!document.querySelector("[data-adoptions-count]")) return;
    fetch(meta.content, { headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        var count = data && data.count;
        if (typeof count !== "number" || !isFinite(count) || count < 0) return;
        var text = String(Math.floor(count));
        document.querySelectorAll("[data-adoptions-count]").forEach(function (node) {
          if (node.textContent !== text) node.textContent = text;
        });
      })
      .catch(function () { /* offline or service down: keep the baked number */ });
  }

  // Material re-emits document$ after instant navigation; without it, run once.
  if (window.document$ && typeof window.document$.subscribe === "function") {
    window.document$.subscribe(refresh);
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", refresh);
  } else {
    refresh();
  }
})();
