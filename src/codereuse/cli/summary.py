"""``python -m codereuse.cli.summary <sweep dir>``: every job's ``metrics.json`` in one table (CSV + markdown).

Works on any directory: a multirun (``multirun/<date>/<time>``), an Optuna search, or all of
``multirun/``. Jobs are the directories holding ``metrics.json`` or ``.hydra/overrides.yaml`` (a job
that died has the latter only and is listed as failed). Columns: the job, what it ran (model, task,
strategy, freeze — ``top2 (ignored)`` when a PEFT strategy ignored the freeze setting), any other
override that differs between jobs (e.g. the learning rate an Optuna trial picked), the metrics,
the parameter counts and the wall time. No W&B needed; ``--wandb`` also logs the table and the plot
to a W&B run in the sweep's group.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

IDENTITY = ("model", "task", "strategy", "freeze")
PREFERRED = ("test/f1", "test/bleu", "test/mrr", "test/acc", "val/f1", "val/bleu", "val/mrr", "val/acc")


def find_jobs(sweep_dir: Path) -> list[Path]:
    dirs = {p.parent for p in sweep_dir.rglob("metrics.json")}
    dirs |= {p.parent.parent for p in sweep_dir.rglob(".hydra/overrides.yaml")}
    return sorted(dirs, key=lambda d: _natural_key(d.relative_to(sweep_dir)))


def collect(sweep_dir: Path) -> list[dict]:
    """One row per job: ``job``, ``status``, overrides, then everything its ``metrics.json`` holds."""
    rows = []
    for job_dir in find_jobs(sweep_dir):
        metrics_path = job_dir / "metrics.json"
        row = {"job": job_dir.relative_to(sweep_dir).as_posix() or "."}
        row["overrides"] = _overrides(job_dir)
        if metrics_path.is_file():
            row.update(json.loads(metrics_path.read_text()), status="ok")
        else:
            row.update({key: row["overrides"].get(key) for key in IDENTITY}, status="failed")
        rows.append(row)
    return rows


def build_table(rows: list[dict], metrics: list[str] | None = None) -> tuple[list[str], list[list]]:
    """(header, cells) of the human table; the CSV gets every key (see :func:`write_csv`)."""
    varying = _varying_overrides(rows)
    metric_keys = metrics or _default_metrics(rows, "test/") or _default_metrics(rows, "val/")
    header = ["job", *IDENTITY, *varying, *metric_keys, "trainable", "trainable %", "seconds", "status"]
    cells = []
    for row in rows:
        fraction = row.get("trainable_fraction")
        cells.append([
            row["job"], row.get("model"), row.get("task"), row.get("strategy"), freeze_label(row),
            *(_number(row["overrides"].get(key)) for key in varying),
            *(row.get(key) for key in metric_keys),
            row.get("trainable_params"), None if fraction is None else 100 * fraction,
            row.get("wall_seconds"), row["status"],
        ])
    return header, cells


def freeze_label(row: dict) -> str | None:
    freeze = row.get("freeze")
    return f"{freeze} (ignored)" if row.get("freeze_ignored") else freeze


def write_csv(rows: list[dict], path: Path) -> None:
    varying = _varying_overrides(rows)
    metric_keys = sorted({k for r in rows for k in r if k.startswith(("val/", "test/"))})
    rest = sorted({k for r in rows for k in r} - {"job", "overrides", "status", *IDENTITY, *varying, *metric_keys})
    columns = ["job", *IDENTITY, "freeze_label", *varying, *metric_keys, *rest, "status"]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, **{k: row["overrides"].get(k) for k in varying}, "freeze_label": freeze_label(row)})


def to_markdown(header: list[str], cells: list[list]) -> str:
    specs = {"trainable %": ".2f", "seconds": ".1f"}
    specs.update({column: ".4g" for column in header if "." in column})  # overrides: lr=3e-05, not 0.0000
    text = [[_format(value, specs.get(column, ".4f")) for column, value in zip(header, row)] for row in cells]
    right = [all(_is_number(row[i]) for row in cells if row[i] is not None) for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---:" if r else "---" for r in right) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in text]
    return "\n".join(lines) + "\n"


def best_job(rows: list[dict], metric: str) -> dict | None:
    scored = [r for r in rows if _is_number(r.get(metric)) and not math.isnan(r[metric])]
    if not scored:
        return None
    lower_is_better = metric.endswith("loss")
    best = (min if lower_is_better else max)(scored, key=lambda r: r[metric])
    return {"job": best["job"], "metric": metric, "value": best[metric]}


def plot(rows: list[dict], metric: str, path: Path) -> Path | None:
    """A bar per job of ``metric`` (PNG), labelled by what the job ran."""
    scored = [r for r in rows if _is_number(r.get(metric))]
    if not scored:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r['job']}: {r.get('model')}/{r.get('task')}/{r.get('strategy')}/{freeze_label(r)}" for r in scored]
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(scored) + 1.2))
    bars = ax.barh(range(len(scored)), [r[metric] for r in scored], color="tab:blue")
    ax.bar_label(bars, fmt="%.3f", fontsize=8, padding=2)
    ax.set_yticks(range(len(scored)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(metric)
    ax.set_title(f"{metric} per job")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def summarize(sweep_dir: Path, out_dir: Path | None = None, metrics: list[str] | None = None,
              metric: str | None = None) -> dict:
    """Collect, write ``summary.csv`` / ``summary.md`` / ``summary.png`` and return what was written."""
    rows = collect(sweep_dir)
    if not rows:
        return {"rows": [], "paths": {}}
    out_dir = out_dir or sweep_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    header, cells = build_table(rows, metrics)
    markdown = to_markdown(header, cells)
    paths = {"csv": out_dir / "summary.csv", "markdown": out_dir / "summary.md"}
    write_csv(rows, paths["csv"])
    paths["markdown"].write_text(markdown)
    metric = metric or next((m for m in PREFERRED if any(m in r for r in rows)), None)
    if metric and plot(rows, metric, out_dir / "summary.png"):
        paths["plot"] = out_dir / "summary.png"
    return {"rows": rows, "header": header, "cells": cells, "markdown": markdown, "metric": metric,
            "paths": {k: str(v) for k, v in paths.items()}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codereuse.cli.summary", description="Every job's metrics.json under a sweep dir in one table: "
                                     "summary.csv, summary.md and summary.png; the last line printed is JSON.")
    parser.add_argument("sweep_dir", type=Path, help="a multirun dir (multirun/<date>/<time>), or any dir above jobs")
    parser.add_argument("--metrics", help="comma-separated metric columns to print (default: every test/* metric)")
    parser.add_argument("--metric", help="the metric to plot and pick the best job by (default: test/f1, test/bleu, ...)")
    parser.add_argument("--out", type=Path, help="where to write summary.csv/.md/.png (default: the sweep dir)")
    parser.add_argument("--wandb", action="store_true", help="also log the table and plot to W&B (offline by default)")
    parser.add_argument("--project", default="codereuse", help="W&B project for --wandb")
    args = parser.parse_args(argv)
    if not args.sweep_dir.is_dir():
        print(f"error: sweep dir {str(args.sweep_dir)!r} does not exist", file=sys.stderr)
        return 2
    result = summarize(args.sweep_dir, args.out, args.metrics.split(",") if args.metrics else None, args.metric)
    rows = result["rows"]
    if not rows:
        print(f"error: no job (metrics.json or .hydra/overrides.yaml) under {str(args.sweep_dir)!r}", file=sys.stderr)
        return 2
    print(result["markdown"])
    if args.wandb:
        from codereuse.training.tracking import log_sweep_summary

        result["paths"]["wandb"] = log_sweep_summary(args.sweep_dir, result["header"], result["cells"],
                                                     result["paths"].get("plot"), project=args.project)
    failed = [r["job"] for r in rows if r["status"] != "ok"]
    line = {"sweep_dir": str(args.sweep_dir), "jobs": len(rows), "completed": len(rows) - len(failed),
            "failed": failed, "freeze_ignored": [r["job"] for r in rows if r.get("freeze_ignored")],
            "best": best_job(rows, result["metric"]) if result["metric"] else None, **result["paths"]}
    print(json.dumps(line))
    return 0


# --- helpers ------------------------------------------------------------------------------------
def _overrides(job_dir: Path) -> dict:
    """``key=value`` overrides of a Hydra job (``.hydra/overrides.yaml``), without ``+``/``~`` prefixes."""
    path = job_dir / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return {}
    from omegaconf import OmegaConf

    pairs = [str(item).split("=", 1) for item in OmegaConf.load(path)]
    return {key.lstrip("+~"): value for key, value in (p for p in pairs if len(p) == 2)}


def _varying_overrides(rows: list[dict]) -> list[str]:
    """Overrides not already shown as identity columns whose value differs between jobs."""
    keys = sorted({k for r in rows for k in r["overrides"]} - set(IDENTITY))
    return [k for k in keys if len({r["overrides"].get(k) for r in rows}) > 1]


def _natural_key(path: Path) -> list:
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in path.parts]


def _number(text):
    """An override's value as a number when it is one (``"1e-4"`` -> 0.0001), else unchanged."""
    if not isinstance(text, str):
        return text
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _default_metrics(rows: list[dict], prefix: str) -> list[str]:
    """Every ``prefix`` metric but precision/recall (in the CSV), to keep the printed table narrow."""
    keys = {k for r in rows for k in r if k.startswith(prefix)}
    return sorted(k for k in keys if not k.endswith(("/precision", "/recall")))


def _format(value, spec: str = ".4f") -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else format(value, spec)
    return str(value).replace("|", "\\|")


if __name__ == "__main__":
    raise SystemExit(main())
