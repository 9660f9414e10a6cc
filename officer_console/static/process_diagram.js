// Read-only process diagrams (bpmn-js navigated viewer, from static/vendor): each fits its box;
// drag to move, scroll or the buttons to zoom; elements named in data-markers get a CSS class
// (the comparison of two versions marks what was added, changed or removed).
(function () {
  if (typeof BpmnJS === "undefined") { return; }
  window.huijuDiagrams = window.huijuDiagrams || {};
  document.querySelectorAll(".process-diagram").forEach(function (box) {
    var viewer = new BpmnJS({ container: box });
    window.huijuDiagrams[box.id] = viewer;
    var markers = {};
    try { markers = JSON.parse(box.dataset.markers || "{}"); } catch (error) { markers = {}; }
    fetch(box.dataset.src, { credentials: "same-origin" })
      .then(function (reply) {
        if (!reply.ok) { throw new Error(reply.status + " " + reply.statusText); }
        return reply.text();
      })
      .then(function (xml) { return viewer.importXML(xml); })
      .then(function () {
        var canvas = viewer.get("canvas");
        var registry = viewer.get("elementRegistry");
        canvas.zoom("fit-viewport", "auto");
        Object.keys(markers).forEach(function (id) {
          if (registry.get(id)) { canvas.addMarker(id, markers[id]); }
        });
        box.setAttribute("data-rendered", "yes");
      })
      .catch(function (error) { box.textContent = String(error); box.setAttribute("data-rendered", "error"); });
  });
  document.querySelectorAll(".diagram-tools").forEach(function (tools) {
    tools.addEventListener("click", function (event) {
      var button = event.target.closest("[data-zoom]");
      var viewer = window.huijuDiagrams[tools.dataset.for];
      if (!button || !viewer) { return; }
      var canvas = viewer.get("canvas");
      var how = button.dataset.zoom;
      if (how === "fit") { canvas.zoom("fit-viewport", "auto"); return; }
      var level = canvas.zoom();
      canvas.zoom(how === "in" ? level * 1.25 : level / 1.25);
    });
  });
})();
