// rcmflow UI: the little JavaScript the pages need. Everything works without it except the charts, whose
// figures are also in a table under each chart.
(function () {
  "use strict";

  // "Select all" checkboxes: <input type="checkbox" data-select-all="NAME"> toggles every checkbox NAME.
  document.querySelectorAll("input[data-select-all]").forEach(function (master) {
    master.addEventListener("change", function () {
      var form = master.form || document;
      form.querySelectorAll('input[type="checkbox"][name="' + master.dataset.selectAll + '"]').forEach(function (box) {
        box.checked = master.checked;
      });
    });
  });

  // Charts: <div data-chart="ID"> with <script type="application/json" id="ID">{data, layout}</script>.
  function drawCharts() {
    if (!window.Plotly) { return; }
    document.querySelectorAll("[data-chart]").forEach(function (target) {
      var spec = JSON.parse(document.getElementById(target.dataset.chart).textContent);
      var layout = Object.assign({margin: {l: 48, r: 16, t: 8, b: 40}, font: {family: "system-ui, sans-serif", size: 12},
        paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)", autosize: true}, spec.layout || {});
      window.Plotly.newPlot(target, spec.data, layout, {displayModeBar: false, responsive: true, staticPlot: !!spec.static,
        // Map traces would fetch topojson from cdn.plot.ly; none is drawn, and none may reach the internet.
        topojsonURL: "/ui/vendor/topojson/"});
      // A click on a bar drills down to the list behind it (customdata carries its address).
      target.on("plotly_click", function (event) {
        var point = event.points && event.points[0];
        if (point && typeof point.customdata === "string" && point.customdata.indexOf("/ui/") === 0) {
          window.location.assign(point.customdata);
        }
      });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawCharts);
  } else {
    drawCharts();
  }
}());
