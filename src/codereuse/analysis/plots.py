"""PNG plots of layer tables: a probe heatmap and drift curves.

Figures are built with matplotlib's object API on the Agg canvas, never through pyplot, so no
GUI backend is touched and a caller's own pyplot state is left alone.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from codereuse.analysis.table import LayerTable


def save(table: LayerTable, out_dir: str | Path) -> dict[str, str]:
    """``<kind>.json``, ``<kind>.csv`` and ``<kind>.png`` in ``out_dir``; returns their paths."""
    files = table.write(out_dir)
    png = Path(out_dir) / f"{table.kind}.png"
    plot(table, png)
    return {**files, "png": str(png)}


def plot(table: LayerTable, path: str | Path) -> None:
    figure = {"probes": probe_heatmap, "drift": drift_curves}[table.kind](table)
    FigureCanvasAgg(figure)
    figure.savefig(path, dpi=120, bbox_inches="tight")


def probe_heatmap(table: LayerTable) -> Figure:
    """Layers (bottom: embeddings) x properties; cells annotated with the scores, the best layer of
    each property in bold. Colour is relative within each property, since the properties' scales
    differ (a near-ceiling lexical probe would otherwise look uniform)."""
    metrics, baselines = table.info["metrics"], table.info["baselines"]
    columns = list(metrics)
    scores = np.array([table.values[c] for c in columns], dtype=float).T  # (layers, properties)
    low, high = np.nanmin(scores, axis=0), np.nanmax(scores, axis=0)
    relative = (scores - low) / np.where(high > low, high - low, 1.0)
    figure = Figure(figsize=(2.1 * len(columns) + 2.5, 0.55 * len(table.layers) + 2.2))
    axes = figure.add_subplot()
    image = axes.imshow(relative, cmap="viridis", origin="lower", aspect="auto", vmin=0, vmax=1)
    for row in range(scores.shape[0]):
        for col in range(scores.shape[1]):
            best = scores[row, col] == high[col]
            axes.text(col, row, f"{scores[row, col]:.3f}", ha="center", va="center",
                      color="black" if relative[row, col] > 0.6 else "white", fontweight="bold" if best else "normal")
    bag_of_words = (table.info.get("semantic") or {}).get("bag_of_words_map")
    labels = [f"{c}\n{metrics[c]}\n(baseline {baselines[c]:.2f}" + (
        f";\nbag of words {bag_of_words:.3f})" if c == "semantic" and bag_of_words is not None else ")") for c in columns]
    axes.set_xticks(range(len(columns)), labels, fontsize=8)
    axes.set_yticks(range(len(table.layers)), table.names)
    axes.set_ylabel("layer (hidden-state output)")
    counts = table.info["counts"]
    source = (table.info.get("semantic") or {}).get("source")
    axes.set_title(f"Layer probes of {table.model}\n{counts['functions']} functions, {counts['tokens']} tokens, "
                   f"{counts['clone_pairs']} clone pairs; bold = best layer"
                   + (f"\nclone pairs: {source}" if source else ""), fontsize=10)
    figure.colorbar(image, ax=axes, label="score relative to the property's layers (0 = worst, 1 = best)")
    return figure


def drift_curves(table: LayerTable) -> Figure:
    """CKA and RSA per layer, the CKA level below which a layer counts as drifted, and the layers
    the rule says can stay frozen."""
    suggestion = table.info["suggestion"]
    threshold = suggestion["threshold"]
    x = np.arange(len(table.layers))
    figure = Figure(figsize=(max(6.0, 0.8 * len(x) + 2.5), 4.2))
    axes = figure.add_subplot()
    cka, similarity = (np.array(table.values[c], dtype=float) for c in ("cka", "rsa"))
    cka_on_top = cka >= similarity  # each value is labelled on the side away from the other curve
    curves = (("linear CKA", "o", cka, cka_on_top), (f"RSA ({table.info['rsa_method']})", "s", similarity, ~cka_on_top))
    for label, marker, values, above in curves:
        line, = axes.plot(x, values, marker=marker, label=label)
        for xi, value, up in zip(x, values, above):
            if not np.isnan(value):
                axes.annotate(f"{value:.3f}", (xi, value), textcoords="offset points", xytext=(0, 7 if up else -7),
                              ha="center", va="bottom" if up else "top", fontsize=7, color=line.get_color(),
                              bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.8})
    low = min(np.nanmin(np.concatenate([cka, similarity])), 1 - threshold)
    span = max(1 - low, 0.02)
    axes.set_ylim(low - 0.12 * span, 1 + 0.08 * span)
    axes.axhline(1 - threshold, color="gray", linestyle="--", label=f"CKA = 1 - threshold ({1 - threshold:.2f})")
    frozen = suggestion["frozen_layers"]
    if frozen:
        axes.axvspan(-0.5, frozen - 0.5, color="tab:green", alpha=0.12, label="can stay frozen")
    axes.set_xticks(x, table.names, rotation=30 if len(x) > 8 else 0)
    axes.set_xlim(-0.5, len(x) - 0.5)
    axes.set_xlabel("layer (hidden-state output)")
    axes.set_ylabel("similarity, pre-trained vs fine-tuned")
    first = suggestion["first_drifting_layer"]
    drifted = "no layer" if first is None else f"from {table.names[table.layers.index(first)]} up"
    axes.set_title(f"Representation drift of {table.model} after fine-tuning ({table.info['functions']} held-out functions)\n"
                   f"1 - CKA >= {threshold} {drifted}: suggested freeze={suggestion['freeze']}", fontsize=10)
    axes.legend(loc="lower left", fontsize=8)
    return figure
