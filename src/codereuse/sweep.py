"""Sweeps: the value Hydra sweepers optimise, and ``python -m codereuse.sweep <sweep dir>``.

    python train.py -m model=tiny task=defect,clone strategy=finetune,lora freeze=none,top2
    python -m codereuse.sweep multirun/<date>/<time>     # summary.csv + summary.md (+ summary.png), one JSON line

See ``codereuse.cli.summary`` for the table and ``conf/hparams_search/`` for Optuna searches.
"""
from __future__ import annotations

import math
from collections.abc import Mapping

from codereuse.errors import ConfigError


def objective(metrics: Mapping, name: str | None) -> float | None:
    """``metrics[name]`` as a float for an optimising sweeper (Optuna), or None when nothing is optimised.

    ``name`` is ``cfg.optimized_metric`` (set by ``hparams_search=...``). A missing metric is a
    config error naming the metrics the run produced; NaN (a diverged run) is returned as is, so
    Optuna records the trial as failed instead of the whole search dying.
    """
    if not name:
        return None
    if name not in metrics:
        raise ConfigError("optimized_metric", name, sorted(k for k in metrics if "/" in k),
                          "the run did not produce this metric")
    value = metrics[name]
    return math.nan if value is None else float(value.item() if hasattr(value, "item") else value)


if __name__ == "__main__":
    from codereuse.cli.summary import main

    raise SystemExit(main())
