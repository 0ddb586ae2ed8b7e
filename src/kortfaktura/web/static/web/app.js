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
  // Item 11 (narrow screens): the menu button. Without this script the button stays hidden
  // (CSS) and the menu open, so the page works without JavaScript too.
  document.documentElement.classList.add("js");
  var menuButton = document.querySelector(".menu-toggle");
  var menu = menuButton && document.getElementById(menuButton.getAttribute("aria-controls"));
  function setMenu(open) {
    menuButton.setAttribute("aria-expanded", open ? "true" : "false");
    menu.classList.toggle("open", open);
  }
  if (menuButton && menu) {
    menuButton.addEventListener("click", function () {
      setMenu(menuButton.getAttribute("aria-expanded") !== "true");
    });
    // Escape folds an open menu; focus goes back to the button if it was in the menu.
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && menuButton.getAttribute("aria-expanded") === "true") {
        var inside = menu.contains(document.activeElement);
        setMenu(false);
        if (inside) {
          menuButton.focus();
        }
      }
    });
  }
  // Item 11: list tables (data-cards) become one card per row on narrow screens; each cell is
  // labelled with its column's heading there, taken from the table's own head.
  // A sortable heading also holds words for screen readers and an arrow: the label is the
  // column's name alone.
  function headingText(th) {
    var copy = th.cloneNode(true);
    Array.prototype.forEach.call(
      copy.querySelectorAll(".visually-hidden, [aria-hidden='true']"),
      function (extra) { extra.remove(); });
    return copy.textContent.trim();
  }
  function labelCells(root) {
    var tables = root.querySelectorAll ? root.querySelectorAll("table[data-cards]") : [];
    Array.prototype.forEach.call(tables, function (table) {
      var headings = Array.prototype.map.call(
        table.querySelectorAll("thead th"), headingText);
      Array.prototype.forEach.call(table.querySelectorAll("tbody tr"), function (row) {
        Array.prototype.forEach.call(row.children, function (cell, index) {
          if (headings[index] && !cell.hasAttribute("data-label")) {
            cell.setAttribute("data-label", headings[index]);
          }
        });
      });
    });
  }
  labelCells(document);
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail && event.detail.target) {
      labelCells(event.detail.target.parentNode || event.detail.target);
    }
  });
})();
