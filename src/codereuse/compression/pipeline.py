"""``python compress.py``: teacher -> architecture search under a hard size budget -> student BPE ->
distillation on unlabelled code (the transfer set, counted) -> export -> validation and test evaluation
next to the teacher and the floor -> report.
Each step lives in its own module; :func:`run` calls them in order and times them."""
from __future__ import annotations

import contextlib
import dataclasses
import time
from pathlib import Path

import pytorch_lightning as pl
from omegaconf import DictConfig

from codereuse.compression import evaluate as ev
from codereuse.compression import student as student_lib
from codereuse.compression.comparison import compare_models
from codereuse.compression.inputs import bpe_corpus, student_max_length
from codereuse.compression.lengths import LengthModel
from codereuse.compression.plots import search_plot
from codereuse.compression.report import search_metrics, write_report
from codereuse.compression.search import ArchitectureSearch, Individual, SearchResult, SearchSettings, pick
from codereuse.compression.settings import DistillSettings, plain, search_settings
from codereuse.compression.space import SearchSpace
from codereuse.compression.student_training import train_student, write_init
from codereuse.compression.teacher import Teacher, TeacherTargets, teacher_targets
from codereuse.compression.teacher_run import load_data, resolve_teacher
from codereuse.compression.tokenizer import train_bpe
from codereuse.compression.transfer_set import check_extra_source, transfer_set
from codereuse.evaluation.floors import floor, floor_se


def run(cfg: DictConfig) -> dict:
    started = time.perf_counter()
    out = Path(cfg.paths.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    # both setting groups are checked before the teacher trains, so a bad value costs nothing
    searching, distilling = search_settings(cfg), DistillSettings.from_dict(cfg.distill)
    if not cfg.teacher:  # the default teacher is fine-tuned on this config's data: refuse before it trains
        check_extra_source(distilling.extra_source_dir, plain(cfg.data))
    with stage("teacher", seconds):
        teacher, teacher_note = resolve_teacher(cfg)
    print(f"teacher: {teacher_note}")
    data = load_data(cfg, teacher)
    num_labels = data.num_labels or 2
    pl.seed_everything(cfg.seed, workers=True)

    transfer = transfer_set(cfg, distilling, teacher, data)
    unlabelled = [record for rows in transfer.rows for record in rows]
    student_length = student_max_length(teacher.max_length, data.family)
    with stage("lengths", seconds):  # the student's length at each vocabulary size the search may pick
        lengths = LengthModel.fit(unlabelled, data.family, student_length, length_sizes(searching), seed=cfg.seed)
    found, chosen, teacher_ms = search_architecture(cfg, searching, teacher, data, lengths, student_length, num_labels,
                                                    len(unlabelled), seconds)
    plot = search_plot(found.evaluated, found.pareto, cfg.budget_mb, out / "search.png")

    student_dir = out / "student"
    with stage("tokenizer", seconds):
        tokenizer = train_bpe(bpe_corpus(unlabelled, data.family), chosen.arch.vocab)
    arch = dataclasses.replace(chosen.arch, vocab=len(tokenizer))  # a small corpus may allow fewer merges
    write_init(student_dir / "init", arch, student_length, num_labels, tokenizer, distilling.dropout)
    with stage("soft_labels", seconds):
        targets = soft_labels(cfg, distilling, teacher, transfer.rows)
    with stage("distill", seconds):
        module, loggers = train_student(cfg, distilling, data, unlabelled, targets, student_dir, num_labels)
    example = ev.first_batch(student_lib.batches(data.splits["test"], tokenizer, data.family, student_length, 2))
    with stage("export", seconds):
        paths = student_lib.export(module.model, tokenizer, data.label_names, student_dir, example, cfg.export_onnx)
    with stage("evaluate", seconds):
        metrics = compare_models(teacher, data, paths, tokenizer, student_length, distilling.eval_batch_size,
                                 cfg.latency_repeats)

    metrics.update(search_metrics(found, chosen, arch, lengths(chosen.arch.vocab), teacher_ms),
                   **{f"search/seq_len_v{size}": length for size, length in zip(lengths.sizes, lengths.lengths)}, teacher_checkpoint=str(teacher.checkpoint),
                   teacher_note=teacher_note, task=data.name, **transfer.metrics(), wall_seconds=time.perf_counter() - started,
                   **{f"seconds/{k}": v for k, v in seconds.items()})
    metrics["test/floor_name"], metrics["test/floor"] = floor(data)
    metrics["test/floor_se"] = floor_se(data, metrics["test/floor_name"])
    metrics.update(teacher.frozen_reference())
    return write_report(out, metrics, found.evaluated, loggers, f"compress {data.name}: {arch} ({plot.name}, students.png)")


@contextlib.contextmanager
def stage(name: str, seconds: dict):
    started = time.perf_counter()
    yield
    seconds[name] = time.perf_counter() - started
    print(f"[compress] {name}: {seconds[name]:.1f} s")


def length_sizes(settings: SearchSettings) -> tuple[int, ...]:
    """The vocabulary sizes the length model trains a BPE at: the search space's smallest, largest and
    two between them (geometrically), or the fixed architecture's own."""
    if settings.fixed_arch is not None:
        return (settings.fixed_arch.vocab,)
    grid = SearchSpace.from_dict(settings.space).grid("vocab")
    low, high = grid[0], grid[-1]
    return tuple(sorted({low, round(low * (high / low) ** (1 / 3)), round(low * (high / low) ** (2 / 3)), high}))


def search_architecture(cfg: DictConfig, settings: SearchSettings, teacher: Teacher, data, lengths: LengthModel,
                        student_length: int, num_labels: int, inputs: int,
                        seconds: dict) -> tuple[SearchResult, Individual, float | None]:
    """The search's result, the student architecture it picks and, in pareto mode, the teacher's
    batch-1 latency that the pick is measured against (``search.target_speedup`` times faster)."""
    search = ArchitectureSearch(settings, lengths, student_length, num_labels)
    plan = (f"none, search.arch={settings.arch} given" if settings.arch else
            f"{settings.mode}, population {settings.population} x {settings.generations} generations")
    measured = ", ".join(f"{length:.0f} at V{size}" for size, length in zip(lengths.sizes, lengths.lengths))
    print(f"search: {plan}, budget {cfg.budget_mb:g} MB, student sequence length {measured} (mean over {inputs} inputs)")
    with stage("search", seconds):
        found = search.run()
    if settings.mode != "pareto":
        return found, found.best, None
    teacher_b1 = ev.first_batch(ev.teacher_batches(teacher, data.splits["test"][:1], 1))
    teacher_ms = ev.interleaved_latency_ms({"t": lambda: teacher.module.model(teacher_b1)}, repeats=settings.latency_repeats)["t"]
    return found, pick(found.pareto, teacher_ms / cfg.search.target_speedup), teacher_ms


def soft_labels(cfg: DictConfig, settings: DistillSettings, teacher: Teacher, sources: list[list[dict]]) -> TeacherTargets:
    """The teacher's outputs on the transfer set, row for row, with its features when feature
    distillation needs them; one cache entry per source, so adding a source computes it alone."""
    return TeacherTargets.concat([teacher_targets(teacher, rows, cfg.data.cache_dir, features=settings.feature_weight > 0)
                                  for rows in sources if rows])
