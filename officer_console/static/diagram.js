// The case's BPMN diagram (bpmn-js viewer, served from static/vendor), current steps marked.
(function () {
  var box = document.getElementById("diagram");
  if (!box || typeof BpmnJS === "undefined") { return; }
  var viewer = new BpmnJS({ container: box });
  fetch(box.dataset.src, { credentials: "same-origin" })
    .then(function (reply) { return reply.text(); })
    .then(function (xml) { return viewer.importXML(xml); })
    .then(function () {
      viewer.get("canvas").zoom("fit-viewport");
      var canvas = viewer.get("canvas");
      var registry = viewer.get("elementRegistry");
      (box.dataset.current || "").split(",").filter(Boolean).forEach(function (id) {
        if (registry.get(id)) { canvas.addMarker(id, "current"); }
      });
      box.setAttribute("data-rendered", "yes");
    })
    .catch(function (error) { box.textContent = String(error); });
})();
