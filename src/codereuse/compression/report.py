"""What a compress run leaves behind: metrics.json (flat keys, which benchmarks/compress.py reads),
search.json (every evaluated architecture), the students plot, the loggers' run summary and the
console table."""
from __future__ import annotations

import json
from pathlib import Path

from codereuse.compression.plots import models_plot
from codereuse.compression.search import Individual, SearchResult
from codereuse.compression.space import Architecture
from codereuse.training.report import print_table, write_metrics
from codereuse.training.tracking import log_run_summary

MODELS = ("teacher", "student_fp32", "student_int8", "student_onnx")


def search_metrics(found: SearchResult, chosen: Individual, arch: Architecture, seq_len: int,
                   teacher_ms: float | None) -> dict:
    """The search and its pick; ``arch`` is the pick with the vocabulary the student's BPE reached."""
    out = {"search/evaluated": len(found.evaluated), "search/repaired": found.repaired, "search/seq_len": seq_len,
           "search/best_gflops": found.best.gflops, "search/pareto_size": len(found.pareto),
           "student/arch": str(arch), "student/gflops": chosen.gflops, "student/size_mb_analytic": chosen.size_mb,
           **{f"student/{k}": v for k, v in arch.to_dict().items()}, "student/searched_vocab": chosen.arch.vocab,
           "search/picked": str(chosen.arch)}  # as search.arch= takes it (before the tokenizer's vocab adjustment)
    if teacher_ms is not None:
        out.update({"search/teacher_latency_b1_ms": teacher_ms, "student/search_latency_b1_ms": chosen.latency_ms,
                    "search/pareto": [i.to_dict() for i in found.pareto]})
    return out


def write_report(out: Path, metrics: dict, evaluated: list[Individual], loggers: list, title: str) -> dict:
    """Writes every output of the run and returns metrics.json's flat dict."""
    models_plot({k: metrics[k] for k in MODELS if isinstance(metrics.get(k), dict)}, out / "students.png")
    (out / "search.json").write_text(json.dumps([i.to_dict() for i in evaluated]) + "\n")
    flat = flatten(metrics)
    write_metrics(out / "metrics.json", flat)
    log_run_summary(loggers, flat, out)
    print_table(title, summary_rows(metrics))
    _finish_wandb(loggers)
    return flat


def summary_rows(metrics: dict) -> dict:
    rows = {}
    for name in MODELS:
        if name in metrics:
            m = metrics[name]
            rows[name] = (f"{m['size_mb']:.2f} MB, {m['params']:,} params, acc {m['accuracy']:.4f}, f1 {m['f1']:.4f}, "
                          + (f"val acc {m['val_accuracy']:.4f}, " if "val_accuracy" in m else "")
                          + f"{m['latency_b1_ms']:.2f} ms @1, {m['latency_b32_ms']:.1f} ms @32"
                          + (f", agrees {m['agreement_with_fp32']:.4f}" if "agreement_with_fp32" in m else ""))
    rows.update({k: metrics[k] for k in ("speedup_b1", "accuracy_drop", "test/floor_name", "test/floor", "student/arch")})
    rows.update({k: metrics[k] for k in ("test/frozen_name", "test/frozen") if k in metrics})
    return rows


def flatten(metrics: dict) -> dict:
    """One level: ``{"teacher": {"f1": x}}`` becomes ``{"teacher/f1": x}``."""
    flat = {}
    for key, value in metrics.items():
        if isinstance(value, dict):
            flat.update({f"{key}/{k}": v for k, v in value.items()})
        else:
            flat[key] = value
    return flat


def _finish_wandb(loggers: list) -> None:
    if any(type(logger).__name__ == "WandbLogger" for logger in loggers):
        import wandb

        wandb.finish()
