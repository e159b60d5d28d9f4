// The kiosk's idle sign-out: a minute before the limit a warning with "Stay signed in"
// appears; at the limit the page reloads, and the server, seeing no request for that long,
// signs the resident out. "Stay signed in" reloads at once, which counts as activity.
(function () {
  "use strict";
  var box = document.getElementById("kiosk-idle");
  if (!box) {
    return;
  }
  var idle = parseInt(box.getAttribute("data-idle-seconds"), 10) * 1000;
  var stay = document.getElementById("kiosk-stay");
  window.setTimeout(function () {
    box.hidden = false;
    stay.focus();
  }, Math.max(idle - 60000, 0));
  window.setTimeout(function () {
    window.location.reload();
  }, idle);
  stay.addEventListener("click", function () {
    window.location.reload();
  });
})();
