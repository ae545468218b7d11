// Draws every <canvas class="behaviour-chart"> from the JSON the page embeds (json_script); no inline code.
(function () {
  "use strict";
  var C = { blue: "#417690", light: "#79aec8", orange: "#e8a33d", red: "#c0504d", green: "#2e8b57" };
  function data() {
    var el = document.getElementById("behaviour-charts");
    return el ? JSON.parse(el.textContent) : {};
  }
  function bar(canvas, labels, sets, horizontal) {
    return new Chart(canvas, {
      type: "bar",
      data: { labels: labels, datasets: sets },
      options: { indexAxis: horizontal ? "y" : "x", animation: false, responsive: true, maintainAspectRatio: false,
                 plugins: { legend: { display: sets.length > 1 } }, scales: { x: { beginAtZero: true }, y: { beginAtZero: true } } }
    });
  }
  function line(canvas, labels, sets, percent) {
    return new Chart(canvas, {
      type: "line",
      data: { labels: labels, datasets: sets },
      options: { animation: false, responsive: true, maintainAspectRatio: false, interaction: { mode: "index", intersect: false },
                 scales: { y: { beginAtZero: true, max: percent ? 1 : undefined,
                                ticks: percent ? { callback: function (v) { return Math.round(v * 100) + "%"; } } : {} } } }
    });
  }
  function ds(label, values, colour, extra) {
    var d = { label: label, data: values, borderColor: colour, backgroundColor: colour, tension: 0.2, pointRadius: 2 };
    for (var k in extra || {}) d[k] = extra[k];
    return d;
  }
  var draw = {
    funnel: function (c, d) {
      var sets = [ds("This range", d.funnel.values, C.blue)];
      if (d.funnel.compare) sets.push(ds("Compared range", d.funnel.compare, C.orange));
      return bar(c, d.funnel.labels, sets, true);
    },
    ttc: function (c, d) { return bar(c, d.ttc.labels, [ds("Profiles", d.ttc.values, C.green)]); },
    daily: function (c, d) {
      return line(c, d.daily.labels, [ds("Entered", d.daily.entered, C.blue), ds("Converted", d.daily.converted, C.green)]);
    },
    curve: function (c, d) { return line(c, d.curve.labels, [ds("Returned", d.curve.values, C.blue)], true); },
    keywords: function (c, d) {
      return bar(c, d.keywords.labels, [ds("Searches", d.keywords.searches, C.blue), ds("Zero results", d.keywords.zero, C.red)]);
    },
    trend: function (c, d) {
      return line(c, d.trend.labels, [ds("Impressions", d.trend.impressions, C.light), ds("Clicks", d.trend.clicks, C.red)]);
    },
    lift: function (c, d) { return bar(c, d.lift.labels, [ds("Lift", d.lift.values, C.orange)], true); },
    conversion: function (c, d) {
      return bar(c, d.conversion.labels, [ds("Product", d.conversion.product, C.blue), ds("Category baseline", d.conversion.baseline, C.light)]);
    }
  };
  function all() {
    var d = data();
    document.querySelectorAll("canvas.behaviour-chart").forEach(function (canvas) {
      var kind = canvas.dataset.chart;
      if (draw[kind] && d[kind]) { draw[kind](canvas, d); canvas.dataset.drawn = "yes"; }
    });
    var more = document.getElementById("more-steps");
    if (more) {
      var spare = document.querySelectorAll("tr.step-row.spare");
      if (!spare.length) more.hidden = true;
      more.addEventListener("click", function () {
        var next = document.querySelector("tr.step-row.spare");
        if (next) next.classList.remove("spare");
        if (!document.querySelector("tr.step-row.spare")) more.hidden = true;
      });
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", all);
  else all();
})();
