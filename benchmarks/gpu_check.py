"""The GPU path, proven: every strategy on every task family, freezing's speed-ups, selection's feature
extraction and a distillation epoch, on one device in one process, sized to end within 8 minutes on
one H100 (no job starts after ``--deadline``).

    python benchmarks/gpu_check.py                  # on the GPU; writes benchmarks/results/gpu-check.json
    python benchmarks/gpu_check.py --device cpu     # the same code path on the CPU at tiny budgets (a dry run)
    ... --out PATH                                  # the JSON line also here (on the CPU: only here)
    ... --models tiny,tiny_gpt --deadline 300 --source-dir DIR [train.py overrides ...]

Every job runs the code of its script, its config composed as the script composes it: ``run(cfg)`` of
train.py (through compare.py's ``train_once``), the selection pipeline of select.py and the compression
pipeline of compress.py, under ``hardware=gpu`` (bf16-mixed where the GPU computes bf16, else 16-mixed)
or, with ``--device cpu``, ``hardware=cpu``.

1. ``jobs``: every strategy of ``STRATEGIES`` (finetune with freeze=none, top2 and cached top2; lora,
   prefix, prompt; the transducer fused at the input, and at the output with its state cache;
   graph_only) on one task per family (``FAMILY_TASKS``), per model: MiniLM and the tiny random
   decoder, encoder-decoder and encoder on the GPU, the tiny encoder on the CPU (``--models``). Each is
   3 training steps, a validation and a test pass on small subsets, without the frozen reference (its
   probe fit is CPU work). A combination the project refuses by design is recorded as
   ``{"ok": null, "skipped": <reason>}`` (``refusal``).
2. ``throughput``: full fine-tuning, freeze=top2 and cached top2 on train.py's default task, in turn:
   steps per second over the whole fit and over the epochs after the first (when the cache replays),
   and each one's speed-up over full fine-tuning.
3. ``selection``: select.py's feature extraction on defect (pool offline on the GPU, tiny on the CPU),
   its seconds, device and precision.
4. ``distillation``: compress.py with a tiny teacher and one distillation epoch; its seconds and the
   device its latencies are measured on.

Every job records ``ok``, ``seconds``, ``peak_mem_gb`` (``torch.cuda.max_memory_allocated``, reset per
job; null on the CPU) and, when it fails, its error's last line; a failure never stops the check. A job
not started within ``--deadline`` seconds (420 on the GPU) is skipped, so the check ends in time. Each
job's run directory (checkpoints included) is removed after it. Prints one JSON line::

    {"device", "precision", "jobs": {"<model>/<strategy>/<family>": {"ok", "seconds", "peak_mem_gb", "error"?}
                                     | {"ok": null, "skipped"}},
     "throughput": {"model", "task", "epochs", "train_examples", "arms": {"full" | "top2" | "top2_cached":
                    {"ok", "seconds", "peak_mem_gb", "steps", "fit_seconds", "steps_per_second",
                     "later_steps_per_second"}}, "speedup_top2", "speedup_top2_cached", "later_speedup_top2",
                    "later_speedup_top2_cached"},
     "selection": {"ok", "seconds", "peak_mem_gb", "extraction_device", "extraction_precision",
                   "extraction_seconds", "probe_examples", "candidates", "skipped_candidates"},
     "distillation": {"ok", "seconds", "peak_mem_gb", "distill_seconds", "teacher_seconds", "transfer_rows",
                      "student", "latency_device"},
     "summary": {"ok", "failed", "skipped"}, "wall_seconds"}

written to ``benchmarks/results/gpu-check.json`` only by a run on a GPU (a dry run never overwrites
that record) and to ``--out`` when given.
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import json
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import yaml

from codereuse.compression.pipeline import run as run_compress
from codereuse.selection.pipeline import run as run_select
from common import CONF, compose_train
from compare import train_once

RECORD = Path(__file__).resolve().parent / "results" / "gpu-check.json"
FAMILY_TASKS = {"classification": "defect", "pair": "clone", "retrieval": "search", "seq2seq": "summarize"}
STRATEGIES = {
    "full": ["strategy=finetune", "freeze=none"],
    "top2": ["strategy=finetune", "freeze=top2"],
    "top2_cached": ["strategy=finetune", "freeze=top2", "freeze.cache=true"],
    "lora": ["strategy=lora"],
    "prefix": ["strategy=prefix"],
    "prompt": ["strategy=prompt"],
    "transducer": ["strategy=transducer"],
    "transducer_output": ["strategy=transducer", "strategy.transducer.fuse_at=output", "strategy.transducer.cache=true"],
    "graph_only": ["strategy=graph_only"],
}
STATE_CACHES = {"top2_cached", "transducer_output"}  # replay stored encoder states
THROUGHPUT_ARMS = {"full": ["freeze=none"], "top2": ["freeze=top2"], "top2_cached": ["freeze=top2", "freeze.cache=true"]}
QUIET = ["logger=none", "callbacks.progress_bar=null", "+trainer.enable_progress_bar=false"]


@dataclass(frozen=True)
class Budget:
    """How much of each part runs on one kind of device."""
    models: tuple[str, ...]
    batch_size: int
    eval_examples: int
    max_length: int
    throughput_model: str
    throughput_train: int
    throughput_epochs: int
    pool: str
    probe_size: int
    distill: tuple[str, ...]  # compress.py overrides
    deadline: float | None


BUDGETS = {
    # MiniLM first: if the deadline cuts the matrix, the tiny models' jobs are the ones left out
    "cuda": Budget(models=("minilm", "tiny_gpt", "tiny_t5", "tiny"), batch_size=16, eval_examples=64, max_length=128,
                   throughput_model="minilm", throughput_train=1024, throughput_epochs=3, pool="offline", probe_size=256,
                   distill=("trainer.max_steps=20", "task.max_train_examples=512", "task.max_eval_examples=128",
                            "distill.max_train_examples=2048", "search.population=8", "search.generations=2",
                            "latency_repeats=3"),
                   deadline=420),
    "cpu": Budget(models=("tiny",), batch_size=8, eval_examples=16, max_length=64,
                  throughput_model="tiny", throughput_train=32, throughput_epochs=2, pool="tiny", probe_size=48,
                  distill=("trainer.max_steps=4", "task.max_train_examples=48", "task.max_eval_examples=16",
                           "task.max_length=48", "budget_mb=0.5", "distill.max_train_examples=96",
                           "search.population=6", "search.generations=2", "latency_repeats=2"),
                  deadline=None),
}


# --- one job ---------------------------------------------------------------------------------------
class Jobs:
    """Runs jobs one after another, each timed, with its own peak memory and run directory; a failing
    job is recorded and the next one runs."""

    def __init__(self, device: str, deadline: float | None) -> None:
        self.device, self.deadline, self.started = device, deadline, time.perf_counter()

    def run(self, name: str, call: Callable[[], object]) -> tuple[dict, object]:
        """(the job's record, what ``call`` returned, None when it failed or was not started)."""
        if self.deadline is not None and time.perf_counter() - self.started > self.deadline:
            return announce(name, {"ok": None, "skipped": f"deadline: not started within {self.deadline:g} s"}), None
        if self.device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        started, result, error = time.perf_counter(), None, None
        with scratch_directory():
            try:
                result = call()
            except Exception:  # one job's failure is its record, never the end of the check
                error = traceback.format_exc().strip().splitlines()[-1]
        record = {"ok": error is None, "seconds": round(time.perf_counter() - started, 2), "peak_mem_gb": self.peak_gb()}
        if error is not None:
            record["error"] = error
        release_memory(self.device)
        return announce(name, record), result

    def peak_gb(self) -> float | None:
        return round(torch.cuda.max_memory_allocated() / 1e9, 3) if self.device == "cuda" else None


@contextlib.contextmanager
def scratch_directory():
    """Every temporary directory of one job (compose_train's run directory, checkpoints, state caches)
    inside one that is removed after it: a hundred runs' checkpoints would fill the disk."""
    previous = tempfile.tempdir
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as root:
        tempfile.tempdir = root
        try:
            yield
        finally:
            tempfile.tempdir = previous


def release_memory(device: str) -> None:
    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()


def announce(name: str, record: dict) -> dict:
    status = {True: "ok", False: f"FAILED: {record.get('error')}", None: f"skipped: {record.get('skipped')}"}[record["ok"]]
    print(f"[gpu-check] {name}: {status}" + (f" ({record['seconds']:.1f} s)" if "seconds" in record else ""), flush=True)
    return record


# --- 1. every strategy on every task family --------------------------------------------------------
def refusal(model: str, strategy: str, family: str) -> str | None:
    """Why the project refuses ``strategy`` on ``family`` with ``model`` by design (None: it runs)."""
    architecture = yaml.safe_load((CONF / "model" / f"{model}.yaml").read_text())["architecture"]
    if family == "seq2seq" and strategy == "transducer_output":
        return "output fusion: a seq2seq decoder reads the encoder directly"
    if family == "seq2seq" and strategy == "graph_only":
        return "graph_only: no decoder input worth scoring on a seq2seq task"
    if strategy in STATE_CACHES and architecture != "encoder":
        return f"state caching needs an encoder-only backbone; {model} is {architecture}"
    if strategy == "prefix" and architecture == "encoder-decoder" and family != "seq2seq":
        return f"prefix tuning of encoder-decoder {model} trains the decoder, which only seq2seq tasks run"
    return None


def job_overrides(budget: Budget, model: str, strategy: str, family: str) -> list[str]:
    """3 training steps (one epoch of 3 batches), then validation and test on small subsets."""
    return [*QUIET, f"model={model}", f"task={FAMILY_TASKS[family]}", *STRATEGIES[strategy], "frozen_reference=false",
            "trainer.max_steps=3", "trainer.max_epochs=1", f"task.batch_size={budget.batch_size}",
            f"task.eval_batch_size={budget.batch_size}", f"task.max_train_examples={3 * budget.batch_size}",
            f"task.max_eval_examples={budget.eval_examples}", f"task.max_length={budget.max_length}",
            "task.max_target_length=32"]


def trained(overrides: list[str]) -> dict:
    """train.py's metrics, which must hold a validation and a test result."""
    metrics = train_once(overrides)
    missing = [stage for stage in ("val/", "test/") if not any(key.startswith(stage) for key in metrics)]
    if missing:
        raise RuntimeError(f"the run reported no {' and no '.join(missing)} metrics")
    return metrics


def matrix(jobs: Jobs, budget: Budget, common: list[str]) -> dict[str, dict]:
    records = {}
    for model in budget.models:
        for strategy in STRATEGIES:
            for family in FAMILY_TASKS:
                name, reason = f"{model}/{strategy}/{family}", refusal(model, strategy, family)
                if reason:
                    records[name] = {"ok": None, "skipped": reason}
                    continue
                overrides = [*job_overrides(budget, model, strategy, family), *common]
                records[name], _ = jobs.run(name, lambda: trained(overrides))
    return records


# --- 2. throughput ---------------------------------------------------------------------------------
def throughput(jobs: Jobs, budget: Budget, common: list[str]) -> dict:
    """The three arms on train.py's default task, no checkpoints (their writes are not training), one
    validation batch per epoch (where the validation history reads the step count and the clock)."""
    base = ["logger=none", "callbacks=none", "+trainer.enable_progress_bar=false", f"model={budget.throughput_model}",
            "strategy=finetune", f"trainer.max_epochs={budget.throughput_epochs}",
            f"task.max_train_examples={budget.throughput_train}", f"task.max_eval_examples={budget.eval_examples}",
            "trainer.limit_val_batches=1", "trainer.limit_test_batches=1", *common]
    arms, task = {}, None
    for name, extra in THROUGHPUT_ARMS.items():
        record, metrics = jobs.run(f"throughput/{name}", lambda: train_once([*base, *extra]))
        arms[name] = {**record, **(step_rates(metrics["history"]) if metrics else {})}
        task = task or (metrics or {}).get("task")
    return {"model": budget.throughput_model, "task": task, "epochs": budget.throughput_epochs,
            "train_examples": budget.throughput_train, "arms": arms, **speedups(arms)}


def step_rates(history: list[dict]) -> dict:
    """Training steps per second to the last validation check, and between the first check and the
    last: the epochs after the first, where a cache replays and the device is warm."""
    first, last = history[0], history[-1]
    later = (last["step"] - first["step"]) / (last["seconds"] - first["seconds"]) if len(history) > 1 else None
    return {"steps": last["step"], "fit_seconds": round(last["seconds"], 2),
            "steps_per_second": round(last["step"] / last["seconds"], 2),
            "later_steps_per_second": None if later is None else round(later, 2)}


def speedups(arms: dict[str, dict]) -> dict:
    """Each frozen arm's steps per second over full fine-tuning's (None where either is missing)."""
    out = {}
    for rate, prefix in (("steps_per_second", ""), ("later_steps_per_second", "later_")):
        full = arms["full"].get(rate)
        for name in ("top2", "top2_cached"):
            value = arms[name].get(rate)
            out[f"{prefix}speedup_{name}"] = round(value / full, 2) if full and value else None
    return out


# --- 3. selection and 4. distillation --------------------------------------------------------------
def selection(jobs: Jobs, budget: Budget, source: list[str]) -> dict:
    """select.py ranking a pool for defect by LogME (the cheapest scorer: extraction is what counts)."""
    overrides = ["task=defect", f"pool={budget.pool}", "scorer=logme", "evaluate=false", f"probe.size={budget.probe_size}",
                 "logger=none", *source]
    record, summary = jobs.run("selection", lambda: run_select(compose_train(overrides, "select")))
    if summary is None:
        return record
    keys = ("extraction_device", "extraction_precision", "probe_examples", "candidates")
    return {**record, **{key: summary[key] for key in keys}, "extraction_seconds": round(summary["extraction_seconds"], 2),
            "skipped_candidates": summary["skipped"]}


def distillation(jobs: Jobs, budget: Budget, common: list[str]) -> dict:
    """compress.py on its default task with a tiny teacher, fine-tuned first, and one distillation epoch."""
    overrides = ["model=tiny", "logger=none", "frozen_reference=false", "distill.max_epochs=1", "export_onnx=false",
                 *budget.distill, *common]
    record, metrics = jobs.run("distillation", lambda: compressed(overrides))
    if metrics is None:
        return record
    return {**record, "distill_seconds": round(metrics["seconds/distill"], 2),
            "teacher_seconds": round(metrics["seconds/teacher"], 2), "transfer_rows": metrics["transfer/task_rows"],
            "student": metrics["student/arch"], "latency_device": metrics["latency_device"]}


def compressed(overrides: list[str]) -> dict:
    """compress.py's run, its default teacher fine-tuned into this job's scratch directory (none reused)."""
    return run_compress(compose_train([*overrides, f"teacher_dir={tempfile.mkdtemp(prefix='teachers-')}"], "compress"))


# --- the check -------------------------------------------------------------------------------------
def precision(device: str) -> str:
    if device == "cpu":
        return "32-true"
    return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"


def hardware(device: str) -> list[str]:
    return [f"hardware={'gpu' if device == 'cuda' else 'cpu'}", f"hardware.precision={precision(device)}"]


def record_paths(device: str, out: Path | None) -> list[Path]:
    """Where the JSON line goes: the GPU record, written by a run on a GPU only, and ``--out``."""
    return [*([RECORD] if device == "cuda" else []), *([out] if out else [])]


def summary(records: list[dict]) -> dict[str, int]:
    states = [record["ok"] for record in records]
    return {"ok": states.count(True), "failed": states.count(False), "skipped": states.count(None)}


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=sorted(BUDGETS), default="cuda",
                        help="cuda (default): the check; cpu: the same code path at tiny budgets")
    parser.add_argument("--models", type=lambda text: tuple(text.split(",")), default=None,
                        help="comma-separated model configs of the job matrix (default: the device's budget)")
    parser.add_argument("--deadline", type=float, default=None,
                        help="seconds after which no job starts (default: 420 on the GPU, none on the CPU)")
    parser.add_argument("--source-dir", default=None, help="data.source_dir of every job (default: the standard library)")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON line here")
    parser.add_argument("overrides", nargs="*", default=[], help="train.py overrides for every training and compress job")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("gpu_check: no CUDA device; --device cpu runs the same code path on the CPU")
    budget = BUDGETS[args.device] if args.models is None else replace(BUDGETS[args.device], models=args.models)
    jobs = Jobs(args.device, args.deadline if args.deadline is not None else budget.deadline)
    if args.device == "cuda":
        torch.zeros(1, device="cuda")  # the CUDA context, so that the first timed job does not pay for it
    source = [f"data.source_dir={args.source_dir}"] if args.source_dir else []
    common = [*hardware(args.device), *source, *args.overrides]
    # the bounded sections first: a deadline cuts the matrix, never them
    parts = {"throughput": throughput(jobs, budget, common), "selection": selection(jobs, budget, source),
             "distillation": distillation(jobs, budget, common)}
    records = matrix(jobs, budget, common)
    every = [*records.values(), *parts["throughput"]["arms"].values(), parts["selection"], parts["distillation"]]
    line = {"device": torch.cuda.get_device_name() if args.device == "cuda" else "cpu", "precision": precision(args.device),
            "jobs": records, **parts, "summary": summary(every), "wall_seconds": round(time.perf_counter() - jobs.started, 1)}
    text = json.dumps(line)
    for path in record_paths(args.device, args.out):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
    print(text)
    return line


if __name__ == "__main__":
    main()
