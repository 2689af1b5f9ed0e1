// Keyboard shortcuts for the screening queue: i include, x exclude (with a reason), m maybe,
// u undo. Each key clicks the page's own form button, so the server sees exactly what a
// mouse or a no-JavaScript user would send (CSRF token included).
(function () {
  "use strict";
  var keys = document.getElementById("screening-keys");
  var live = document.getElementById("screening-live");
  if (!keys) { return; }
  keys.hidden = false;

  function button(key) {
    return document.querySelector('[data-key="' + key + '"]');
  }
  function say(text) {
    if (live) { live.textContent = text; }
  }
  function typing(el) {
    if (!el || !el.tagName) { return false; }
    var tag = el.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || el.isContentEditable;
  }

  var reason = document.querySelector('[data-key-target="reason"]');
  var reasonText = document.querySelector('[data-key-target="reason-text"]');

  // In the exclusion fields, Enter excludes (a reason must be chosen; the server checks too).
  [reason, reasonText].forEach(function (field) {
    if (!field) { return; }
    field.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        event.preventDefault();
        if (reason && !reason.value) {
          say("Choose a reason for excluding first.");
          reason.focus();
          return;
        }
        var exclude = button("x");
        if (exclude) { exclude.click(); }
      } else if (event.key === "Escape") {
        field.blur();
        say("Exclusion cancelled.");
      }
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) { return; }
    if (typing(event.target)) { return; }
    var key = event.key.toLowerCase();
    if (key === "x") {
      event.preventDefault();
      if (reason && reason.value) {
        button("x").click();
      } else if (reason) {
        reason.focus();
        say("Choose a reason, then press Enter to exclude.");
      }
      return;
    }
    if (key !== "i" && key !== "m" && key !== "u") { return; }
    var target = button(key);
    if (target) {
      event.preventDefault();
      target.click();
    }
  });
})();
