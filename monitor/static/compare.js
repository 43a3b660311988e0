/* Compare page: return curves of several experiments, grouped by config (mean +- std over seeds)
   or by experiment group (mean and 95% confidence band). */
"use strict";

(function () {
  const data = readData();
  const el = document.getElementById("compare-plot");
  const xSelect = document.getElementById("xaxis");
  const showRuns = document.getElementById("show-runs");
  if (!el) return;

  document.querySelectorAll(".swatch").forEach(s => {
    s.style.background = colour(Number(s.dataset.group));
  });

  function groupTraces(group, i, xkey) {
    const hex = colour(i), agg = group.agg[xkey], traces = [];
    const lg = "g" + i;
    if (agg) {
      traces.push(...bandTraces(agg.x, agg.low, agg.high, hex, lg));
      traces.push({x: agg.x, y: agg.mean, mode: "lines", legendgroup: lg,
                   name: `${group.label} (mean, ${group.band}, ${group.runs.length} runs)`,
                   line: {color: hex, width: 2.4}});
    }
    if (!agg || showRuns.checked) {
      group.runs.forEach(run => traces.push({
        x: run[xkey], y: run.y, mode: "lines", legendgroup: lg,
        name: agg ? run.id : `${group.label} · ${run.id}`, showlegend: !agg,
        opacity: agg ? 0.35 : 1, line: {color: hex, width: agg ? 1 : 2}}));
    }
    return traces;
  }

  function draw() {
    const xkey = xSelect.value;
    const traces = data.groups.flatMap((g, i) => groupTraces(g, i, xkey));
    const layout = baseLayout(data.x_labels[xkey], 520);
    layout.hovermode = "closest";
    const thresholds = new Set(data.groups.map(g => g.threshold));
    const t = data.groups.length ? data.groups[0].threshold : null;
    if (thresholds.size === 1 && typeof t === "number") layout.shapes = [horizontalLine(t, "threshold")];
    drawPlot(el, traces, layout).then(() => {
      el.dataset.curves = String(data.groups.reduce((n, g) => n + (g.agg[xkey] ? 1 : g.runs.length), 0));
      el.dataset.groups = String(data.groups.length);
    });
  }

  xSelect.addEventListener("change", draw);
  showRuns.addEventListener("change", draw);
  draw();
})();
