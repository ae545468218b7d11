// Draws every <canvas class="report-chart"> from the JSON the page embeds (json_script); no inline code.
(function () {
  "use strict";
  function data(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }
  var colours = { sent: "#417690", delivered: "#79aec8", opens: "#e8a33d", clicks: "#c0504d", conversions: "#2e8b57" };
  function spark(canvas, src) {
    var d = (data(src) || {})[canvas.dataset.source] || { labels: [], sent: [], conversions: [] };
    return new Chart(canvas, {
      data: {
        labels: d.labels,
        datasets: [
          { type: "line", data: d.sent, borderColor: colours.sent, borderWidth: 1.5, pointRadius: 0, yAxisID: "y" },
          { type: "bar", data: d.conversions, backgroundColor: colours.conversions, yAxisID: "y2" }
        ]
      },
      options: {
        responsive: false, animation: false,
        plugins: { legend: { display: false }, tooltip: { enabled: true } },
        scales: { x: { display: false }, y: { display: false, beginAtZero: true }, y2: { display: false, beginAtZero: true } }
      }
    });
  }
  function funnel(canvas) {
    var d = data(canvas.dataset.source).funnel;
    return new Chart(canvas, {
      type: "bar",
      data: { labels: d.labels, datasets: [{ label: "People", data: d.values, backgroundColor: "#417690" }] },
      options: { indexAxis: "y", animation: false, plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true } } }
    });
  }
  function series(canvas) {
    var d = data(canvas.dataset.source).series;
    var sets = ["sent", "delivered", "opens", "clicks", "conversions"].map(function (k) {
      // A range of one or two buckets has no line to draw: show the points big enough to see.
      return { label: k, data: d[k], borderColor: colours[k], backgroundColor: colours[k], tension: 0.2, pointRadius: d.labels.length < 3 ? 6 : 2 };
    });
    return new Chart(canvas, {
      type: "line",
      data: { labels: d.labels, datasets: sets },
      options: { animation: false, interaction: { mode: "index", intersect: false }, scales: { y: { beginAtZero: true } } }
    });
  }
  function draw() {
    document.querySelectorAll("canvas.report-chart").forEach(function (canvas) {
      var kind = canvas.dataset.chart;
      if (kind === "spark") spark(canvas, "report-sparks");
      else if (kind === "funnel") funnel(canvas);
      else if (kind === "series") series(canvas);
      canvas.dataset.drawn = "yes";
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
