"""Fair side-by-side comparisons of training arms (the machinery every benchmark shares).

A reviewer's checklist, built in: every arm gets its own learning rate, chosen from its own small
grid on the validation monitor (``tune``, recorded in ``benchmarks/tuned/<benchmark>.yaml``); the
measured run (``run_arms``) repeats every arm over several training seeds, interleaving the arms
within each seed so machine noise hits all of them; scores are means with standard errors, beside
the task's lexical floor and the frozen model's score; and ``seconds_to`` turns each run's validation history into time to
accuracy. Every run goes through ``codereuse.training.run.run``, the same code as ``train.py``.

Results count on yardstick tasks only (``yardstick``): where the frozen pre-trained model beats the
lexical floor and the best trained arm beats the frozen model, each by more than two standard errors
(``codereuse.evaluation.verdict``). Elsewhere a benchmark reports the task but checks no goal on it.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path

import yaml
from omegaconf import open_dict

from codereuse.training.report import REFERENCE_METRIC
from codereuse.training.run import run
from codereuse.data.registry import TASK_FAMILIES
from codereuse.errors import ConfigError
from codereuse.evaluation.verdict import Z, is_yardstick
from common import compose_train

TUNED_DIR = Path(__file__).resolve().parent / "tuned"
# finished runs by their overrides, for --resume: an interrupted or split benchmark trains each run once
RUNS_DIR = Path(__file__).resolve().parents[1] / "outputs" / "benchmark-runs"


@dataclass(frozen=True)
class Arm:
    name: str
    overrides: list[str]
    lr_grid: list[float]
    # an arm that trains exactly like another (e.g. the same freeze with a prefix cache) takes its LR
    lr_from: str | None = None
    # the task head trains at another arm's tuned LR (``optim.head_lr``); the grid tunes the rest
    head_lr_from: str | None = None


# --- statistics ---------------------------------------------------------------------------------
def mean_se(values) -> tuple[float, float]:
    """(mean, standard error of the mean); the error is NaN for fewer than two values."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError("mean_se of no values")
    mean = statistics.fmean(values)
    se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else math.nan
    return mean, se


def seconds_to(target: float, history: list, mode: str = "max") -> float | None:
    """Elapsed seconds at the first validation check scoring at least ``target`` (at most, for
    ``mode="min"``); None if no check got there. ``history`` holds (seconds, value) pairs or the
    dicts ``ValidationHistory`` writes."""
    for seconds, value in (_pair(point) for point in history):
        if (value >= target) if mode == "max" else (value <= target):
            return seconds
    return None


def _pair(point) -> tuple[float, float]:
    return (point["seconds"], point["value"]) if isinstance(point, dict) else (point[0], point[1])


# --- single runs ---------------------------------------------------------------------------------
def train_once(overrides: list[str], store: Path | None = None) -> dict:
    """``run(cfg)`` as ``python train.py <overrides>`` (whose metrics carry the task's floor on the
    evaluated test records, ``test/floor``), plus the validation history. With ``store`` (a
    directory), a run with the same overrides finished before is read back instead of trained, and
    a new one is written there."""
    stored = stored_run(store, overrides) if store else None
    if stored is not None:
        print(f"[compare] reused the stored run {' '.join(overrides[-3:])}", flush=True)
        return stored
    metrics = _train(overrides)
    if store:
        store_run(store, overrides, metrics)
    return metrics


def _run_path(store: Path, overrides: list[str]) -> Path:
    return store / (hashlib.sha256(json.dumps(overrides).encode()).hexdigest()[:20] + ".json")


def stored_run(store: Path, overrides: list[str]) -> dict | None:
    """The metrics of a finished run with exactly these overrides; None if there is none or its file
    is unreadable (then it is trained again, with a note)."""
    path = _run_path(store, overrides)
    if not path.is_file():
        return None
    try:
        entry = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        print(f"[compare] note: {path} is unreadable ({error}); training that run again", flush=True)
        return None
    return entry["metrics"] if entry.get("overrides") == list(overrides) else None


def store_run(store: Path, overrides: list[str], metrics: dict) -> None:
    store.mkdir(parents=True, exist_ok=True)
    path = _run_path(store, overrides)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps({"overrides": list(overrides), "metrics": metrics}, default=float))
    partial.replace(path)  # atomic: a run is stored whole or not at all


def _train(overrides: list[str]) -> dict:
    cfg = compose_train(overrides)
    history_path = Path(cfg.paths.output_dir) / "history.json"
    history = {"_target_": "codereuse.training.history.ValidationHistory", "path": str(history_path), "monitor": cfg.task.monitor}
    with open_dict(cfg):
        if cfg.get("callbacks") is None:
            cfg.callbacks = {}
        cfg.callbacks.val_history = history
    metrics = run(cfg)
    metrics["history"] = json.loads(history_path.read_text())["history"] if history_path.is_file() else []
    metrics["monitor"], metrics["monitor_mode"] = cfg.task.monitor, cfg.task.monitor_mode
    return metrics


def _arm_overrides(arm: Arm, common: list[str], lr: float, seed: int, lrs: dict[str, float]) -> list[str]:
    head = [f"strategy.optim.head_lr={lrs[arm.head_lr_from]!r}"] if arm.head_lr_from else []
    return [*common, *arm.overrides, f"strategy.optim.lr={lr!r}", *head, f"seed={seed}"]


def _check_head_sources(arms: list[Arm]) -> None:
    """A ``head_lr_from`` arm needs its source tuned before it, on that arm's own grid alone."""
    plain = set()
    for arm in arms:
        if arm.head_lr_from and arm.head_lr_from not in plain:
            raise ConfigError("head_lr_from", arm.head_lr_from, hint=f"arm {arm.name} needs that arm earlier in "
                              "the list, without a head_lr_from of its own")
        if not arm.head_lr_from:
            plain.add(arm.name)


# --- tuning --------------------------------------------------------------------------------------
def tune(benchmark: str, task: str, arms: list[Arm], common: list[str], seed: int = 0,
         directory: Path = TUNED_DIR, store: Path | None = None) -> dict[str, float]:
    """Each arm's LR from its own grid, chosen on the task's validation monitor (no test runs);
    written to ``<directory>/<benchmark>.yaml`` under ``task`` and printed. ``store``: see :func:`train_once`."""
    common = [*common, f"task={task}"]
    _check_head_sources([arm for arm in arms if not arm.lr_from])
    lrs, record = {}, {}
    for arm in arms:
        if arm.lr_from:
            continue
        scores = {}
        for lr in arm.lr_grid:
            metrics = train_once([*_arm_overrides(arm, common, lr, seed, lrs), "test=false"], store)
            scores[lr] = metrics[metrics["monitor"]]
            print(f"[tune {benchmark}] {arm.name} lr={lr:g}: {metrics['monitor']} {scores[lr]:.4f}", flush=True)
        best = (max if metrics["monitor_mode"] == "max" else min)(scores, key=scores.get)
        lrs[arm.name] = best
        record[arm.name] = {"lr": best, "grid": {f"{lr:g}": round(s, 4) for lr, s in scores.items()}}
        if arm.head_lr_from:
            record[arm.name]["head_lr"] = {"lr": lrs[arm.head_lr_from], "from": arm.head_lr_from}
    for arm in arms:
        if arm.lr_from:
            lrs[arm.name] = lrs[arm.lr_from]
            record[arm.name] = {"lr": lrs[arm.name], "from": arm.lr_from}
    path = directory / f"{benchmark}.yaml"
    stored = _read_yaml(path)
    earlier = stored.get(task) or {}
    if earlier.get("common") == list(common) and earlier.get("seed") == seed:
        # re-tuning some arms at the same budget keeps the other arms' recorded choices
        record = {**earlier.get("arms", {}), **record}
    stored[task] = {"monitor": metrics["monitor"], "seed": seed, "common": list(common),
                    "tuned_on": datetime.date.today().isoformat(), "arms": record}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# learning rates chosen by `--tune` (benchmarks/compare.py); the default run reuses them\n"
                    + yaml.safe_dump(stored, sort_keys=False))
    print(f"[tune {benchmark}] chosen on {metrics['monitor']}: " + json.dumps(lrs) + f" -> {path}", flush=True)
    return lrs


def load_tuned(benchmark: str, task: str, arms: list[Arm] | None = None, directory: Path = TUNED_DIR,
               common: list[str] | None = None) -> dict[str, float]:
    """The LRs a ``--tune`` pass recorded; ConfigError (one line) if the file, task or an arm is missing.
    With ``common``, a note is printed when the tune pass ran with other overrides (another budget)."""
    path = directory / f"{benchmark}.yaml"
    entry = _read_yaml(path).get(task)
    if not entry:
        raise ConfigError("tuned learning rates", f"{path.name}:{task}", hint=f"run the benchmark with --tune first ({path})")
    lrs = {name: float(arm["lr"]) for name, arm in entry["arms"].items()}
    missing = [arm.name for arm in arms or [] if arm.name not in lrs]
    if missing:
        raise ConfigError("tuned learning rates", f"{path.name}:{task}",
                          hint=f"no LR for arm(s) {', '.join(missing)}; rerun with --tune")
    for arm in arms or []:
        recorded = (entry["arms"][arm.name].get("head_lr") or {}).get("lr")
        if arm.head_lr_from and recorded is not None and recorded != lrs.get(arm.head_lr_from):
            raise ConfigError("tuned learning rates", f"{path.name}:{task}", hint=f"{arm.name} was tuned with head LR "
                              f"{recorded}, but {arm.head_lr_from}'s is now {lrs.get(arm.head_lr_from)}; rerun with --tune")
    if common is not None and [*common, f"task={task}"] != entry.get("common"):
        print(f"[compare] note: the LRs in {path.name} were tuned with overrides {entry.get('common')}", flush=True)
    return lrs


def _read_yaml(path: Path) -> dict:
    return (yaml.safe_load(path.read_text()) or {}) if path.is_file() else {}


# --- measured runs -------------------------------------------------------------------------------
def interleaved(arms: list[Arm], seeds) -> list[tuple[int, Arm]]:
    """Every arm once per seed; the order rotates with the seed so no arm always runs first."""
    return [(seed, arms[(i + k) % len(arms)]) for i, seed in enumerate(seeds) for k in range(len(arms))]


def run_arms(arms: list[Arm], common: list[str], lrs: dict[str, float], seeds=(0, 1, 2),
             store: Path | None = None) -> dict[str, dict]:
    """Every arm at its LR over ``seeds``; per arm the means and standard errors of the test metrics
    (``f1``, ``f1_se``, ``acc``, ``acc_se``, ...), of ``seconds`` (fit) and ``val`` (final validation
    monitor), the headline ``metric``, the references (``floor``, ``frozen``, ...), ``lr`` and the
    per-seed ``runs`` (each with its validation ``history``). ``store``: see :func:`train_once`."""
    runs: dict[str, list[dict]] = {arm.name: [] for arm in arms}
    for seed, arm in interleaved(arms, seeds):
        metrics = train_once(_arm_overrides(arm, common, lrs[arm.name], seed, lrs), store)
        runs[arm.name].append({"seed": seed, "history": metrics.pop("history"), **metrics})
        print(f"[compare] seed {seed} {arm.name}: " + json.dumps(_brief(metrics)), flush=True)
    return {name: summarise(per_seed, lrs[name]) for name, per_seed in runs.items()}


def summarise(per_seed: list[dict], lr: float) -> dict:
    """Means and standard errors over seeds of the test metrics, ``seconds`` and ``val``; the task's
    headline ``metric`` and its references (:func:`references`) as the first run reports them."""
    first = per_seed[0]
    result = {"lr": lr, "metric": headline_metric(first), **references(first)}
    reference_keys = {f"test/{key}" for key in REFERENCES}
    columns = {key[len("test/"):]: key for key in first if key.startswith("test/") and key not in reference_keys}
    columns.update(seconds="fit_seconds", val=first["monitor"])
    for name, key in columns.items():
        values = [run[key] for run in per_seed if _number(run.get(key))]
        if values:
            result[name], result[f"{name}_se"] = mean_se(values)
    result["runs"] = per_seed
    return result


def time_to_reference(results: dict[str, dict], reference: str) -> dict[str, float | None]:
    """Per arm, the mean over seeds of the seconds to reach ``reference``'s final validation score
    of the same seed; None ("never") if the arm missed it in any seed."""
    targets = {run["seed"]: run[run["monitor"]] for run in results[reference]["runs"]}
    times = {}
    for name, result in results.items():
        reached = [seconds_to(targets[run["seed"]], run["history"], run["monitor_mode"]) for run in result["runs"]]
        times[name] = None if any(t is None for t in reached) else statistics.fmean(reached)
    return times


# --- yardsticks ----------------------------------------------------------------------------------
REFERENCES = ("floor", "floor_name", "floor_se", "frozen", "frozen_name", "frozen_se")
FAMILY_METRIC = {"classification": "acc", "pair": "acc", "retrieval": "mrr", "seq2seq": "bleu"}


def headline_metric(metrics: dict) -> str | None:
    """The test metric a task is judged by (``acc``, ``mrr``, ``bleu``): the one its lexical floor
    sits beside, else its family's (from the run's ``task``); None when neither is known."""
    suffix = str(metrics.get("test/floor_name") or "").rsplit("_", 1)[-1]
    by_floor = REFERENCE_METRIC.get(suffix, "").removeprefix("test/")
    return by_floor or FAMILY_METRIC.get(TASK_FAMILIES.get(metrics.get("task")))


def references(metrics: dict) -> dict:
    """The lexical floor and the frozen model's score (``test/floor``, ``test/frozen_se``, ...) of
    one run: neither depends on the training seed. None where the run does not report one."""
    return {key: _known(metrics.get(f"test/{key}")) for key in REFERENCES}


def yardstick(summaries: dict[str, dict], metric: str | None = None) -> dict:
    """One task's yardstick block: its ``metric`` (default: the first arm's), references, best arm,
    and whether it is a yardstick (``is_yardstick``; False while a reference is unknown).

    ``summaries`` holds per arm the mean of ``metric``, its standard error ``<metric>_se`` and the
    references (as :func:`summarise` gives them). The best arm has the highest mean; the references
    are its own (arms on one backbone share them). The errors combined, in quadrature, are
    ``floor_se`` and ``frozen_se`` (each reference's standard error over the evaluated test records)
    and the best arm's standard error over training seeds."""
    first = next(iter(summaries.values()), {})
    metric = metric or first.get("metric")
    scored = {name: summary for name, summary in summaries.items() if _number(summary.get(metric))}
    best = max(scored, key=lambda name: scored[name][metric], default=None)
    refs = {key: _known(scored.get(best, first).get(key)) for key in REFERENCES}
    ok = best is not None and _number(refs["floor"]) and _number(refs["frozen"]) and is_yardstick(
        refs["floor"], refs["floor_se"], refs["frozen"], refs["frozen_se"],
        scored[best][metric], _known(scored[best].get(f"{metric}_se")))
    return {"metric": metric, **{key: rounded(value) for key, value in refs.items()}, "best_arm": best,
            "yardstick": bool(ok)}


def task_yardstick(task: str, summaries: dict[str, dict], metric: str | None = None) -> dict:
    """:func:`yardstick`, announcing a task that is not one (its goal checks leave it out)."""
    block = yardstick(summaries, metric)
    if not block["yardstick"]:
        print(not_a_yardstick(task, block, summaries.get(block["best_arm"], {})), flush=True)
    return block


def not_a_yardstick(task: str, block: dict, best: dict) -> str:
    metric = block["metric"]
    numbers = (f"floor {_score(block['floor_name'], block['floor'], block['floor_se'])}",
               f"frozen {_score(block['frozen_name'], block['frozen'], block['frozen_se'])}",
               f"best {_score(block['best_arm'], best.get(metric), best.get(f'{metric}_se'))}")
    return (f"{task}: not a yardstick at this budget ({metric}: {', '.join(numbers)}; "
            f"a gap counts beyond {Z:g} standard errors)")


def _score(name: str | None, value, se) -> str:
    if not _number(value):
        return "unknown"
    text = f"{value:.3f}" + (f" +- {se:.3f}" if _number(se) else "")
    return f"{name} {text}" if name else text


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)


def _known(value):
    """None for a missing or NaN value (an unknown reference or error)."""
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _brief(metrics: dict) -> dict:
    keys = ("fit_seconds", "test/f1", "test/acc", "test/mrr", "test/floor", "test/frozen", metrics.get("monitor"))
    return {k: round(metrics[k], 4) for k in keys if _number(metrics.get(k))}


def rounded(value, digits: int = 4):
    """JSON-ready: floats rounded, NaN as null."""
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, digits)
    return value
