/* Experiment page: one plotly plot per panel; polls for new cycles while the run is live. */
"use strict";

(function () {
  const data = readData();
  const xSelect = document.getElementById("xaxis");
  const POLL_MS = 5000;
  let cols = data.columns, count = data.count, gen = data.gen;

  function hasData(key) { return (cols[key] || []).some(v => v !== null); }

  /* x positions of the cycles at which the run was (re)started, after the first one. */
  function resumeXs(xkey) {
    const its = cols.iteration || [], xs = cols[xkey] || [];
    return data.resumed_at.filter(it => it > 0).map(it => {
      const i = its.findIndex(v => v !== null && v >= it);
      return i < 0 ? null : xs[i];
    }).filter(x => x !== null && x !== undefined);
  }

  function panelTraces(panel, xkey) {
    const x = cols[xkey] || [];
    const traces = [];
    panel.traces.forEach((spec, i) => {
      if (!hasData(spec.key)) return;
      const y = cols[spec.key], hex = colour(i), yaxis = spec.y2 ? "y2" : "y";
      if (spec.band && hasData(spec.band)) {
        const s = cols[spec.band];
        const low = y.map((v, j) => v === null || s[j] === null ? null : v - s[j]);
        const high = y.map((v, j) => v === null || s[j] === null ? null : v + s[j]);
        traces.push(...bandTraces(x, low, high, hex, spec.key, yaxis));
      }
      const markers = spec.mode === "markers";
      traces.push({x: x, y: y, name: spec.name, mode: spec.mode || "lines", yaxis: yaxis,
                   legendgroup: spec.key, connectgaps: !markers,
                   line: {color: hex, width: 1.6}, marker: {color: hex, size: 6}});
    });
    return traces;
  }

  function panelLayout(panel, traces, xkey) {
    const layout = baseLayout(data.x_labels[xkey]);
    if (traces.some(t => t.yaxis === "y2")) {
      layout.yaxis2 = {overlaying: "y", side: "right", showgrid: false, zeroline: false, automargin: true};
      layout.margin.r = 50;
    }
    if (panel.marks) {
      layout.shapes = [];
      if (typeof data.threshold === "number") layout.shapes.push(horizontalLine(data.threshold, "threshold"));
      layout.annotations = [];
      resumeXs(xkey).forEach(x => {
        layout.shapes.push({type: "line", yref: "paper", y0: 0, y1: 1, x0: x, x1: x,
                            line: {color: "#94a3b8", width: 1, dash: "dot"}});
        layout.annotations.push({x: x, y: 0, yref: "paper", yanchor: "bottom", xanchor: "left",
                                 text: "resumed", showarrow: false, font: {size: 10, color: "#64748b"}});
      });
    }
    return layout;
  }

  function drawAll() {
    const xkey = xSelect.value;
    data.panels.forEach(panel => {
      const box = document.getElementById("panel-" + panel.id);
      const traces = panelTraces(panel, xkey);
      box.hidden = traces.length === 0;
      if (traces.length) drawPlot(document.getElementById("plot-" + panel.id), traces, panelLayout(panel, traces, xkey));
    });
    document.body.dataset.records = String(count);
  }

  function merge(update) {
    if (update.reset) { cols = update.columns; count = update.count; return; }
    const added = update.count - count;
    if (added <= 0) return;
    const keys = new Set([...Object.keys(cols), ...Object.keys(update.columns)]);
    keys.forEach(k => {
      const old = cols[k] || new Array(count).fill(null);
      const extra = update.columns[k] || new Array(added).fill(null);
      cols[k] = old.concat(extra);
    });
    count = update.count;
  }

  function poll() {
    const genArg = gen === null || gen === undefined ? "" : `&gen=${gen}`;
    fetch(`${data.progress_url}?since=${count}${genArg}`, {credentials: "same-origin"})
      .then(r => r.json())
      .then(update => {
        const changed = update.reset || update.count !== count;
        merge(update);
        gen = update.gen;
        if (changed) drawAll();
        const badge = document.getElementById("status");
        const cycles = document.getElementById("cycles");
        const last = (cols.iteration || []).filter(v => v !== null).pop();
        if (cycles && last !== undefined) cycles.textContent = String(last + 1);
        if (!update.running) {
          badge.textContent = update.status || "finished";
          badge.className = "badge " + (update.status === "running" ? "stalled" : update.status);
          return;
        }
        setTimeout(poll, POLL_MS);
      })
      .catch(() => setTimeout(poll, 4 * POLL_MS));
  }

  xSelect.addEventListener("change", drawAll);
  drawAll();
  if (data.running) setTimeout(poll, POLL_MS);
})();
