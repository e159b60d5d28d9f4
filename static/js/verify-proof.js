// Recomputes an RFC 9162 inclusion proof with the browser's own Web Crypto API:
// the visitor does not have to trust the server's claim that the proof verifies.
(function () {
  "use strict";
  const box = document.getElementById("verify");
  if (!box) return;
  const button = document.getElementById("verify-button");
  const result = document.getElementById("verify-result");

  function fromHex(hex) {
    const out = new Uint8Array(hex.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
    return out;
  }
  function toHex(bytes) {
    return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
  }
  async function sha256(prefix, ...parts) {
    const total = 1 + parts.reduce((n, p) => n + p.length, 0);
    const buf = new Uint8Array(total);
    buf[0] = prefix;
    let at = 1;
    for (const p of parts) { buf.set(p, at); at += p.length; }
    return new Uint8Array(await crypto.subtle.digest("SHA-256", buf));
  }
  // Halving with Math.floor, not >>, so indexes beyond 2^31 stay exact.
  const half = (n) => Math.floor(n / 2);
  const odd = (n) => n % 2 === 1;
  // RFC 9162 section 2.1.3.2
  async function verifyInclusion(leafHash, index, size, path, root) {
    if (index >= size) return false;
    let fn = index, sn = size - 1, r = leafHash;
    for (const p of path) {
      if (sn === 0) return false;
      if (odd(fn) || fn === sn) {
        r = await sha256(1, p, r);
        if (!odd(fn)) { while (!odd(fn) && fn !== 0) { fn = half(fn); sn = half(sn); } }
      } else {
        r = await sha256(1, r, p);
      }
      fn = half(fn); sn = half(sn);
    }
    return sn === 0 && toHex(r) === toHex(root);
  }

  button.addEventListener("click", async function () {
    if (!window.crypto || !crypto.subtle) { result.textContent = box.dataset.msgNocrypto; return; }
    const leafHash = fromHex(document.getElementById("leaf-hash").textContent.trim());
    const leafData = document.getElementById("leaf-data");
    if (leafData) {
      const computed = await sha256(0, new TextEncoder().encode(leafData.textContent));
      if (toHex(computed) !== toHex(leafHash)) {
        result.textContent = box.dataset.msgLeaf; result.className = "bad"; return;
      }
    }
    const path = Array.from(document.querySelectorAll("#audit-path li"))
      .map((li) => li.textContent.trim()).filter((t) => /^[0-9a-f]{64}$/.test(t)).map(fromHex);
    const root = fromHex(document.getElementById("root-hash").textContent.trim());
    const ok = await verifyInclusion(
      leafHash, Number(box.dataset.leafIndex), Number(box.dataset.treeSize), path, root);
    result.textContent = ok ? box.dataset.msgOk : box.dataset.msgBad;
    result.className = ok ? "ok" : "bad";
  });
})();
