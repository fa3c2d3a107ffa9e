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

from codereuse.checkpoints import load_checkpoint
from codereuse.data.datamodule import CodeDataModule
from codereuse.data.registry import load_task
from codereuse.errors import CodereuseError, ConfigError, Interrupted, first_line
from codereuse.evaluation.card import format_card
from codereuse.methods.settings import TaskSettings
from codereuse.training.preflight import check_run_config
from codereuse.training.references import frozen_reference_of, reference_metrics
from codereuse.training.report import print_table, write_metrics
from codereuse.training.resume import RunRecord, check_fits, restored_config, run_record
from codereuse.training.stopping import StopOnSigterm, last_checkpoint_path, resume_message
from codereuse.training.tracking import log_run_summary


def run(cfg: DictConfig) -> dict:
    started = time.perf_counter()
    ckpt_path = _checked_ckpt_path(cfg.ckpt_path)
    checkpoint = record = None
    if ckpt_path:  # the interrupted run's settings, unless this command line sets them again
        # the module is built from the config, not from the file's hyperparameters
        checkpoint = load_checkpoint(ckpt_path, "ckpt_path", builds_model=False)
        record = run_record(checkpoint, ckpt_path)
        cfg = restored_config(cfg, record, ckpt_path)
    check_run_config(cfg)  # cheap checks before the data build and the backbone load
    pl.seed_everything(cfg.seed, workers=True)

    data = load_task(cfg.task.name, source_dir=cfg.data.source_dir, data_dir=cfg.data.dir,
                     cache_dir=cfg.data.cache_dir, seed=cfg.data.seed, options=_plain(cfg.task.options))
    print(format_card(data))
    module = build_module(cfg, data)
    if checkpoint is not None:
        check_fits(checkpoint, record, ckpt_path, cfg, module)
        del checkpoint
    datamodule = build_datamodule(cfg, data, module.tokenizer, module)
    reference = frozen_reference_of(cfg, data, datamodule.records("test")) if cfg.test else None
    trainer, loggers = build_trainer(cfg, ckpt_path)
    counts = module.parameter_counts()
    for logger in loggers:
        logger.log_hyperparams({**_plain(cfg), **counts})
    try:
        fit_started = time.perf_counter()
        metrics = _fit_and_test(cfg, trainer, module, datamodule, ckpt_path)
        fit_seconds = time.perf_counter() - fit_started
        if cfg.test:
            metrics.update(reference_metrics(cfg, data, datamodule.test_records(trainer), reference))
        metrics.update(counts, trainable_fraction=counts["trainable_params"] / counts["total_params"],
                       fit_seconds=fit_seconds, wall_seconds=time.perf_counter() - started, **_run_identity(cfg, module))
        if trainer.is_global_zero:
            output_dir = Path(cfg.paths.output_dir)
            write_metrics(output_dir / "metrics.json", metrics)
            log_run_summary(loggers, metrics, output_dir)
            print_table(f"{cfg.model.name} / {cfg.task.name} / {_choice('strategy')} / {cfg.freeze.name}", metrics)
        return metrics
    finally:
        _finish_wandb(loggers)


def build_trainer(cfg: DictConfig, ckpt_path: str | None = None) -> tuple[pl.Trainer, list]:
    """The Trainer with the config's loggers and callbacks, the analysis callback, SIGTERM handling
    and the run record every checkpoint carries."""
    # an entry set to null (callbacks.progress_bar=null) is switched off
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values() if c is not None]
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c is not None]
    if cfg.get("analysis") is not None:  # analysis=layers: Telly's probes / drift around fit
        callbacks.append(instantiate(cfg.analysis))
    callbacks += [StopOnSigterm(), RunRecord(_train_config(cfg), _overrides())]
    if ckpt_path:
        _continue_checkpoints_beside(ckpt_path, callbacks)
    # callbacks=none means no checkpoints at all, not Lightning's implicit default one
    checkpointing = any(isinstance(c, pl.callbacks.ModelCheckpoint) for c in callbacks)
    try:
        trainer = instantiate(cfg.trainer, logger=loggers or False, callbacks=callbacks, enable_checkpointing=checkpointing)
    except InstantiationException as error:  # conflicting Trainer flags: Lightning's own sentence says which
        raise ConfigError("trainer", _choice("trainer"), hint=first_line(error.__cause__ or error)) from None
    return trainer, loggers


def _fit_and_test(cfg: DictConfig, trainer: pl.Trainer, module, datamodule, ckpt_path: str | None) -> dict:
    """``val/`` and ``test/`` metrics of the fit, then of the test split with the best checkpoint."""
    with _sigterm_as_interrupted(trainer, "training"):
        # weights only, as load_checkpoint read it: Lightning reads the file again to restore the loops
        trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
    results = dict(trainer.callback_metrics)
    if cfg.test:
        best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
        with _sigterm_as_interrupted(trainer, "testing"):
            results.update(trainer.test(module, datamodule=datamodule, ckpt_path=best or None, verbose=False,
                                        weights_only=True)[0])
    return {key: float(value) for key, value in sorted(results.items()) if key.startswith(("val/", "test/"))}


def build_module(cfg: DictConfig, data) -> pl.LightningModule:
    task = TaskSettings.for_task(data, cfg.task).to_dict()
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
        data, tokenizer, cfg.model.architecture, max_length=min(cfg.model.max_length, task.max_length),
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
