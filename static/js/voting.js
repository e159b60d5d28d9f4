// The voter portal's progressive enhancement; every page works without it.
// - An error summary takes the focus, so a screen reader reads it first.
// - The receipt gets a "Copy the tracking code" button (copying needs a script).
// - A letter's or email's link carries the credential in the fragment (#c=...), which the
//   browser never sends to a server: it is put in the field and dropped from the address.
(function () {
  "use strict";
  const summary = document.getElementById("error-summary");
  if (summary) summary.focus();

  const fromLink = /^#c=([0-9A-Za-z-]{1,80})$/.exec(window.location.hash);
  const credentialField = document.getElementById("id_credential");
  if (fromLink) {
    history.replaceState(null, "", window.location.pathname + window.location.search);
    if (credentialField && !credentialField.value) {
      const symbols = fromLink[1].replace(/-/g, "").toUpperCase();
      credentialField.value = symbols.replace(/(.{4})(?=.)/g, "$1-"); // as on the letter
      const note = document.getElementById("from-letter");
      if (note) note.hidden = false;
    }
  }

  const slot = document.getElementById("copy-code");
  if (!slot) return;
  const status = document.getElementById("copy-status");
  const code = document.getElementById("tracking-code");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "button-secondary";
  button.textContent = slot.dataset.label;
  slot.insertBefore(button, status);

  function selectCode() {
    const range = document.createRange();
    range.selectNodeContents(code);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  button.addEventListener("click", async function () {
    try {
      if (!navigator.clipboard) throw new Error("no clipboard");
      await navigator.clipboard.writeText(slot.dataset.code);
      status.textContent = slot.dataset.done;
    } catch (error) {
      selectCode();
      status.textContent = slot.dataset.failed;
    }
  });
})();
