/* Benchmarks page: per result file, the mean return per config with its band (95% CI or ± std);
   x = env steps when the file has them, else cycles. */
"use strict";

(function () {
  const data = readData() || {};

  function draw(el, bench) {
    if (!el || bench.error) return;
    const traces = [];
    let byFrames = true;
    bench.configs.forEach(cfg => { if (!cfg.error && !cfg.frames) byFrames = false; });
    bench.configs.forEach((cfg, i) => {
      if (cfg.error) return;
      const hex = colour(i), x = byFrames ? cfg.frames : cfg.mean.map((_, j) => j);
      if (cfg.low && cfg.high) traces.push(...bandTraces(x, cfg.low, cfg.high, hex, cfg.name));
      traces.push({x: x, y: cfg.mean, mode: "lines", legendgroup: cfg.name,
                   name: cfg.band ? `${cfg.name} (mean, ${cfg.band})` : cfg.name,
                   line: {color: hex, width: 2}});
    });
    const layout = baseLayout(byFrames ? "env steps" : "cycles", 420);
    if (typeof bench.threshold === "number") layout.shapes = [horizontalLine(bench.threshold, "threshold")];
    drawPlot(el, traces, layout);
  }

  (data.storage || []).forEach((bench, b) => draw(document.getElementById("bench-" + b), bench));
  (data.results || []).forEach((suite, s) => suite.benches.forEach(
    (bench, b) => draw(document.getElementById(`result-${s}-${b}`), bench)));
})();
