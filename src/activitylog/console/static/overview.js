// The Overview page's charts: uPlot (vendor/) draws the series the page carries in the
// data-series attribute of .overview-data (JSON), again each time htmx swaps the
// live part in, when the window is resized, and when the system turns dark or light (the
// colours are the style sheet's, read from its custom properties). The same numbers are in
// the page as text and tables; a chart adds nothing they do not say.
"use strict";

(function () {
  var charts = [];

  function palette() {
    var style = getComputedStyle(document.documentElement);
    function read(name) {
      return style.getPropertyValue(name).trim();
    }
    return {
      fg: read("--fg"), muted: read("--muted"), line: read("--line"), accent: read("--accent"),
      SUCCEED: read("--succeed"), WARN: read("--warn"), FAILED: read("--failed"),
    };
  }

  function axis(colors, more) {
    var base = {
      stroke: colors.muted,
      grid: { stroke: colors.line, width: 1 },
      ticks: { stroke: colors.line, width: 1 },
    };
    return Object.assign(base, more || {});
  }

  function whole(u, splits) {
    return splits.map(function (v) { return Number.isInteger(v) ? String(v) : ""; });
  }

  function throughput(data, colors) {
    var series = [{}, { label: "started", stroke: colors.accent, width: 2, points: { show: false } }];
    var values = [data.times, data.started];
    Object.keys(data.ended).forEach(function (status) {
      series.push({ label: "ended " + status, stroke: colors[status], width: 2,
                    points: { show: false } });
      values.push(data.ended[status]);
    });
    return {
      options: {
        series: series,
        scales: { y: { range: function (u, min, max) { return [0, Math.max(1, max)]; } } },
        axes: [axis(colors), axis(colors, { values: whole })],
      },
      data: values,
    };
  }

  function failureRate(data, colors) {
    return {
      options: {
        series: [{}, { label: "failure rate %", stroke: colors.FAILED, width: 2,
                       points: { show: true, size: 5 } }],
        scales: { y: { range: [0, 100] } },
        axes: [axis(colors), axis(colors, { size: 56, values: function (u, splits) {
          return splits.map(function (v) { return v + " %"; });
        } })],
      },
      data: [data.times, data.failureRate],
    };
  }

  function durations(data, colors) {
    var names = data.operations;
    var places = names.map(function (name, i) { return i; });
    var bars = uPlot.paths.bars;
    return {
      options: {
        series: [
          {},
          { label: "p50 (s)", stroke: colors.accent, fill: colors.accent,
            paths: bars({ size: [0.35, 80], align: -1 }) },
          { label: "p95 (s)", stroke: colors.muted, fill: colors.muted,
            paths: bars({ size: [0.35, 80], align: 1 }) },
        ],
        scales: {
          x: { time: false, range: [-0.6, names.length - 0.4] },
          y: { range: function (u, min, max) { return [0, Math.max(1, max) * 1.1]; } },
        },
        axes: [
          axis(colors, { incrs: [1], values: function (u, splits) {
            return splits.map(function (v) { return names[v] || ""; });
          } }),
          axis(colors, { values: function (u, splits) {
            return splits.map(function (v) { return v + " s"; });
          } }),
        ],
      },
      data: [places, data.p50, data.p95],
    };
  }

  var BUILDERS = { "throughput": throughput, "failure-rate": failureRate, "durations": durations };

  function draw() {
    charts.forEach(function (chart) { chart.destroy(); });
    charts = [];
    var block = document.querySelector(".overview-data");
    if (!block || typeof uPlot === "undefined") {
      return;
    }
    var data = JSON.parse(block.getAttribute("data-series"));
    var colors = palette();
    document.querySelectorAll("[data-chart]").forEach(function (target) {
      var built = BUILDERS[target.getAttribute("data-chart")](data, colors);
      var options = Object.assign(built.options, {
        width: target.clientWidth,
        height: 220,
        legend: { show: false },  // the page's keys and tables say it, in text
        cursor: { drag: { x: false, y: false } },
      });
      charts.push(new uPlot(options, built.data, target));
    });
  }

  function resize() {
    charts.forEach(function (chart) {
      chart.setSize({ width: chart.root.parentNode.clientWidth, height: 220 });
    });
  }

  var resizing = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizing);
    resizing = setTimeout(resize, 150);
  });
  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.target.id === "overview-live") {
      draw();
    }
  });
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", draw);
})();
