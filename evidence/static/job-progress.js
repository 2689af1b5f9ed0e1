// Polls a job's JSON status and moves the progress bar until the job finishes.
(function () {
  "use strict";
  var box = document.getElementById("job");
  if (!box) { return; }
  var url = box.getAttribute("data-status-url");
  function set(id, value) {
    var el = document.getElementById(id);
    if (el) { el.textContent = value === null || value === undefined ? "" : String(value); }
  }
  function update(s) {
    var bar = document.getElementById("job-progress");
    if (s.total) { bar.max = s.total; bar.value = s.done; } else if (s.finished) { bar.max = 1; bar.value = 1; }
    set("job-percent", s.percent === null ? "…" : s.percent + "%");
    set("job-state", s.state);
    set("job-done", s.done);
    set("job-total", s.total === null ? "?" : s.total);
    set("job-added", s.added);
    set("job-updated", s.updated);
    set("job-errors", s.errors);
    set("job-note", s.note || "");
    set("job-error", s.error || "");
    document.getElementById("job-error").hidden = !s.error;
    return s.finished;
  }
  function poll() {
    fetch(url, { headers: { "Accept": "application/json" }, cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (s) { if (!update(s)) { window.setTimeout(poll, 1000); } })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  poll();
})();
