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


def print_table(title: str, metrics: dict) -> None:
    table = Table(title=title, show_header=True, header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in metrics.items():
        value = json_value(value)
        if isinstance(value, float):
            text = f"{value:.4f}"
        elif isinstance(value, int) and not isinstance(value, bool):
            text = f"{value:,}"
        else:
            text = str(value)
        table.add_row(key, text)
    Console().print(table)
