/* Shared helpers of the monitor pages: colours, plot layout, band traces, bookmarks. */
"use strict";

const PALETTE = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed",
                 "#0891b2", "#db2777", "#65a30d", "#475569", "#ea580c"];
const PLOT_CONFIG = {displaylogo: false, responsive: true, displayModeBar: "hover",
                     modeBarButtonsToRemove: ["lasso2d", "select2d"]};

function colour(i) { return PALETTE[i % PALETTE.length]; }

function rgba(hex, alpha) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

function readData() {
  const el = document.getElementById("data");
  return el ? JSON.parse(el.textContent) : null;
}

function baseLayout(xTitle, height) {
  const axis = {zeroline: false, gridcolor: "#edf0f4", linecolor: "#cbd2dc", automargin: true};
  return {
    height: height || 280, margin: {l: 50, r: 20, t: 8, b: 36},
    xaxis: Object.assign({title: {text: xTitle, standoff: 6}}, axis),
    yaxis: Object.assign({}, axis),
    legend: {orientation: "h", x: 0, y: 1.02, yanchor: "bottom", font: {size: 11}},
    hovermode: "x unified", paper_bgcolor: "#fff", plot_bgcolor: "#fff",
    font: {family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 12, color: "#334155"},
  };
}

/* Two traces drawing a filled band between low and high (no hover, no legend). */
function bandTraces(x, low, high, hex, group, yaxis) {
  const common = {x: x, mode: "lines", line: {width: 0}, hoverinfo: "skip", showlegend: false,
                  legendgroup: group, yaxis: yaxis || "y", connectgaps: true};
  return [Object.assign({y: high}, common),
          Object.assign({y: low, fill: "tonexty", fillcolor: rgba(hex, 0.16)}, common)];
}

function horizontalLine(y, label) {
  return {type: "line", xref: "paper", x0: 0, x1: 1, yref: "y", y0: y, y1: y,
          line: {color: "#16a34a", width: 1.5, dash: "dash"}, label: {text: label,
          textposition: "end", xanchor: "right", yanchor: "bottom",
          font: {size: 10, color: "#16a34a"}}};
}

/* Draw (or redraw) a plot and record how much was drawn in data attributes. */
function drawPlot(el, traces, layout) {
  const points = traces.filter(t => t.showlegend !== false || t.hoverinfo !== "skip")
                       .reduce((n, t) => n + t.y.filter(v => v !== null).length, 0);
  return Plotly.react(el, traces, layout, PLOT_CONFIG).then(() => {
    el.dataset.points = String(points);
    el.dataset.traces = String(traces.length);
  });
}

function postForm(url) {
  return fetch(url, {method: "POST", headers: {"X-Requested-With": "fetch"},
                     credentials: "same-origin"}).then(r => {
    if (!r.ok) throw new Error(`${r.status} ${r.statusText}`);
    return r.json();
  });
}

/* Bookmark stars: toggle on the server, then update the button (and its table row). */
function setupStars() {
  document.querySelectorAll("button.star").forEach(btn => {
    btn.addEventListener("click", () => {
      postForm(btn.dataset.url).then(res => {
        btn.classList.toggle("on", res.bookmarked);
        btn.textContent = res.bookmarked ? "★" : "☆";
        const row = btn.closest("tr");
        if (row) row.dataset.bookmarked = res.bookmarked ? "1" : "0";
      }).catch(err => alert(`Bookmark failed: ${err.message}`));
    });
  });
}
document.addEventListener("DOMContentLoaded", setupStars);
