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
    var active = document.activeElement;
    if (ev.key === "Escape" && typing(active)) { active.blur(); return; }
    // Ctrl+Enter in a text box clicks the button named by its data-submit.
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey) && active && active.getAttribute("data-submit")) {
      var submit = document.getElementById(active.getAttribute("data-submit"));
      if (submit) { ev.preventDefault(); submit.click(); }
      return;
    }
    if (ev.ctrlKey || ev.metaKey || ev.altKey || typing(active)) return;
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
