/* Filter the list of adopters by sector. Without JavaScript the full list shows. */
(function () {
  "use strict";

  function setup() {
    var box = document.querySelector("[data-sc-filter]");
    var list = document.querySelector("[data-sc-adopters]");
    if (!box || !list || box.dataset.ready) return;
    box.dataset.ready = "1";
    var select = box.querySelector("select");
    var status = box.querySelector("[role=status]");
    var items = list.querySelectorAll("li[data-sector]");

    function apply() {
      var sector = select.value;
      var shown = 0;
      items.forEach(function (item) {
        var match = !sector || item.getAttribute("data-sector") === sector;
        item.hidden = !match;
        if (match) shown += 1;
      });
      // The words are in the page (content/deelnemers.md); # stands for the number.
      var words = shown === 1 ? status.dataset.one : status.dataset.other;
      status.textContent = (words || "").replace("#", shown);
    }

    var wanted = new URLSearchParams(window.location.search).get("sector");
    if (wanted) {
      for (var i = 0; i < select.options.length; i += 1) {
        if (select.options[i].value === wanted) select.value = wanted;
      }
    }
    select.addEventListener("change", apply);
    box.hidden = false;
    apply();
  }

  if (window.document$ && typeof window.document$.subscribe === "function") {
    window.document$.subscribe(setup);
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setup);
  } else {
    setup();
  }
})();
