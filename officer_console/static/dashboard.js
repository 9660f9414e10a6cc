// The dashboard's charts (ECharts, served from static/vendor: no CDN). Each chart is an image for
// assistive technology (role="img" with a label); the tables beside them carry the same figures.
(function () {
  if (typeof echarts === "undefined") { return; }
  var data = JSON.parse(document.getElementById("chart-data").textContent);
  function draw(id, option) {
    var box = document.getElementById(id);
    if (!box) { return; }
    var chart = echarts.init(box);
    chart.setOption(option);
    window.addEventListener("resize", function () { chart.resize(); });
    box.setAttribute("data-rendered", "yes");
  }
  ["item", "community"].forEach(function (key) {
    var d = data[key];
    draw("chart-" + key, {
      tooltip: {}, legend: { data: data.labels },
      xAxis: { type: "category", data: d.names }, yAxis: { type: "value", minInterval: 1 },
      series: [
        { name: data.labels[0], type: "bar", data: d.received, itemStyle: { color: "#245f96" } },
        { name: data.labels[1], type: "bar", data: d.concluded, itemStyle: { color: "#2a5a2b" } },
        { name: data.labels[2], type: "bar", data: d.overdue, itemStyle: { color: "#b52b27" } }
      ]
    });
  });
  ["rating_item", "rating_community"].forEach(function (key) {
    var d = data[key];
    draw(key === "rating_item" ? "chart-rating-item" : "chart-rating-community", {
      tooltip: {}, xAxis: { type: "category", data: d.names },
      yAxis: { type: "value", min: 0, max: 100, name: data.rate_label },
      series: [{ name: data.rate_label, type: "bar", data: d.rates, itemStyle: { color: "#245f96" },
                 label: { show: true, position: "top", formatter: "{c}%" } }]
    });
  });
  var f = data.follow_up;
  draw("chart-follow-up", {
    tooltip: { trigger: "item" }, legend: { data: f.labels },
    series: [{ type: "pie", radius: ["40%", "70%"], data: [
      { name: f.labels[0], value: f.on_time, itemStyle: { color: "#2a5a2b" } },
      { name: f.labels[1], value: f.late, itemStyle: { color: "#b52b27" } }
    ] }]
  });
})();
