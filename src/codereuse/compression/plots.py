"""PNG plots: the search's Pareto front, and size / latency / accuracy of teacher and students."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def search_plot(evaluated: list, front: list, budget_mb: float, path: Path) -> Path:
    """Every evaluated architecture (GFLOPs vs size, or vs latency when measured); the front marked."""
    latency = all(i.latency_ms is not None for i in evaluated)
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    x = [i.latency_ms if latency else i.size_mb for i in evaluated]
    ax.scatter(x, [i.gflops for i in evaluated], s=12, c=[i.generation for i in evaluated], cmap="viridis",
               label="evaluated (colour = generation)")
    if front:
        ordered = sorted(front, key=lambda i: i.latency_ms if latency else i.size_mb)
        ax.plot([i.latency_ms if latency else i.size_mb for i in ordered], [i.gflops for i in ordered], "r-o",
                ms=4, label="Pareto front (size, latency, GFLOPs)")
    if not latency:
        ax.axvline(budget_mb, color="grey", ls="--", label=f"budget {budget_mb:g} MB")
    ax.set_xlabel("CPU latency at batch 1 (ms)" if latency else "fp32 size (MB)")
    ax.set_ylabel("GFLOPs at the task's length")
    ax.set_title("architecture search")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def models_plot(rows: dict[str, dict], path: Path) -> Path:
    """Size vs batch-1 latency (log-log) of teacher and students, labelled with test accuracy."""
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for name, row in rows.items():
        ax.scatter(row["size_mb"], row["latency_b1_ms"], s=40)
        ax.annotate(f"{name}\nacc {row['accuracy']:.3f}", (row["size_mb"], row["latency_b1_ms"]), fontsize=8,
                    xytext=(5, 5), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("size on disk (MB)")
    ax.set_ylabel("CPU latency at batch 1 (ms)")
    ax.set_title("teacher vs students: size, latency, accuracy")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
