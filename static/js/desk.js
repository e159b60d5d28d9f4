// The caseworker desk: print buttons (the pages print with the browser's own command too).
"use strict";
document.querySelectorAll(".js-print").forEach(function (button) {
  button.hidden = false;
  button.addEventListener("click", function () { window.print(); });
});
