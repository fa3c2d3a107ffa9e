"""PEFT baselines (LoRA, prefix tuning, prompt tuning) through ``peft.get_peft_model``.

The freeze policy does not apply here (peft freezes the whole backbone itself); a non-trivial
``freeze`` is recorded as ignored rather than failing, so mixed sweeps never die on it.
"""
from __future__ import annotations

from peft import LoraConfig, PrefixTuningConfig, PromptTuningConfig, TaskType, get_peft_model
from torch import nn

from codereuse.errors import ConfigError
from codereuse.methods.base import ReuseModule
from codereuse.models import Backbone

CONFIGS = {"lora": LoraConfig, "prefix": PrefixTuningConfig, "prompt": PromptTuningConfig}
TASK_TYPES = {"encoder": TaskType.FEATURE_EXTRACTION, "encoder-decoder": TaskType.SEQ_2_SEQ_LM, "decoder": TaskType.CAUSAL_LM}


class PeftModule(ReuseModule):
    def __init__(self, backbone: dict, task: dict, adapter: dict, freeze: dict | None = None,
                 optim: dict | None = None, seed: int = 0) -> None:
        # a copy: save_hyperparameters() reads the ``adapter`` argument itself, method included
        options = dict(adapter)
        self.method = options.pop("method", None)
        if self.method not in CONFIGS:
            raise ConfigError("strategy.adapter.method", self.method, sorted(CONFIGS))
        self.adapter_options = options
        self.freeze_ignored = bool(freeze) and freeze.get("mode", "none") != "none"
        # prefix/prompt act inside PeftModel.forward, so the task model must call the wrapper
        self.through_wrapper = self.method != "lora"
        super().__init__(backbone, task, optim, seed)

    def adapt_backbone(self, backbone: Backbone) -> nn.Module:
        if self.method == "prefix" and backbone.spec.architecture == "encoder-decoder" and not self.family.generates:
            # peft puts seq2seq prefixes in the decoder, which these tasks never run: nothing would train
            raise ConfigError("strategy", "prefix", "lora, prompt",
                              f"prefix tuning of encoder-decoder {backbone.spec.name} only works on seq2seq tasks")
        try:
            config = CONFIGS[self.method](task_type=TASK_TYPES[backbone.spec.architecture], **self.adapter_options)
        except TypeError as error:
            raise ConfigError(f"strategy.adapter ({self.method})", self.adapter_options, hint=str(error)) from None
        try:
            return get_peft_model(backbone.model, config)
        except (ValueError, NotImplementedError) as error:
            raise ConfigError("strategy", self.method, hint=f"peft cannot wrap {backbone.spec.name}: {error}") from None
