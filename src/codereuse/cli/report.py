"""What every run leaves behind: ``metrics.json`` and a short human table."""
from __future__ import annotations

import json
import math
from pathlib import Path

from rich.console import Console
from rich.table import Table


def write_metrics(path: Path, metrics: dict) -> None:
    clean = {key: json_value(value) for key, value in metrics.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(clean, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


def json_value(value):
    """A metric as a JSON value: tensors/numpy scalars unwrapped, NaN as null."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


# which metric a floor (codereuse.data.card.floor) is read against
_FLOOR_METRIC = {"accuracy": "test/acc", "bleu": "test/bleu", "mrr": "test/mrr"}


def print_table(title: str, metrics: dict) -> None:
    """One row per metric; the task's trivial floor sits beside the test metric it is a floor for."""
    name, value = metrics.get("test/floor_name"), metrics.get("test/floor")
    beside = _FLOOR_METRIC.get(str(name).rsplit("_", 1)[-1]) if name else None
    table = Table(title=title, show_header=True, header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    if beside in metrics:
        table.add_column("floor", justify="right")
    for key, metric in metrics.items():
        if beside in metrics and (key in ("test/floor", "test/floor_name") or key.startswith("test/floor/")):
            continue
        cells = [key, _text(metric)]
        if beside in metrics:
            # per-kind accuracy (test/acc/<kind>) has the same floor's per-kind accuracy beside it
            kind_floor = metrics.get(key.replace("test/acc/", "test/floor/", 1)) if key.startswith("test/acc/") else None
            cells.append(f"{_text(value)} ({name})" if key == beside else _text(kind_floor) if kind_floor is not None else "")
        table.add_row(*cells)
    Console().print(table)


def _text(value) -> str:
    value = json_value(value)
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)
