// The roster import's progress bar: ask for one chunk more until the import is done, then reload
// the page for the final counts and the report of refused rows. Without script, "Continue" does it.
(function () {
  "use strict";
  var job = document.getElementById("roster-job");
  if (!job || job.dataset.done === "true") { return; }
  var bar = document.getElementById("roster-progress");
  var token = document.querySelector("#roster-continue input[name=csrf_token]").value;
  var button = document.getElementById("roster-continue");
  if (button) { button.style.display = "none"; }
  function step() {
    fetch(job.dataset.step, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Accept": "application/json", "X-CSRFToken": token},
    }).then(function (reply) {
      if (!reply.ok) { throw new Error(String(reply.status)); }
      return reply.json();
    }).then(function (p) {
      var share = p.accepted ? Math.round(100 * p.processed / p.accepted) : 100;
      bar.style.width = share + "%";
      bar.setAttribute("aria-valuenow", String(p.processed));
      bar.textContent = p.processed + " / " + p.accepted;
      ["added", "updated", "unchanged", "refused"].forEach(function (key) {
        document.getElementById("count-" + key).textContent = String(p[key]);
      });
      if (p.done) { window.location.reload(); } else { step(); }
    }).catch(function () {
      if (button) { button.style.display = ""; }
    });
  }
  step();
}());
