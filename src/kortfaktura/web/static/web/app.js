// Kortfaktura's only script besides htmx: no inline scripts anywhere (Content Security Policy).
(function () {
  "use strict";
  // Forms and buttons with data-confirm ask before they send (issue a run, discard, credit).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
  // A swapped-in fragment that announces itself gets focus, so keyboard and screen-reader users
  // learn that the page changed.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (target && target.hasAttribute && target.hasAttribute("data-focus-after-swap")) {
      target.focus();
    }
  });
})();
