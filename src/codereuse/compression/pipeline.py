"""``python compress.py``: teacher -> architecture search under a hard size budget -> student BPE ->
distillation on unlabelled code -> test evaluation next to the teacher and the floor -> export."""
from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from codereuse.training.report import print_table, write_metrics
from codereuse.training.tracking import log_run_summary
from codereuse.compression import evaluate as ev
from codereuse.compression import student as student_lib
from codereuse.compression.plots import models_plot, search_plot
from codereuse.compression.search import ArchitectureSearch, SearchSettings, pick
from codereuse.compression.space import bert_config
from codereuse.compression.teacher import Teacher, TeacherTargets, load_teacher, teacher_targets
from codereuse.compression.tokenizer import train_bpe
from codereuse.data.cache import cache_key
from codereuse.evaluation.floors import floor
from codereuse.data.normalize import near_duplicate_key
from codereuse.data.registry import load_task, source_functions
from codereuse.data.tasks import code_only
from codereuse.errors import ConfigError
from codereuse.compression.distill import DistillationModule

COMPRESS_KEYS = ("teacher", "teacher_dir", "budget_mb", "search", "distill", "latency_repeats", "export_onnx")
TEACHER_IDENTITY = ("model", "task", "strategy", "freeze", "trainer", "hardware", "data", "seed")


def run(cfg: DictConfig) -> dict:
    started = time.perf_counter()
    out = Path(cfg.paths.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    # search settings checked before the teacher is trained, so a bad value costs nothing
    settings = SearchSettings(budget_mb=cfg.budget_mb, **{k: v for k, v in _plain(cfg.search).items() if k != "target_speedup"})
    with stage("teacher", seconds):
        teacher, teacher_note = resolve_teacher(cfg)
    print(f"teacher: {teacher_note}")
    data = load_data(cfg, teacher)
    family, num_labels = data.family, data.num_labels or 2
    pl.seed_everything(cfg.seed, workers=True)

    sources = unlabelled_sources(cfg, teacher, data)
    unlabelled = [record for rows in sources for record in rows]
    student_length = teacher.max_length * (2 if family == "pair" else 1)
    seq_len = student_lib.mean_length(unlabelled, teacher.module.tokenizer, family, student_length)
    teacher_b1 = ev.first_batch(ev.teacher_batches(teacher, data.splits["test"][:1], 1))
    search = ArchitectureSearch(settings, seq_len, student_length, num_labels)
    plan = (f"none, search.arch={settings.arch} given" if settings.arch else
            f"{settings.mode}, population {settings.population} x {settings.generations} generations")
    print(f"search: {plan}, budget {cfg.budget_mb:g} MB, sequence length {seq_len} (mean over {len(unlabelled)} inputs)")
    with stage("search", seconds):
        found = search.run()
    chosen, teacher_ms = found.best, None
    if settings.mode == "pareto":
        teacher_ms = ev.interleaved_latency_ms({"t": lambda: teacher.module.model(teacher_b1)}, repeats=settings.latency_repeats)["t"]
        chosen = pick(found.pareto, teacher_ms / cfg.search.target_speedup)
    plot = search_plot(found.evaluated, found.pareto, cfg.budget_mb, out / "search.png")

    student_dir = out / "student"
    with stage("tokenizer", seconds):
        tokenizer = train_bpe(_texts(unlabelled, family), chosen.arch.vocab)
    arch = dataclasses.replace(chosen.arch, vocab=len(tokenizer))  # a small corpus may allow fewer merges
    write_init(student_dir / "init", arch, student_length, num_labels, tokenizer, cfg.distill.dropout)
    with stage("soft_labels", seconds):
        # one cache entry per source of code: adding a source computes the teacher's outputs on it alone
        targets = TeacherTargets.concat([teacher_targets(teacher, rows, cfg.data.cache_dir, features=cfg.distill.feature_weight > 0)
                                         for rows in sources if rows])
    with stage("distill", seconds):
        module, trainer, loggers = distill(cfg, data, unlabelled, targets, student_dir, num_labels)
    example = ev.first_batch(student_lib.batches(data.splits["test"], tokenizer, family, student_length, 2))
    with stage("export", seconds):
        paths = student_lib.export(module.model, tokenizer, data.label_names, student_dir, example, cfg.export_onnx)
    with stage("evaluate", seconds):
        metrics = evaluate_all(cfg, teacher, data, paths, tokenizer, student_length)
    metrics.update(search_metrics(found, chosen, arch, seq_len, teacher_ms), teacher_checkpoint=str(teacher.checkpoint),
                   teacher_note=teacher_note, task=data.name, wall_seconds=time.perf_counter() - started,
                   **{f"seconds/{k}": v for k, v in seconds.items()})
    metrics["test/floor_name"], metrics["test/floor"] = floor(data)
    rows = {k: metrics[k] for k in ("teacher", "student_fp32", "student_int8", "student_onnx") if isinstance(metrics.get(k), dict)}
    models_plot(rows, out / "students.png")
    (out / "search.json").write_text(json.dumps([i.to_dict() for i in found.evaluated]) + "\n")
    flat = _flatten(metrics)
    write_metrics(out / "metrics.json", flat)
    log_run_summary(loggers, flat, out)
    print_table(f"compress {data.name}: {arch} ({plot.name}, students.png)", summary_rows(metrics))
    _finish_wandb(loggers)
    return flat


@contextlib.contextmanager
def stage(name: str, seconds: dict):
    started = time.perf_counter()
    yield
    seconds[name] = time.perf_counter() - started
    print(f"[compress] {name}: {seconds[name]:.1f} s")


# --- teacher -------------------------------------------------------------------------------------
def resolve_teacher(cfg: DictConfig) -> tuple[Teacher, str]:
    if cfg.teacher:
        return load_teacher(cfg.teacher), f"{cfg.teacher} (given)"
    train_cfg = teacher_train_config(cfg)
    run_dir = Path(train_cfg.paths.output_dir)
    if (run_dir / "metrics.json").is_file() and (run_dir / "checkpoints" / "best.ckpt").is_file():
        return load_teacher(run_dir), f"{run_dir} (reused: fine-tuned earlier with the same configuration)"
    print(f"teacher: none given; fine-tuning {cfg.model.name} on {cfg.task.name} into {run_dir} first")
    from codereuse.training.run import run as train

    train(train_cfg)
    return load_teacher(run_dir), f"{run_dir} (fine-tuned now: {cfg.model.name} on {cfg.task.name}, freeze={cfg.freeze.name})"


def teacher_train_config(cfg: DictConfig) -> DictConfig:
    """The train.py config the default teacher is fine-tuned with, in a directory named by its identity."""
    train_cfg = cfg.copy()
    with open_dict(train_cfg):
        for key in COMPRESS_KEYS:
            train_cfg.pop(key, None)
        identity = {k: _plain(train_cfg[k]) for k in TEACHER_IDENTITY if k in train_cfg}
        identity["trainer"].pop("default_root_dir", None)  # this run's output dir, not the teacher's identity
        train_cfg.paths.output_dir = str(Path(cfg.teacher_dir) / f"{cfg.model.name}-{cfg.task.name}-{cache_key(identity)}")
        train_cfg.ckpt_path = None
        train_cfg.test = True
    return train_cfg


def load_data(cfg: DictConfig, teacher: Teacher):
    """The teacher's task with the teacher's split (its run config when recorded, else this config's)."""
    task, data_cfg, split_seed = _teacher_data_config(cfg, teacher)
    if task["name"] != teacher.task["name"]:
        raise ConfigError("teacher", str(teacher.checkpoint), hint=f"trained on {teacher.task['name']}, config says {task['name']}")
    return load_task(task["name"], source_dir=data_cfg.get("source_dir"), data_dir=data_cfg.get("dir"),
                     cache_dir=cfg.data.cache_dir, seed=split_seed, options=task.get("options"))


def _teacher_data_config(cfg: DictConfig, teacher: Teacher) -> tuple[dict, dict, int]:
    """The teacher run's task and data config and its split seed (else this config's)."""
    run = teacher.config or {}
    data_cfg = run.get("data") or _plain(cfg.data)
    split_seed = data_cfg.get("seed", run.get("seed", cfg.seed))  # contract A: data.seed; older runs split by seed
    return run.get("task") or _plain(cfg.task), data_cfg, split_seed


def unlabelled_sources(cfg: DictConfig, teacher: Teacher, data) -> list[list[dict]]:
    """The distillation inputs, one list per source: the task's training inputs (labels kept only for
    the optional hard-label mix); with ``distill.task_source``, the rest of the task's own source
    (:func:`rest_of_task_source`); every input the same task builder makes from
    ``distill.extra_source_dir`` (its labels dropped)."""
    records = list(data.splits["train"])
    if cfg.distill.max_train_examples:
        records = records[: cfg.distill.max_train_examples]
    sources = [records]
    fields = ("code",) if data.family == "classification" else ("code1", "code2")
    if cfg.distill.task_source:
        rest = rest_of_task_source(cfg, teacher, data)
        kept = without_held_out(rest, data, fields)
        print(f"distill: + {len(kept)} functions of the task's own source that are none of its inputs, from files "
              f"without validation/test inputs ({len(rest) - len(kept)} left out: near-duplicates of validation/test code)")
        sources.append(kept)
    extra = cfg.distill.extra_source_dir
    if extra:
        task, _, split_seed = _teacher_data_config(cfg, teacher)
        options = task.get("options") or _plain(cfg.task.options)
        # the split seed, not the distillation seed: every seed distils the same unlabelled code
        more = load_task(data.name, source_dir=extra, cache_dir=cfg.data.cache_dir, seed=split_seed, options=options)
        added = [{f: r[f] for f in fields} for split in ("train", "valid", "test") for r in more.splits[split]]
        kept = without_held_out(added, data, fields)
        print(f"distill: {len(records)} task inputs + {len(kept)} unlabelled inputs from {extra} "
              f"({len(added) - len(kept)} left out: near-duplicates of the task's validation/test code)")
        sources.append(kept)
    return sources


def rest_of_task_source(cfg: DictConfig, teacher: Teacher, data) -> list[dict]:
    """Unlabelled code from the distribution the task was drawn from: every function of the task's
    source tree that is none of its inputs (the classes sampled down, the packages not chosen, ...),
    docstring removed as in the inputs, from files that hold no validation or test input."""
    if data.family != "classification":
        raise ConfigError("distill.task_source", True, hint=f"{data.name} inputs are pairs the task builds; "
                          "use distill.extra_source_dir=<tree> for more of them")
    rows = [r for split in data.splits.values() for r in split]
    if not all("file" in r for r in rows):
        raise ConfigError("distill.task_source", True, hint=f"{data.name} was read from published files, "
                          "which do not say which source file each input came from")
    held_out = {r["file"] for split in ("valid", "test") for r in data.splits[split]}
    seen = {r["code"] for r in rows}
    source_dir = _teacher_data_config(cfg, teacher)[1].get("source_dir")
    rest = []
    for function in source_functions(data.name, source_dir=source_dir, cache_dir=cfg.data.cache_dir):
        parsed = None if function["file"] in held_out else code_only(function)
        if parsed is not None and parsed[1] not in seen:
            seen.add(parsed[1])
            rest.append({"code": parsed[1]})
    return rest


def without_held_out(records: list[dict], data, fields: tuple[str, ...]) -> list[dict]:
    """``records`` minus those with an input that is a near-duplicate (names and literals abstracted)
    of a validation or test input: harvested code often vendors copies of the task's own source."""
    held_out = {near_duplicate_key(r[f]) for split in ("valid", "test") for r in data.splits[split] for f in fields}
    return [r for r in records if not any(near_duplicate_key(r[f]) in held_out for f in fields)]


# --- student -------------------------------------------------------------------------------------
def write_init(directory: Path, arch, max_positions: int, num_labels: int, tokenizer, dropout: float) -> None:
    """config.json + tokenizer: what ``model.source=config`` builds a randomly initialised student from."""
    directory.mkdir(parents=True, exist_ok=True)
    bert_config(arch, max_positions, num_labels, tokenizer, dropout).save_pretrained(directory)
    tokenizer.save_pretrained(directory)


def distill(cfg: DictConfig, data, unlabelled: list[dict], targets: TeacherTargets, student_dir: Path, num_labels: int):
    d = cfg.distill
    spec = {"name": "student", "family": "encoder", "source": "config", "path": str(student_dir / "init"),
            "max_length": int(bert_config_length(student_dir / "init")), "pooling": student_lib.POOLING}
    task = {"name": data.name, "family": "classification", "num_labels": num_labels, "label_names": data.label_names,
            "dropout": d.dropout}
    feature_size = None if targets.features is None else targets.features.shape[1]
    module = DistillationModule(spec, task, distill={"temperature": d.temperature, "hard_weight": d.hard_weight,
                                                     "feature_weight": d.feature_weight, "feature_size": feature_size},
                                optim=_plain(d.optim), seed=cfg.seed)
    module.set_soft_targets(targets.logits, targets.features)
    datamodule = student_lib.StudentDataModule(data.family, {"train": unlabelled, "valid": data.splits["valid"],
                                               "test": data.splits["test"]}, module.tokenizer, spec["max_length"],
                                               d.batch_size, d.eval_batch_size, cfg.seed, cfg.data.num_workers)
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values()]
    checkpoint = pl.callbacks.ModelCheckpoint(dirpath=str(student_dir / "checkpoints"), filename="best",
                                              monitor=cfg.task.monitor, mode=cfg.task.monitor_mode)
    trainer = instantiate(cfg.trainer, max_epochs=d.max_epochs, max_steps=d.max_steps, logger=loggers or False,
                          callbacks=[checkpoint, pl.callbacks.TQDMProgressBar(refresh_rate=10)],
                          default_root_dir=str(student_dir), enable_checkpointing=True)
    trainer.fit(module, datamodule=datamodule)
    if checkpoint.best_model_path:  # the best validation epoch, as train.py tests
        module.load_state_dict(torch.load(checkpoint.best_model_path, map_location="cpu", weights_only=False)["state_dict"],
                               strict=False)
    return module.eval(), trainer, loggers


def bert_config_length(directory: Path) -> int:
    return json.loads((directory / "config.json").read_text())["max_position_embeddings"]


# --- evaluation ----------------------------------------------------------------------------------
def evaluate_all(cfg: DictConfig, teacher: Teacher, data, paths: dict, tokenizer, student_length: int) -> dict:
    """Accuracy / F1 on the whole test split, size, parameters and latency of teacher and each student form."""
    test, family, num_labels = data.splits["test"], data.family, data.num_labels or 2
    batch = cfg.distill.eval_batch_size
    forms = {"teacher": ev.teacher_predict(teacher)}
    forms.update({f"student_{k}": ev.student_predict(k, paths) for k in ("fp32", "int8", "onnx") if k in paths})
    inputs = {name: (lambda size: ev.teacher_batches(teacher, test, size)) if name == "teacher" else
              (lambda size: student_lib.batches(test, tokenizer, family, student_length, size)) for name in forms}
    results, predicted = {}, {}
    for name, predict in forms.items():
        predicted[name], labels = ev.predictions(predict, inputs[name](batch))
        results[name] = ev.scores(predicted[name], labels, num_labels)
    timed = ev.latencies(forms, {n: {s: ev.first_batch(inputs[n](s)) for s in (1, 32)} for n in forms}, cfg.latency_repeats)
    teacher_params = sum(p.numel() for p in teacher.module.model.parameters())
    student_params = sum(p.numel() for p in student_lib.predictor_model(paths).parameters())
    for name, row in results.items():
        row.update(latency_b1_ms=timed[name][1], latency_b32_ms=timed[name][32],
                   params=teacher_params if name == "teacher" else student_params,
                   size_mb=(teacher_size_mb(teacher) if name == "teacher" else
                            student_lib.file_size(paths[name.removeprefix("student_")]) / 1e6))
        if name.startswith("student_") and name != "student_fp32":
            row["agreement_with_fp32"] = float((predicted[name] == predicted["student_fp32"]).float().mean())
    out = dict(results)
    out["speedup_b1"] = results["teacher"]["latency_b1_ms"] / results["student_fp32"]["latency_b1_ms"]
    out["speedup_b32"] = results["teacher"]["latency_b32_ms"] / results["student_fp32"]["latency_b32_ms"]
    out["accuracy_drop"] = results["teacher"]["accuracy"] - results["student_fp32"]["accuracy"]
    out["compression"] = results["teacher"]["size_mb"] / results["student_fp32"]["size_mb"]
    return out


def teacher_size_mb(teacher: Teacher) -> float:
    """The teacher's weights as fp32 safetensors would store them (its checkpoint also holds optimiser state)."""
    return 4 * sum(p.numel() for p in teacher.module.model.parameters()) / 1e6


def search_metrics(found, chosen, arch, seq_len: int, teacher_ms: float | None) -> dict:
    out = {"search/evaluated": len(found.evaluated), "search/repaired": found.repaired, "search/seq_len": seq_len,
           "search/best_gflops": found.best.gflops, "search/pareto_size": len(found.pareto),
           "student/arch": str(arch), "student/gflops": chosen.gflops, "student/size_mb_analytic": chosen.size_mb,
           **{f"student/{k}": v for k, v in arch.to_dict().items()}, "student/searched_vocab": chosen.arch.vocab,
           "search/picked": str(chosen.arch)}  # as search.arch= takes it (before the tokenizer's vocab adjustment)
    if teacher_ms is not None:
        out.update({"search/teacher_latency_b1_ms": teacher_ms, "student/search_latency_b1_ms": chosen.latency_ms,
                    "search/pareto": [i.to_dict() for i in found.pareto]})
    return out


def summary_rows(metrics: dict) -> dict:
    rows = {}
    for name in ("teacher", "student_fp32", "student_int8", "student_onnx"):
        if name in metrics:
            m = metrics[name]
            rows[name] = (f"{m['size_mb']:.2f} MB, {m['params']:,} params, acc {m['accuracy']:.4f}, f1 {m['f1']:.4f}, "
                          f"{m['latency_b1_ms']:.2f} ms @1, {m['latency_b32_ms']:.1f} ms @32"
                          + (f", agrees {m['agreement_with_fp32']:.4f}" if "agreement_with_fp32" in m else ""))
    rows.update({k: metrics[k] for k in ("speedup_b1", "accuracy_drop", "test/floor_name", "test/floor", "student/arch")})
    return rows


def _flatten(metrics: dict) -> dict:
    flat = {}
    for key, value in metrics.items():
        if isinstance(value, dict):
            flat.update({f"{key}/{k}": v for k, v in value.items()})
        else:
            flat[key] = value
    return flat


def _texts(records: list[dict], family: str) -> list[str]:
    first, second = student_lib.text_inputs(family, records)
    return first + (second or [])


def _plain(node):
    return OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node


def _finish_wandb(loggers: list) -> None:
    if any(type(logger).__name__ == "WandbLogger" for logger in loggers):
        import wandb

        wandb.finish()
