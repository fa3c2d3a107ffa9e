"""Telly's layer analysis inside training (``python train.py analysis=layers``).

At fit start: probes of the pre-trained backbone (optional) and a snapshot of its pooled features
on held-out functions. At fit end: the same features of the fine-tuned backbone, CKA/RSA drift per
layer and the suggested freeze depth. Results go to ``probes.*`` and ``drift.*`` in the run's
output dir, and to W&B (table + image) when the trainer has a WandbLogger.

The "before" features come from a fresh load of the pre-trained weights, not from the module at
fit start, so a run resumed from a checkpoint still compares against the pre-trained model. The
analysis runs on global rank zero; it needs unsharded weights (not FSDP/DeepSpeed stage 3).
"""
from __future__ import annotations

import pytorch_lightning as pl
from pytorch_lightning.loggers import WandbLogger

from codereuse.analysis.config import ProbeConfig, check_drift_options
from codereuse.analysis.drift import drift_table, function_features
from codereuse.models.features import check_layers, depth, pretrained_backbone, trained_backbone
from codereuse.analysis.probe_data import build_probe_set, clone_task, heldout_functions
from codereuse.analysis.probes import probe_layers
from codereuse.analysis.table import LayerTable
from codereuse.errors import ConfigError


class LayerAnalysisCallback(pl.Callback):
    def __init__(self, probe: bool = True, drift: bool = True, layers: list[int] | None = None,
                 threshold: float = 0.1, rsa: str = "spearman", out_dir: str | None = None,
                 progress: bool = True, **probe_set) -> None:
        """``probe_set``: the :class:`ProbeConfig` fields (max_functions, clone_pairs, ...)."""
        super().__init__()
        unknown = sorted(set(probe_set) - set(ProbeConfig.keys()))
        if unknown:
            raise ConfigError(f"analysis.{unknown[0]}", probe_set[unknown[0]], sorted(ProbeConfig.keys()))
        check_drift_options(threshold, rsa, prefix="analysis.")
        self.config = ProbeConfig(**probe_set)
        self.probe, self.drift, self.layers = probe, drift, layers
        self.threshold, self.rsa, self.out_dir, self.progress = threshold, rsa, out_dir, progress
        self.tables: dict[str, LayerTable] = {}  # "probes" / "drift" results, for callers after fit
        self._heldout: list[str] | None = None
        self._before = None

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.is_global_zero or not (self.probe or self.drift):
            return
        if self.drift:
            trained_backbone(pl_module)  # a strategy without drift fails now, not after training
        pretrained = pretrained_backbone(pl_module)
        pretrained.model.to(pl_module.device)
        task = clone_task(self.config, self.progress)
        if self.probe:
            probes = build_probe_set(pretrained.tokenizer, self.config, self.progress, task=task)
            layers = check_layers(self.layers, depth(pretrained))
            self._report(trainer, probe_layers(pretrained, probes, self.config, layers, progress=self.progress))
        if self.drift:
            self._heldout = heldout_functions(task, self.config)
            self._before = function_features(pretrained, self._heldout, self.config, "pre-trained features", self.progress)

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._before is None:
            return
        after = function_features(trained_backbone(pl_module), self._heldout, self.config, "fine-tuned features",
                                  self.progress)
        name = pl_module.hparams["backbone"]["name"]
        self._report(trainer, drift_table(self._before, after, name, self.threshold, self.rsa))
        self._before = None

    def _report(self, trainer: pl.Trainer, table: LayerTable) -> None:
        from codereuse.analysis.plots import save  # matplotlib only when files are written

        self.tables[table.kind] = table
        files = save(table, self.out_dir or trainer.default_root_dir)
        table.print()
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_table(key=f"analysis/{table.kind}", columns=table.columns, data=table.rows())
                logger.log_image(key=f"analysis/{table.kind}_plot", images=[files["png"]])
                if table.kind == "drift":
                    suggestion = table.info["suggestion"]
                    logger.experiment.summary.update({"analysis/suggested_freeze": suggestion["freeze"],
                                                      "analysis/first_drifting_layer": suggestion["first_drifting_layer"]})
