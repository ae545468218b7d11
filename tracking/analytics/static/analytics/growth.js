// Draws every <canvas class="growth-chart"> from the JSON the page embeds (json_script); no inline code.
(function () {
  "use strict";
  function data(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }
  var palette = ["#417690", "#c0504d", "#2e8b57", "#e8a33d", "#8064a2", "#4bacc6", "#f79646", "#9bbb59", "#7f7f7f", "#1f497d"];
  function trend(canvas) {
    var d = data(canvas.dataset.source);
    return new Chart(canvas, {
      data: {
        labels: d.labels,
        datasets: [
          { type: "bar", label: "Cost (" + d.currency + ")", data: d.cost, backgroundColor: "#c0504d", yAxisID: "y" },
          { type: "line", label: "Revenue (" + d.currency + ")", data: d.revenue, borderColor: "#2e8b57", backgroundColor: "#2e8b57", pointRadius: 1, tension: 0.2, yAxisID: "y" },
          { type: "line", label: "Sessions", data: d.sessions, borderColor: "#417690", backgroundColor: "#417690", pointRadius: 0, borderDash: [4, 3], yAxisID: "y2" }
        ]
      },
      options: {
        animation: false, maintainAspectRatio: false, interaction: { mode: "index", intersect: false },
        scales: { y: { beginAtZero: true, position: "left" }, y2: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false } } }
      }
    });
  }
  function curves(canvas) {
    var d = data(canvas.dataset.source);
    var sets = d.series.map(function (s, i) {
      var c = palette[i % palette.length];
      return { label: s.label, data: s.values, borderColor: c, backgroundColor: c, tension: 0.2, spanGaps: false };
    });
    return new Chart(canvas, {
      type: "line",
      data: { labels: d.labels, datasets: sets },
      options: { animation: false, maintainAspectRatio: false, scales: { y: { beginAtZero: true, title: { display: true, text: d.y } }, x: { title: { display: true, text: d.x } } } }
    });
  }
  function histogram(canvas) {
    var d = data(canvas.dataset.source);
    return new Chart(canvas, {
      type: "bar",
      data: { labels: d.labels, datasets: [{ label: d.label, data: d.values, backgroundColor: "#417690" }] },
      options: { animation: false, maintainAspectRatio: false, plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true }, x: { title: { display: true, text: d.x } } } }
    });
  }
  function draw() {
    document.querySelectorAll("canvas.growth-chart").forEach(function (canvas) {
      var kind = canvas.dataset.chart;
      if (kind === "trend") trend(canvas);
      else if (kind === "curves") curves(canvas);
      else if (kind === "histogram") histogram(canvas);
      canvas.dataset.drawn = "yes";
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
