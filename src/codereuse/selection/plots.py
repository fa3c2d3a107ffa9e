"""Selection plots: each scorer's score against the fine-tuned ground truth, and a layer curve."""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def score_vs_truth(path: Path, scores: dict[str, dict[str, float]], truth: dict[str, float],
                   controls: set[str], evaluation: dict[str, dict], metric: str) -> Path:
    names = [n for n in scores if any(c in truth for c in scores[n])]
    columns = min(4, len(names)) or 1
    rows = math.ceil(len(names) / columns) or 1
    figure, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 2.8 * rows), squeeze=False)
    for axis, name in zip(axes.flat, names):
        points = [(scores[name][c], truth[c], c in controls) for c in truth if scores[name].get(c) is not None]
        for x, y, control in points:
            axis.scatter(x, y, c="tab:red" if control else "tab:blue", s=18, marker="x" if control else "o")
        tau = evaluation.get(name, {}).get("weighted_tau")
        axis.set_title(f"{name}  wtau={'n/a' if tau is None else f'{tau:.2f}'}", fontsize=9)
        axis.tick_params(labelsize=7)
    for axis in list(axes.flat)[len(names):]:
        axis.axis("off")
    figure.supxlabel("score (x = control candidate)", fontsize=9)
    figure.supylabel(f"fine-tuned {metric}", fontsize=9)
    return _save(figure, path)


def layer_plot(path: Path, curves: dict[str, dict[int, float]], model: str, suggestion: dict) -> Path:
    figure, axes = plt.subplots(1, len(curves), figsize=(3.2 * len(curves), 2.8), squeeze=False)
    for axis, (name, curve) in zip(axes.flat, curves.items()):
        axis.plot(list(curve), list(curve.values()), marker="o")
        axis.axvline(suggestion["best_layer"], color="tab:gray", linestyle="--")
        axis.set_title(name, fontsize=9)
        axis.set_xlabel("layer (0 = embeddings)", fontsize=8)
    figure.suptitle(f"{model}: per-layer scores; suggested freeze={suggestion['freeze']}", fontsize=10)
    return _save(figure, path)


def _save(figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
