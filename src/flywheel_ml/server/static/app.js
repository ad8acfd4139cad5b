// Flywheel UI: progressive enhancement only. Every page is complete without this file; it adds
// the dark/light toggle, interactive plotly charts in place of the server-drawn SVGs, and
// run selection for "compare".
(function () {
  "use strict";
  var root = document.documentElement;

  function currentTheme() {
    if (root.dataset.theme) return root.dataset.theme;
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }

  var toggle = document.getElementById("theme-toggle");
  if (toggle) {
    toggle.hidden = false;
    toggle.addEventListener("click", function () {
      var next = currentTheme() === "dark" ? "light" : "dark";
      root.dataset.theme = next;
      try { localStorage.setItem("flywheel-theme", next); } catch (e) { /* ignore */ }
      drawCharts(true);
    });
  }

  // -- charts: the JSON beside each server-drawn SVG is drawn again with plotly.js -----------
  var charts = document.querySelectorAll("figure.chart");
  var plotlyLoading = null;

  function loadPlotly() {
    if (window.Plotly) return Promise.resolve(window.Plotly);
    if (!plotlyLoading) {
      plotlyLoading = new Promise(function (resolve, reject) {
        var s = document.createElement("script");
        s.src = "/static/vendor/plotly.min.js";
        s.onload = function () { resolve(window.Plotly); };
        s.onerror = reject;
        document.head.appendChild(s);
      });
    }
    return plotlyLoading;
  }

  function cssVar(name) {
    return getComputedStyle(root).getPropertyValue(name).trim();
  }

  function drawCharts(redraw) {
    if (!charts.length) return;
    loadPlotly().then(function (Plotly) {
      charts.forEach(function (fig) {
        var node = fig.querySelector(".chart-data");
        if (!node) return;
        var spec = JSON.parse(node.textContent);
        var target = fig.querySelector(".chart-plot");
        if (!target) {
          target = document.createElement("div");
          target.className = "chart-plot";
          fig.insertBefore(target, fig.firstChild);
        }
        var fg = cssVar("--fg"), grid = cssVar("--line");
        var layout = Object.assign({
          paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
          font: { color: fg, family: cssVar("--font") || "system-ui", size: 12 },
          margin: { l: 56, r: 16, t: 28, b: 44 }, height: spec.height || 320,
          legend: { orientation: "h", y: -0.2 },
          xaxis: { gridcolor: grid, zerolinecolor: grid, title: { text: spec.x_title || "" } },
          yaxis: { gridcolor: grid, zerolinecolor: grid, title: { text: spec.y_title || "" } },
          hovermode: "x unified"
        }, spec.layout || {});
        var traces = spec.traces.map(function (t) {
          return Object.assign({ type: "scatter", mode: "lines", line: { width: 1.6 } }, t);
        });
        var config = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["toImage"] };
        (redraw ? Plotly.react : Plotly.newPlot)(target, traces, layout, config).then(function () {
          fig.classList.add("live");
        });
      });
    }).catch(function (err) { console.warn("chart not drawn; the SVG stays:", err); });
  }
  drawCharts(false);

  // -- compare: tick runs in the table, then compare them ------------------------------------
  // The checkboxes and the button sit in the table, tied to the form by their form= attribute.
  var compareForm = document.getElementById("compare-form");
  if (compareForm) {
    var button = document.querySelector("button[form=compare-form]");
    var update = function () {
      var n = document.querySelectorAll("input[form=compare-form][name=run]:checked").length;
      if (button) {
        button.disabled = n < 2;
        button.textContent = n < 2 ? "Tick 2+ runs to compare" : "Compare " + n + " runs";
      }
    };
    document.addEventListener("change", function (event) {
      if (event.target && event.target.getAttribute("form") === "compare-form") update();
    });
    update();
  }
})();
