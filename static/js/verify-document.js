// Computes a document's SHA-256 fingerprint in the browser with Web Crypto and puts it in
// the form's `sha256` field. The file input has no name, so the file itself is never
// submitted: only the 64-character fingerprint is sent.
(function () {
  "use strict";
  const form = document.getElementById("verify-document");
  if (!form) return;
  const fileField = document.getElementById("verify-file-field");
  const fileInput = document.getElementById("verify-file");
  const status = document.getElementById("verify-file-status");
  const noJs = document.getElementById("verify-nojs");
  const hashInput = form.querySelector("input[name=sha256]");
  // Web Crypto exists only in secure contexts (HTTPS or localhost): otherwise keep the
  // "type it by hand" note and leave the file chooser hidden.
  if (!window.crypto || !window.crypto.subtle || !hashInput) return;
  fileField.hidden = false;
  noJs.hidden = true;

  function toHex(buffer) {
    return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  fileInput.addEventListener("change", async function () {
    const file = fileInput.files && fileInput.files[0];
    if (!file) return;
    status.textContent = form.dataset.msgHashing;
    try {
      const digest = await window.crypto.subtle.digest("SHA-256", await file.arrayBuffer());
      hashInput.value = toHex(digest);
      status.textContent = form.dataset.msgDone;
    } catch (error) {
      status.textContent = form.dataset.msgFailed;
    }
  });
})();
