// Loopstack UI: the only script the pages load (the CSP allows no inline script).
// Keyboard shortcuts: on a page with elements carrying data-key="x", pressing x clicks or focuses them.
(function () {
  "use strict";
  function typing(el) {
    if (!el) return false;
    var tag = el.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
  }
  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.key === "Escape" && typing(document.activeElement)) { document.activeElement.blur(); return; }
    if (typing(document.activeElement)) return;
    var target = document.querySelector('[data-key="' + CSS.escape(ev.key) + '"]');
    if (!target) return;
    ev.preventDefault();
    if (target.tagName === "TEXTAREA" || target.tagName === "INPUT") { target.focus(); return; }
    target.click();
  });
  // A confirmation checkbox enables its form's submit button (label moves).
  document.querySelectorAll("input[data-confirms]").forEach(function (box) {
    var btn = document.getElementById(box.getAttribute("data-confirms"));
    if (!btn) return;
    btn.disabled = !box.checked;
    box.addEventListener("change", function () { btn.disabled = !box.checked; });
  });
})();
