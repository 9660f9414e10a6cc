// Confirmation before an irreversible decision: a form with data-confirm="question" asks in the
// page's own dialog (#modal-confirm, worded in the page's language) before it is sent.
(function () {
  var dialog = document.getElementById("modal-confirm");
  if (!dialog || typeof jQuery === "undefined") { return; }
  var pending = null;
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute("data-confirm") || form.dataset.confirmed === "yes") { return; }
    event.preventDefault();
    pending = form;
    dialog.querySelector(".modal-text").textContent = form.getAttribute("data-confirm");
    jQuery(dialog).modal("show");
  }, true);
  document.getElementById("modal-confirm-ok").addEventListener("click", function (event) {
    event.preventDefault();
    if (!pending) { return; }
    pending.dataset.confirmed = "yes";
    jQuery(dialog).modal("hide");
    if (pending.requestSubmit) { pending.requestSubmit(); } else { pending.submit(); }
  });
})();
