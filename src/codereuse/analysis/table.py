"""A layer x column result (probe scores or drift) and its data files (the plot: :mod:`.plots`)."""
from __future__ import annotations

import csv
import json
import math
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table


@dataclass
class LayerTable:
    kind: str  # "probes" or "drift": names the files and picks the plot
    model: str
    layers: list[int]  # 0 = embeddings output, i = output of layer i
    values: dict[str, list[float]]  # column -> one value per layer
    info: dict = field(default_factory=dict)  # metric meanings, baselines, counts, suggestion
    notes: list[str] = field(default_factory=list)  # one-line human summaries printed under the table

    @property
    def names(self) -> list[str]:
        return ["embeddings" if layer == 0 else f"layer {layer}" for layer in self.layers]

    @property
    def columns(self) -> list[str]:
        return ["layer", "name", *self.values]

    def rows(self) -> list[list]:
        return [[layer, name, *(_finite(self.values[c][i]) for c in self.values)]
                for i, (layer, name) in enumerate(zip(self.layers, self.names))]

    def to_dict(self) -> dict:
        data = asdict(self)
        data["values"] = {c: [_finite(v) for v in vs] for c, vs in self.values.items()}
        return data

    def write(self, out_dir: str | Path) -> dict[str, str]:
        """``<kind>.json`` and ``<kind>.csv`` in ``out_dir``; returns their paths. (The plot is
        drawn by :func:`codereuse.analysis.plots.save`, which also writes these.)"""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {ext: out / f"{self.kind}.{ext}" for ext in ("json", "csv")}
        paths["json"].write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        with paths["csv"].open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(self.columns)
            writer.writerows(self.rows())
        return {ext: str(path) for ext, path in paths.items()}

    def print(self, console: Console | None = None) -> None:
        table = Table(title=f"{self.kind}: {self.model}", header_style="bold")
        for column in self.columns[1:]:
            table.add_column(column, justify="left" if column == "name" else "right")
        for row in self.rows():
            table.add_row(row[1], *("-" if v is None else f"{v:.3f}" for v in row[2:]))
        console = console or Console(width=None if sys.stdout.isatty() else 120)  # logs: no truncated headers
        console.print(table)
        for note in self.notes:
            console.print(note, highlight=False)


def _finite(value: float) -> float | None:
    """JSON has no NaN: an undefined score (e.g. CKA of constant features) is written as null."""
    value = float(value)
    return None if math.isnan(value) else round(value, 6)
