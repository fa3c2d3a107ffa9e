"""``python train.py``: build the task, the strategy's LightningModule and the Trainer; fit, test, report."""
from __future__ import annotations

import contextlib
import time
from pathlib import Path

import pytorch_lightning as pl
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from pytorch_lightning.utilities.exceptions import SIGTERMException

from codereuse.training.preflight import check_run_config
from codereuse.training.report import print_table, write_metrics
from codereuse.training.resume import check_fits, read_checkpoint, restored_config, run_record
from codereuse.training.stopping import StopOnSigterm, last_checkpoint_path, resume_message
from codereuse.training.tracking import log_run_summary
from codereuse.evaluation.card import format_card
from codereuse.evaluation.floors import floor, floor_predictions, floor_se
from codereuse.data.datamodule import CodeDataModule, subsample
from codereuse.data.registry import load_task
from codereuse.errors import CodereuseError, ConfigError, Interrupted
from codereuse.metrics.by_kind import floor_by_kind, record_kinds, reference_by_kind
from codereuse.evaluation.frozen import MAX_TRAIN, Encoder, FrozenReference, frozen_reference


def run(cfg: DictConfig) -> dict:
    started = time.perf_counter()
    ckpt_path = _checked_ckpt_path(cfg.ckpt_path)
    if ckpt_path:  # the interrupted run's settings, unless this command line sets them again
        checkpoint = read_checkpoint(ckpt_path)
        record = run_record(checkpoint, ckpt_path)
        cfg = restored_config(cfg, record)
    check_run_config(cfg)  # cheap checks before the data build and the backbone load
    pl.seed_everything(cfg.seed, workers=True)
    output_dir = Path(cfg.paths.output_dir)

    data = load_task(cfg.task.name, source_dir=cfg.data.source_dir, data_dir=cfg.data.dir,
                     cache_dir=cfg.data.cache_dir, seed=cfg.data.seed, options=_plain(cfg.task.options))
    print(format_card(data))
    reference = frozen_reference_of(cfg, data, _test_subset(cfg, data)) if cfg.test else None
    module = build_module(cfg, data)
    module.run_record = {"config": _train_config(cfg), "overrides": _overrides()}
    if ckpt_path:
        check_fits(checkpoint, record, ckpt_path, cfg, module)
        del checkpoint
    datamodule = build_datamodule(cfg, data, module.tokenizer, module)
    if data.family in ("classification", "pair"):  # test row i is record i of the evaluated subset
        module.test_kinds = record_kinds(_test_subset(cfg, data))
    # an entry set to null (callbacks.progress_bar=null) is switched off
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values() if c is not None]
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c is not None]
    if cfg.get("analysis") is not None:  # analysis=layers: Telly's probes / drift around fit
        callbacks.append(instantiate(cfg.analysis))
    callbacks.append(StopOnSigterm())
    if ckpt_path:
        _continue_checkpoints_beside(ckpt_path, callbacks)
    # callbacks=none means no checkpoints at all, not Lightning's implicit default one
    checkpointing = any(isinstance(c, pl.callbacks.ModelCheckpoint) for c in callbacks)
    trainer: pl.Trainer = instantiate(cfg.trainer, logger=loggers or False, callbacks=callbacks,
                                      enable_checkpointing=checkpointing)

    counts = module.parameter_counts()
    for logger in loggers:
        logger.log_hyperparams({**_plain(cfg), **counts})
    try:
        fit_started = time.perf_counter()
        with _sigterm_as_interrupted(trainer, "training"):
            trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
        fit_seconds = time.perf_counter() - fit_started
        results = dict(trainer.callback_metrics)
        if cfg.test:
            best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
            with _sigterm_as_interrupted(trainer, "testing"):
                results.update(trainer.test(module, datamodule=datamodule, ckpt_path=best or None, verbose=False)[0])
        metrics = {key: float(value) for key, value in sorted(results.items()) if key.startswith(("val/", "test/"))}
        if cfg.test:
            evaluated = evaluated_test_records(cfg, data, trainer)
            metrics["test/floor_name"], metrics["test/floor"] = floor(data, evaluated)
            metrics["test/floor_se"] = floor_se(data, metrics["test/floor_name"], evaluated)
            if module.test_kinds:  # the floor's accuracy per kind, beside the model's
                floor_predicted = floor_predictions(data, metrics["test/floor_name"], evaluated)
                if floor_predicted is not None:
                    metrics.update(floor_by_kind(evaluated, floor_predicted))
            if reference is not None:
                if len(evaluated) != len(reference.per_example):  # limit_test_batches cut the split
                    reference = frozen_reference_of(cfg, data, evaluated, announce=False)
                metrics.update({"test/frozen_name": reference.name, "test/frozen": reference.score,
                                "test/frozen_se": reference.se})
                if module.test_kinds and reference.name.endswith("_accuracy"):
                    metrics.update(reference_by_kind(evaluated, reference.per_example, "frozen"))
        metrics.update(counts, trainable_fraction=counts["trainable_params"] / counts["total_params"],
                       fit_seconds=fit_seconds, wall_seconds=time.perf_counter() - started, **_run_identity(cfg, module))
        if trainer.is_global_zero:
            write_metrics(output_dir / "metrics.json", metrics)
            log_run_summary(loggers, metrics, output_dir)
            print_table(f"{cfg.model.name} / {cfg.task.name} / {_choice('strategy')} / {cfg.freeze.name}", metrics)
        return metrics
    finally:
        _finish_wandb(loggers)


def frozen_reference_of(cfg: DictConfig, data, records: list[dict], announce: bool = True) -> FrozenReference | None:
    """The untrained backbone's score on ``records`` (``frozen_reference=false`` or seq2seq: None)."""
    if not cfg.get("frozen_reference", True):
        return None
    if data.family == "seq2seq":
        if announce:
            print("frozen    none: an untrained decoder generates nothing worth scoring (seq2seq)")
        return None
    encoder = Encoder(_plain(cfg.model), cache_dir=cfg.data.cache_dir)
    # like the lexical floors, a property of the task: fitted on its training split, whatever the run's budget
    train = data.splits["train"]
    reference = frozen_reference(encoder, data.family, train, records, valid_records=data.splits["valid"],
                                 max_length=min(cfg.model.max_length, cfg.task.max_length),
                                 max_query_length=cfg.task.max_query_length, seed=cfg.data.seed)
    if announce:
        fitted = "no training" if data.family == "retrieval" else f"fitted on {min(len(train), MAX_TRAIN):,} training examples, C chosen on validation"
        print(f"frozen    {cfg.model.name} {reference.name} {reference.score:.3f} +- {reference.se:.3f}"
              f"  ({len(records):,} evaluated test records, {fitted})")
    return reference


def build_module(cfg: DictConfig, data) -> pl.LightningModule:
    task = {"name": data.name, "family": data.family, "num_labels": data.num_labels, "label_names": data.label_names,
            "max_target_length": cfg.task.max_target_length, "num_beams": cfg.task.num_beams,
            "dropout": cfg.task.get("dropout", 0.1), "head_hidden": cfg.task.get("head_hidden")}
    try:
        return instantiate(cfg.strategy, backbone=_plain(cfg.model), task=task, freeze=_plain(cfg.freeze),
                           seed=cfg.seed, _convert_="all")
    except InstantiationException as error:  # Hydra wraps what the module raised; show the user's error
        if isinstance(error.__cause__, CodereuseError):
            raise error.__cause__ from None
        raise


def build_datamodule(cfg: DictConfig, data, tokenizer, module=None) -> CodeDataModule:
    """``module`` may add per-row fields (the transducer's graphs) through ``module.row_fields``."""
    task = cfg.task
    return CodeDataModule(
        data, tokenizer, cfg.model.family, max_length=min(cfg.model.max_length, task.max_length),
        max_target_length=task.max_target_length, max_query_length=task.max_query_length,
        batch_size=task.batch_size, eval_batch_size=task.eval_batch_size, num_workers=cfg.data.num_workers,
        seed=cfg.seed, max_train_examples=task.max_train_examples, max_eval_examples=task.max_eval_examples,
        row_fields=getattr(module, "row_fields", None), subset_seed=cfg.data.seed,
    )


def _run_identity(cfg: DictConfig, module) -> dict:
    return {"model": cfg.model.name, "task": cfg.task.name, "strategy": _choice("strategy"),
            "freeze": cfg.freeze.name, "freeze_ignored": bool(getattr(module, "freeze_ignored", False)), "seed": cfg.seed}


def _choice(group: str) -> str:
    return HydraConfig.get().runtime.choices.get(group, "?") if HydraConfig.initialized() else "?"


def _test_subset(cfg: DictConfig, data) -> list[dict]:
    """The seeded ``task.max_eval_examples`` subset of the test split, in the datamodule's row order."""
    return subsample(data.splits["test"], cfg.task.max_eval_examples, cfg.data.seed)


def evaluated_test_records(cfg: DictConfig, data, trainer: pl.Trainer) -> list[dict]:
    """The test records the model was scored on: the seeded ``task.max_eval_examples`` subset the
    datamodule encodes, cut to the batches ``trainer.limit_test_batches`` let through."""
    records = _test_subset(cfg, data)
    batches = trainer.num_test_batches[0] if trainer.num_test_batches else float("inf")
    if batches != float("inf"):
        records = records[: int(batches) * (cfg.task.eval_batch_size or cfg.task.batch_size)]
    return records


def _train_config(cfg: DictConfig) -> dict:
    """The resolved config as plain data, without Hydra's own node (present under the compose API)."""
    return _plain(OmegaConf.masked_copy(cfg, [key for key in cfg if key != "hydra"]))


def _overrides() -> list[str]:
    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []


@contextlib.contextmanager
def _sigterm_as_interrupted(trainer: pl.Trainer, stage: str):
    # Lightning ends a SIGTERM'd epoch or evaluation with SIGTERMException, a SystemExit with status 0
    try:
        yield
    except SIGTERMException:
        path = last_checkpoint_path(trainer)  # StopOnSigterm.on_exception wrote it during fit
        if stage == "training" and path is not None and path.is_file():
            raise Interrupted(resume_message(stage, trainer.global_step, path)) from None
        raise Interrupted(f"SIGTERM during {stage} at step {trainer.global_step}") from None


def _checked_ckpt_path(path: str | None) -> str | None:
    if path and not Path(path).is_file():
        raise ConfigError("ckpt_path", path, hint="no such checkpoint file")
    return path


def _continue_checkpoints_beside(ckpt_path: str, callbacks: list) -> None:
    # Lightning restores the best score only if the checkpoint dir is unchanged; a resumed run gets
    # a new Hydra run dir, so keep checkpointing where the interrupted run did
    for callback in callbacks:
        if isinstance(callback, pl.callbacks.ModelCheckpoint):  # StopOnSigterm writes beside these
            callback.dirpath = str(Path(ckpt_path).resolve().parent)


def _plain(node):
    return OmegaConf.to_container(node, resolve=True) if node is not None else None


def _finish_wandb(loggers: list) -> None:
    # one W&B run per multirun job: close it even when the job fails
    if any(type(logger).__name__ == "WandbLogger" for logger in loggers):
        import wandb

        wandb.finish()
