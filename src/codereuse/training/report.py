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


# which test metric a reference (lexical floor, frozen model) is read against, by its name's suffix
REFERENCE_METRIC = {"accuracy": "test/acc", "bleu": "test/bleu", "mrr": "test/mrr"}
_REFERENCES = ("floor", "frozen")


def headline_metric(metrics: dict) -> str | None:
    """The test metric the references sit beside (``test/acc``, ``test/mrr``, ``test/bleu``)."""
    name = metrics.get("test/floor_name") or metrics.get("test/frozen_name")
    metric = REFERENCE_METRIC.get(str(name).rsplit("_", 1)[-1]) if name else None
    return metric if metric in metrics else None


def print_table(title: str, metrics: dict) -> None:
    """One row per metric; the lexical floor and the frozen model's score sit beside the headline
    test metric (per kind too, where records carry one), and a verdict line follows."""
    beside = headline_metric(metrics)
    shown = [r for r in _REFERENCES if beside and metrics.get(f"test/{r}") is not None]
    table = Table(title=title, show_header=True, header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for reference in shown:
        table.add_column("lexical floor" if reference == "floor" else "frozen model", justify="right")
    for key, metric in metrics.items():
        if shown and key.startswith(tuple(f"test/{r}" for r in _REFERENCES)):
            continue
        cells = [key, _text(metric)]
        for reference in shown:
            if key == beside:
                cells.append(f"{_text(metrics[f'test/{reference}'])} ({metrics.get(f'test/{reference}_name')})")
            elif key.startswith("test/acc/"):  # per-kind accuracy: the reference's own, where known
                cells.append(_text(metrics.get(key.replace("test/acc/", f"test/{reference}/", 1), "")))
            else:
                cells.append("")
        table.add_row(*cells)
    Console().print(table)
    if shown:
        from codereuse.evaluation.verdict import verdict

        Console().print(f"{beside}: " + verdict(float(metrics[beside]), metrics.get("test/floor"), metrics.get("test/frozen")))


def _text(value) -> str:
    value = json_value(value)
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)
