/* Load Material's own script only when a visitor first needs it: the search, or the keyboard.
   Pages read, scroll and navigate without it (the menu and tabs work without JavaScript), so the
   first visit downloads a third of the bytes. The script waits in the page as an inert
   <script type="text/plain" data-sc-material src="...">, which the browser neither fetches nor
   runs. */
(function () {
  "use strict";

  var loaded = false;
  var root = document.documentElement;
  // Material's CSS hides the search while the page is "no-js"; it is usable now, so show it.
  // "sc-waiting" keeps the other no-js layout rules (extra.css) until Material has started.
  root.classList.remove("no-js");
  root.classList.add("sc-waiting");

  function load() {
    var stub = document.querySelector("script[data-sc-material]");
    if (loaded || !stub) return;
    loaded = true;
    var script = document.createElement("script");
    script.src = stub.src;
    // Material starts on DOMContentLoaded, which has passed by now: give it the event again.
    script.onload = function () {
      document.dispatchEvent(new Event("DOMContentLoaded"));
      root.classList.remove("sc-waiting");
      var input = document.querySelector(".md-search__input");
      if (input && document.activeElement === input) {
        input.blur();
        input.focus();
      }
    };
    document.body.appendChild(script);
  }

  function onSearch(event) {
    var target = event.target;
    if (target && target.closest && target.closest(".md-search, label[for='__search']")) load();
  }

  document.addEventListener("focusin", onSearch);
  document.addEventListener("pointerdown", onSearch);
  document.addEventListener("keydown", load, { once: true });
  var toggle = document.getElementById("__search");
  if (toggle) toggle.addEventListener("change", load);
})();
