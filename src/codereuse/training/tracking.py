"""Weights & Biases around Hydra sweeps: one run per job, grouped by sweep, plus tables and plots.

``conf/logger/wandb.yaml`` calls :func:`run_name` and :func:`sweep_group` (nested ``_target_`` s) so
that every job of ``python train.py -m ... logger=wandb`` is its own W&B run in the group of its
sweep directory. :func:`log_run_summary` adds a job's ``metrics.json`` (metrics, parameter counts,
wall time) as run summary + table and every PNG / CSV the job wrote in its output dir (probe
heatmaps, probe tables, ...) as images / tables. :func:`log_sweep_summary` logs the sweep comparison
of ``python -m codereuse.cli.summary <dir> --wandb`` to a ``summary`` run in the same group.

Everything is offline unless ``WANDB_MODE=online``; upload later with ``wandb sync <dir>/wandb/offline-run-*``.
"""
from __future__ import annotations

import csv
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from codereuse.training.report import json_value

MAX_GROUP = 128  # W&B's limit on group names


def group_for(sweep_dir: str | Path) -> str:
    """The W&B group of a sweep directory: its path relative to the working directory when inside it."""
    path = Path(sweep_dir).absolute()
    try:
        text = path.relative_to(Path.cwd().absolute()).as_posix()
    except ValueError:
        text = path.as_posix()
    return text[-MAX_GROUP:]


def sweep_group() -> str | None:
    """``group_for(hydra.sweep.dir)`` inside a multirun job; None for a single run (no group)."""
    hydra = _multirun_hydra()
    return group_for(hydra.sweep.dir) if hydra else None


def run_name(base: str) -> str:
    """``base`` for a single run, ``base #<job number>`` for a multirun job (unique inside its group)."""
    hydra = _multirun_hydra()
    return f"{base} #{hydra.job.num}" if hydra else base


def wandb_run(loggers: Iterable = ()):
    """The W&B run of the first ``WandbLogger`` in ``loggers`` (else the active ``wandb.run``), or None."""
    for logger in loggers:
        if type(logger).__name__ == "WandbLogger":
            return logger.experiment
    if "wandb" in sys.modules:
        import wandb

        return wandb.run
    return None


def log_run_summary(loggers: Iterable, metrics: Mapping, output_dir: str | Path) -> None:
    """A job's final metrics into its W&B run: summary values, a one-row ``metrics`` table, and the
    PNGs (as images) and CSVs (as tables) the job wrote at the top of ``output_dir``. No-op without W&B."""
    run = wandb_run(loggers)
    if run is None:
        return
    values = {key: json_value(value) for key, value in metrics.items()}
    run.summary.update(values)
    log_table("metrics", list(values), [list(values.values())], run)
    output_dir = Path(output_dir)
    log_images(sorted(output_dir.glob("*.png")), run)
    for path in sorted(output_dir.glob("*.csv")):
        with path.open(newline="") as handle:
            rows = list(csv.reader(handle))
        if rows:
            log_table(f"tables/{path.stem}", rows[0], [[_number(cell) for cell in row] for row in rows[1:]], run)


def log_table(key: str, columns: list[str], rows: list[list], run=None) -> None:
    import wandb

    run = run or wandb.run
    if run is not None:
        data = [[json_value(value) for value in row] for row in rows]
        run.log({key: wandb.Table(columns=[str(c) for c in columns], data=data, allow_mixed_types=True)})


def log_images(paths: Iterable[str | Path], run=None, prefix: str = "plots") -> None:
    import wandb

    run = run or wandb.run
    if run is not None:
        images = {f"{prefix}/{Path(p).stem}": wandb.Image(str(p)) for p in paths}
        if images:
            run.log(images)


def log_sweep_summary(sweep_dir: str | Path, header: list[str], cells: list[list], plot_path: str | None,
                      project: str = "codereuse") -> str:
    """A ``summary`` W&B run in the sweep's group, holding the comparison table and its plot; returns its dir."""
    import wandb

    run = wandb.init(project=project, group=group_for(sweep_dir), job_type="summary", name="summary",
                     dir=str(sweep_dir), mode=os.environ.get("WANDB_MODE", "offline"))
    try:
        log_table("sweep_summary", header, cells, run)
        if plot_path:
            log_images([plot_path], run)  # as plots/summary
        return str(Path(run.dir).parent)
    finally:
        run.finish()


def _multirun_hydra():
    """The Hydra config of the current multirun job, or None (single run, or no Hydra at all)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return None
    return HydraConfig.get()


def _number(cell: str):
    try:
        return int(cell)
    except ValueError:
        try:
            return float(cell)
        except ValueError:
            return cell
