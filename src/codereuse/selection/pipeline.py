"""``python select.py``: rank a pool of candidate models for a task from frozen features; with
``evaluate=true`` fine-tune them all (cached) and judge every ranking against that ground truth."""
from __future__ import annotations

import csv
import time
from pathlib import Path

import transformers
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from rich.console import Console
from rich.table import Table

from codereuse.data.registry import load_task
from codereuse.errors import ConfigError
from codereuse.families import family as task_family
from codereuse.models.features import device_name, extraction_device
from codereuse.selection.brute_force import cached_result, fine_tune, fine_tune_multirun, other_task_results
from codereuse.selection.candidates import build_pool, merge_equal_weights
from codereuse.selection.evaluation import comparison_order
from codereuse.selection.features import candidate_features, pool_features, resolve_precision
from codereuse.selection.ground_truth import choose_on_validation, tied_with_best, truth_draws
from codereuse.selection.layers import layer_curve, suggest_freeze_depth
from codereuse.selection.plots import layer_plot, score_vs_truth
from codereuse.selection.probe import probe_sample
from codereuse.selection.ranking import baseline_scores, evaluate_rankings, score_pool
from codereuse.training.report import write_metrics

TABLE_WIDTH = 120  # a terminal's width; every scorer's column is in selection.csv
SHOWN_SCORERS = 5


def run(cfg: DictConfig) -> dict:
    started = time.perf_counter()
    transformers.logging.set_verbosity_error()  # derived models reload without the pooler they never use
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    options = _plain(cfg.task.options) or {}
    data = load_task(cfg.task.name, source_dir=cfg.data.source_dir, data_dir=cfg.data.dir, cache_dir=cfg.data.cache_dir,
                     seed=cfg.data.seed, options=options)
    probe = probe_sample(data, cfg.probe.size, cfg.data.seed)
    print(f"probe sample: {len(probe.labels)} {data.name} training examples ({len(probe.texts)} texts), "
          f"class-balanced, seed {cfg.data.seed}")
    candidates, skipped = build_pool(_plain(cfg.pool), data.name)
    scorers = {name: instantiate(node) for name, node in (cfg.scorer or {}).items()}
    if not scorers:
        raise ConfigError("scorer", None, hint="choose scorer=all or one scorer name")

    precision, device = resolve_precision(cfg.probe.precision), device_name(extraction_device())
    print(f"feature extraction in {precision} on {device}")
    features, failed = pool_features(candidates, probe, pooling=cfg.probe.pooling, batch_size=cfg.probe.batch_size,
                                     max_length=min(cfg.probe.max_length, cfg.task.max_length), precision=precision)
    skipped += failed
    weights = {name: found.weights for name, found in features.items()}
    kept, same_weights = merge_equal_weights([c for c in candidates if c.name in features], weights)
    for name, others in same_weights.items():
        print(f"candidate {name} stands for {', '.join(others)} too: equal weights")
    if len(kept) < 2:
        raise ConfigError("pool", cfg.pool.name, hint=f"fewer than two distinct candidates loaded; skipped: {skipped}")
    features = {c.name: features[c.name] for c in kept}
    weights = {c.name: weights[c.name] for c in kept}
    scored = score_pool(kept, features, probe.labels, scorers)
    baselines = baseline_scores(scored, other_task_results(weights, data.name), cfg.seed)

    summary = {"task": data.name, "pool": cfg.pool.name, "candidates": [c.name for c in kept], "skipped": skipped,
               "probe_examples": int(len(probe.labels)), "extraction_seconds": scored.extraction_seconds,
               "extraction_device": device, "extraction_precision": precision,
               "scores": {**scored.scores, **baselines}, "scorer_seconds": scored.seconds,
               "labels": {c.name: c.label for c in kept}, "params": {n: f.params for n, f in features.items()},
               "same_weights": same_weights}
    truth = {}
    if cfg.evaluate:
        metric = ground_truth_metric(cfg.brute_force.metric, data.family, cfg.task.monitor)
        test_examples = _evaluated_test_count(cfg, data)
        truths, brute_seconds = _ground_truth(cfg, kept, weights, data.name, options, output_dir, metric, test_examples)
        truth = {name: t.value for name, t in truths.items()}
        evaluation = evaluate_rankings(scored, baselines, truth, probe.labels, scorers, draws=cfg.bootstrap.draws,
                                       fraction=cfg.bootstrap.fraction, seed=cfg.seed,
                                       truth_draws=truth_draws(truths, cfg.bootstrap.truth_draws, cfg.seed))
        tied = tied_with_best(truths)
        for entry in evaluation.values():  # a pick the ground truth cannot tell from the best
            entry["top1_within_truth_ties"] = bool(entry.get("top1_picks")) and set(entry["top1_picks"]) <= set(tied)
        summary.update(ground_truth_detail={name: {"lr": t.lr, "validation": t.validation, "test": list(t.test), "se": t.se}
                                            for name, t in truths.items()},
                       ground_truth_tied_best=tied, ground_truth_test_examples=test_examples)
        for entry in evaluation.values():
            entry["fraction_of_brute_force_time"] = entry["seconds"] / brute_seconds if brute_seconds else None
        summary.update(ground_truth=truth, brute_force_seconds=brute_seconds, evaluation=evaluation,
                       ground_truth_metric=f"test/{metric}")
        controls = {c.name for c in kept if c.control}
        summary["plot"] = str(score_vs_truth(output_dir / "selection.png", summary["scores"], truth, controls,
                                             evaluation, summary["ground_truth_metric"]))
    if cfg.layer_selection.model:
        summary["layer_selection"] = _layer_selection(cfg, kept, probe, output_dir)
    summary["wall_seconds"] = time.perf_counter() - started
    _write_csv(output_dir / "selection.csv", kept, summary, truth)
    write_metrics(output_dir / "metrics.json", summary)
    _print_ranking(summary, truth, output_dir / "selection.csv")
    _log_wandb(cfg, summary, output_dir)
    return summary


def ground_truth_metric(chosen: str | None, family: str, monitor: str) -> str:
    """The test metric the ground truth ranks by: ``brute_force.metric``, else accuracy on pair tasks
    (balanced; F1 scores a model that calls every pair a clone 0.67), else the task's monitor."""
    if chosen:
        return chosen
    return "acc" if task_family(family).paired else monitor.split("/", 1)[1]


def brute_force_overrides(cfg) -> list[str]:
    """The train.py overrides of every brute-force run (part of their cache key): the configured
    budget, plus the published files (``data.dir``) the candidates are trained on."""
    budget = list(cfg.brute_force.overrides)
    if cfg.data.dir:
        budget.append(f"data.dir={Path(cfg.data.dir).expanduser().resolve()}")
    return budget


def _ground_truth(cfg, candidates, weights, task, options, output_dir, metric, test_examples) -> tuple[dict, float]:
    """Every candidate fine-tuned at each rate of ``brute_force.lrs`` with each of ``brute_force.seeds``
    (cached, else trained in this process or as one ``train.py -m`` sweep per rate and seed), its
    rate chosen on validation: ``{name: CandidateTruth}`` and the brute force's total seconds."""
    launch = cfg.brute_force.launch
    if launch not in ("inline", "multirun"):
        raise ConfigError("brute_force.launch", launch, ["inline", "multirun"])
    runs, seconds = {}, 0.0
    for lr in cfg.brute_force.lrs:
        for seed in cfg.brute_force.seeds:
            common = {"task": task, "data_seed": cfg.data.seed, "seed": seed, "options": options,
                      "overrides": [*brute_force_overrides(cfg), f"strategy.optim.lr={lr}"]}
            results = _fine_tuned(cfg, candidates, weights, common, output_dir / "brute_force" / f"lr{lr}-seed{seed}", metric)
            for name, result in results.items():
                runs[(name, lr, seed)] = result
                seconds += result["seconds"] if result else 0.0
    truths = choose_on_validation(runs, metric, test_examples)
    for name, truth in truths.items():
        print(f"ground truth {name}: test/{metric}={truth.value:.4f} +- {truth.se:.4f} at lr {truth.lr:g} "
              f"(chosen on validation; {len(truth.test)} seeds)")
    if len(truths) < 2:
        raise ConfigError("brute_force", launch, hint="fewer than two candidates were fine-tuned; nothing to rank against")
    return truths, seconds


def _evaluated_test_count(cfg, data) -> int:
    """How many test examples each brute-force score is a mean over (the budget's max_eval_examples)."""
    limit = next((o.split("=", 1)[1] for o in cfg.brute_force.overrides if o.startswith("task.max_eval_examples=")),
                 cfg.task.max_eval_examples)
    size = len(data.splits["test"])
    return size if limit in (None, "null") else min(int(limit), size)


def _fine_tuned(cfg, candidates, weights, common: dict, output_dir: Path, metric: str) -> dict[str, dict | None]:
    """One rate and seed of the brute force: each candidate's cached or fresh result (None: failed)."""
    results = {c.name: cached_result(weights[c.name], metric, **common) for c in candidates}
    todo = [c for c in candidates if results[c.name] is None]
    if todo and cfg.brute_force.launch == "multirun":
        print(f"ground truth: fine-tuning {len(todo)} candidates (seed {common['seed']}, {common['overrides'][-1]}) "
              f"as one train.py multirun (launcher {cfg.brute_force.launcher or 'basic'})")
        found, failed = fine_tune_multirun({c.name: (c.spec, weights[c.name]) for c in todo}, **common,
                                           output_dir=output_dir, launcher=cfg.brute_force.launcher, metric=metric)
        results.update(found)
        for line in failed:
            print(f"ground truth {line}")
    for candidate in todo if cfg.brute_force.launch == "inline" else []:
        results[candidate.name] = fine_tune(candidate.name, candidate.spec, weights[candidate.name], **common,
                                            output_dir=output_dir, metric=metric)
    return results


def _layer_selection(cfg, candidates, probe, output_dir) -> dict:
    by_name = {c.name: c for c in candidates}
    name = cfg.layer_selection.model
    if name not in by_name:
        raise ConfigError("layer_selection.model", name, sorted(by_name))
    features = candidate_features(by_name[name].spec, probe, layers="all", pooling=cfg.probe.pooling,
                                  max_length=min(cfg.probe.max_length, cfg.task.max_length),
                                  batch_size=cfg.probe.batch_size, precision=resolve_precision(cfg.probe.precision))
    curves = {scorer: layer_curve(features, probe.labels, instantiate(node))
              for scorer, node in cfg.layer_selection.scorers.items()}
    first = next(iter(curves))
    suggestion = suggest_freeze_depth(curves[first], features.depth, cfg.layer_selection.tolerance)
    suggestion["scorer"] = first
    plot = layer_plot(output_dir / "layers.png", curves, name, suggestion)
    print(f"layer selection ({name}, {first}): best layer {suggestion['best_layer']} of {features.depth}; "
          f"suggested {suggestion['command']}")
    return {"model": name, "curves": curves, "suggestion": suggestion, "plot": str(plot)}


def _write_csv(path: Path, candidates, summary: dict, truth: dict) -> None:
    names = list(summary["scores"])
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["candidate", "kind", "params", *names, "ground_truth", "same_weights_as"])
        for c in candidates:
            writer.writerow([c.name, c.label, summary["params"][c.name],
                             *[summary["scores"][n].get(c.name, "") for n in names], truth.get(c.name, ""),
                             " ".join(summary.get("same_weights", {}).get(c.name, []))])


def _print_ranking(summary: dict, truth: dict, csv_path: Path) -> None:
    console = Console(width=TABLE_WIDTH)
    scores = summary["scores"]
    lead = next((n for n in ("logme", *scores) if n in scores and scores[n]), None)
    shown = _shown_scorers(summary, lead)
    table = Table(title=f"{summary['task']}: candidates ranked by {lead}", header_style="bold")
    for column in ("rank", "candidate", "kind", "params", *shown, *(["ground truth"] if truth else [])):
        table.add_column(column, justify="left" if column in ("candidate", "kind") else "right")
    order = sorted(summary["candidates"], key=lambda n: scores[lead].get(n, float("-inf")), reverse=True)
    for rank, name in enumerate(order, start=1):
        cells = [_fmt(scores[s].get(name)) for s in shown]
        shown_name = " = ".join([name, *summary.get("same_weights", {}).get(name, [])])
        table.add_row(str(rank), shown_name, summary["labels"][name], f"{summary['params'][name] / 1e6:.1f}M", *cells,
                      *([_fmt(truth.get(name))] if truth else []))
    console.print(table)
    if len(shown) < len(scores):
        console.print(f"{len(scores) - len(shown)} more scorers in {csv_path}")
    if "evaluation" in summary:
        _print_evaluation(console, summary)
    console.print(f"feature extraction {summary['extraction_seconds']:.1f} s (cold)"
                  + (f"; brute force {summary['brute_force_seconds']:.0f} s" if "brute_force_seconds" in summary else ""))


def _shown_scorers(summary: dict, lead: str | None) -> list[str]:
    """The lead scorer, then the best-ranking ones (by weighted tau when evaluated), up to the width."""
    evaluation = summary.get("evaluation", {})
    rest = [name for name in summary["scores"] if name != lead]
    if evaluation:
        order = comparison_order(evaluation)  # complete rankings first, by weighted tau
        rest.sort(key=lambda name: order.index(name) if name in order else len(order))
    return ([lead] if lead else []) + rest[: SHOWN_SCORERS - (1 if lead else 0)]


def _print_evaluation(console: Console, summary: dict) -> None:
    table = Table(title=f"rankings vs fine-tuned {summary['ground_truth_metric']}", header_style="bold")
    for column in ("scorer", "weighted tau [95% CI]", "kendall", "pearson", "top-1 regret", "wtau w/o controls",
                   "seconds", "% brute force"):
        table.add_column(column, justify="left" if column == "scorer" else "right")
    evaluation = summary["evaluation"]
    for name in comparison_order(evaluation):
        e = evaluation[name]
        label = f"{name}{' (baseline)' if e['kind'] == 'baseline' else ''}"
        if not e.get("complete", True):
            label += f" (incomplete, no score: {', '.join(e['missing'])})"
        regret = "n/a" if e["top1_regret"] is None else f"{e['top1_regret']:.1%}"
        if e.get("top1_regret_worst") is not None and e["top1_regret_worst"] > e["top1_regret"]:
            regret += f" (tie, worst {e['top1_regret_worst']:.1%})"
        ci = e.get("weighted_tau_ci")
        fraction = e.get("fraction_of_brute_force_time")
        table.add_row(label, _fmt(e["weighted_tau"]) + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else ""),
                      _fmt(e["kendall_tau"]), _fmt(e["pearson"]), regret,
                      _fmt(e["weighted_tau_no_controls"]), f"{e['seconds']:.1f}",
                      "n/a" if fraction is None else f"{fraction:.2%}")
    console.print(table)


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


def _log_wandb(cfg, summary: dict, output_dir: Path) -> None:
    if not cfg.get("logger") or "wandb" not in cfg.logger:
        return
    import wandb

    # the logger block interpolates train-only keys (model.name ...): log the selection's own config
    config = {key: _plain(cfg[key]) for key in ("task", "pool", "probe", "bootstrap", "brute_force", "data")}
    config.update(scorers=list(cfg.scorer), evaluate=cfg.evaluate, seed=cfg.seed)
    run = wandb.init(project=cfg.logger.wandb.project, dir=str(output_dir), job_type="select", config=config,
                     mode=cfg.logger.wandb.mode, name=f"select-{cfg.task.name}-{cfg.pool.name}")
    try:
        rows = [[name, summary["labels"][name], *[summary["scores"][s].get(name) for s in summary["scores"]],
                 summary.get("ground_truth", {}).get(name)] for name in summary["candidates"]]
        run.log({"selection": wandb.Table(columns=["candidate", "kind", *summary["scores"], "ground_truth"], data=rows)})
        if "plot" in summary:
            run.log({"selection_plot": wandb.Image(summary["plot"])})
        for name, entry in summary.get("evaluation", {}).items():
            run.summary.update({f"{name}/{k}": v for k, v in entry.items() if isinstance(v, (int, float))})
    finally:
        wandb.finish()


def _plain(node):
    return OmegaConf.to_container(node, resolve=True) if node is not None else None
