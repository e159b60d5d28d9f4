// Credit pages: print buttons, "copy the link" buttons, and the kiosk's idle sign-out.
// The buttons are extras: without scripts the browser's own print command works and the
// link can be selected by hand; the server signs an idle kiosk session out either way.
(function () {
  "use strict";
  document.querySelectorAll(".js-print").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
  document.querySelectorAll(".js-copy").forEach(function (button) {
    const target = document.getElementById(button.dataset.target);
    const status = document.getElementById(button.dataset.status);
    if (!target || !navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(target.textContent.trim()).then(
        function () { if (status) status.textContent = button.dataset.msgDone; },
        function () { if (status) status.textContent = button.dataset.msgFailed; }
      );
    });
  });
  const idle = document.getElementById("kiosk-idle");
  if (idle) {
    window.setTimeout(function () { window.location.assign(idle.dataset.url); },
      Number(idle.dataset.seconds) * 1000);
  }
  document.documentElement.dataset.creditReady = "1";
})();
