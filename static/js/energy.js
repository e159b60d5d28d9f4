// The energy portal: a "Print this bill" button (shown only where scripts run; the page
// prints fine from the browser's own menu without it).
(function () {
  "use strict";
  document.querySelectorAll("[data-energy-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      window.print();
    });
  });
})();
