"""PNG plots of the analyses (matplotlib, Agg backend: no display needed)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def _plt() -> Any:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _grid(n: int, width: int = 4) -> tuple[int, int]:
    cols = min(width, max(1, n))
    return int(np.ceil(n / cols)), cols


def _save(fig: Any, path: Path, title: str | None = None, axes: Any = None, used: int = 0) -> Path:
    """Blank the grid's axes past the first `used`, add the title, write the PNG and close the figure."""
    if axes is not None:
        for ax in list(axes.flat)[used:]:
            ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    _plt().close(fig)
    return path


def plot_pca(result: dict[str, dict[str, Any]], episode: np.ndarray, step: np.ndarray, path: Path,
             episodes: int = 3) -> Path:
    """Per layer: the top 3 principal components over time for the first episodes, and the variance spectrum."""
    plt = _plt()
    names = [n for n in result if result[n]["projection"].shape[1]]
    rows, cols = _grid(len(names))
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        proj, ratio = result[name]["projection"], result[name]["explained_variance_ratio"]
        for e in np.unique(episode)[:episodes]:
            rows_e = episode == e
            for k in range(proj.shape[1]):
                ax.plot(step[rows_e], proj[rows_e, k], color=f"C{k}", alpha=0.8, lw=1,
                        label=f"PC{k + 1} ({100 * ratio[k]:.0f}%)" if e == episode.min() else None)
        ax.set_title(f"{name}  (dim {result[name]['dimension']:.1f})", fontsize=8)
        ax.set_xlabel("step", fontsize=7)
        ax.legend(fontsize=6)
        ax.tick_params(labelsize=6)
    return _save(fig, path, "PCA of each layer's activity over time (first episodes)", axes, len(names))


def plot_matrix(matrix: np.ndarray, rows: list[str], cols: list[str], title: str, path: Path,
                vmin: float = 0.0, vmax: float = 1.0, cmap: str = "viridis") -> Path:
    """A labelled heatmap with the values written in the cells."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(1.2 + 0.7 * len(cols), 1.0 + 0.45 * len(rows)))
    image = ax.imshow(np.nan_to_num(matrix, nan=vmin), vmin=vmin, vmax=vmax, cmap=cmap, aspect="auto")
    ax.set_xticks(range(len(cols)), cols, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(rows)), rows, fontsize=7)
    for i in range(len(rows)):
        for j in range(len(cols)):
            value = matrix[i, j]
            ax.text(j, i, "-" if not np.isfinite(value) else f"{value:.2f}", ha="center", va="center",
                    fontsize=6, color="w" if np.isfinite(value) and value < (vmin + vmax) / 2 else "k")
    fig.colorbar(image, ax=ax)
    ax.set_title(title, fontsize=9)
    return _save(fig, path)


def plot_weights(arrays: list[tuple[str, np.ndarray]], path: Path) -> Path:
    """Histogram of every kernel (weight arrays with 2 or more dimensions)."""
    plt = _plt()
    kernels = [(n, w) for n, w in arrays if np.ndim(w) >= 2]
    rows, cols = _grid(len(kernels))
    fig, axes = plt.subplots(rows, cols, figsize=(3.5 * cols, 2.5 * rows), squeeze=False)
    for ax, (name, w) in zip(axes.flat, kernels):
        w = np.ravel(w)
        ax.hist(w, bins=50, color="C0")
        ax.set_title(f"{name}\nstd {w.std():.3f}", fontsize=7)
        ax.tick_params(labelsize=6)
    return _save(fig, path, "weight distributions", axes, len(kernels))
