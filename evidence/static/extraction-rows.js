// Extraction form: "Add a row" buttons copy the last row of a table, renumbering its fields.
(function () {
  "use strict";
  function renumber(row, index) {
    row.querySelectorAll("input, select, textarea, label").forEach(function (el) {
      ["name", "id", "for", "aria-describedby"].forEach(function (attr) {
        var value = el.getAttribute(attr);
        if (value) { el.setAttribute(attr, value.replace(/^(\w+)-\d+-/, "$1-" + index + "-")); }
      });
      if (el.tagName === "INPUT") { el.value = ""; el.removeAttribute("aria-invalid"); }
      if (el.tagName === "SELECT") { el.selectedIndex = 0; el.removeAttribute("aria-invalid"); }
    });
    row.querySelectorAll(".error").forEach(function (p) { p.remove(); });
    row.querySelectorAll(".has-error").forEach(function (td) { td.classList.remove("has-error"); });
    var head = row.querySelector("th");
    if (head) { head.textContent = String(index + 1); }
  }
  document.querySelectorAll("button.add-row").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var body = document.querySelector('table[data-rows="' + button.getAttribute("data-target") + '"] tbody');
      var rows = body.querySelectorAll("tr.row-entry");
      var copy = rows[rows.length - 1].cloneNode(true);
      renumber(copy, rows.length);
      body.appendChild(copy);
      var first = copy.querySelector("input, select");
      if (first) { first.focus(); }
    });
  });
})();
