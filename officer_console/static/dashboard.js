// Bar charts of the dashboard's figures (ECharts, served from static/vendor: no CDN).
(function () {
  if (typeof echarts === "undefined") { return; }
  var data = JSON.parse(document.getElementById("chart-data").textContent);
  ["item", "community"].forEach(function (key) {
    var box = document.getElementById("chart-" + key);
    var chart = echarts.init(box);
    var d = data[key];
    chart.setOption({
      tooltip: {}, legend: { data: data.labels },
      xAxis: { type: "category", data: d.names }, yAxis: { type: "value", minInterval: 1 },
      series: [
        { name: data.labels[0], type: "bar", data: d.received },
        { name: data.labels[1], type: "bar", data: d.concluded },
        { name: data.labels[2], type: "bar", data: d.overdue, itemStyle: { color: "#d9534f" } }
      ]
    });
    window.addEventListener("resize", function () { chart.resize(); });
    box.setAttribute("data-rendered", "yes");
  });
})();
