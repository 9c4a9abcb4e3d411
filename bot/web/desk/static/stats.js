// The statistics chart: per county, received, resolved and escalations.
(function () {
  "use strict";
  var canvas = document.getElementById("county-chart");
  if (!canvas) return;
  var data = JSON.parse(canvas.dataset.chart);
  var colours = ["#1f5f4a", "#f2c14e", "#d9534f"];
  var chart = new Chart(canvas, {
    type: "bar",
    data: {
      labels: data.labels,
      datasets: data.series.map(function (s, i) {
        return { label: s.label, data: s.data, backgroundColor: colours[i % colours.length] };
      })
    },
    options: {
      maintainAspectRatio: false,
      animation: false,
      plugins: { legend: { position: "bottom" } },
      scales: { y: { beginAtZero: true, ticks: { precision: 0 } } }
    }
  });
  canvas.dataset.rendered = String(chart.data.datasets.length);
})();
