/* Benchmarks page: per benchmark file, mean return per config with its confidence band. */
"use strict";

(function () {
  const benches = readData() || [];
  benches.forEach((bench, b) => {
    const el = document.getElementById("bench-" + b);
    if (!el || bench.error) return;
    const traces = [];
    bench.configs.forEach((cfg, i) => {
      if (cfg.error) return;
      const hex = colour(i), x = cfg.mean.map((_, j) => j);
      if (cfg.low && cfg.high) traces.push(...bandTraces(x, cfg.low, cfg.high, hex, cfg.name));
      traces.push({x: x, y: cfg.mean, mode: "lines", legendgroup: cfg.name,
                   name: cfg.band ? `${cfg.name} (mean, ${cfg.band})` : cfg.name,
                   line: {color: hex, width: 2}});
    });
    const layout = baseLayout("cycles", 420);
    if (typeof bench.threshold === "number") layout.shapes = [horizontalLine(bench.threshold, "threshold")];
    drawPlot(el, traces, layout);
  });
})();
