"""The torch side of a task family's output kind (``codereuse.families.Output``): the head a
:class:`~codereuse.methods.task_model.TaskModel` gets, its training loss, and how a
:class:`~codereuse.methods.base.ReuseModule` accumulates evaluation outputs and logs their metrics.

One handler per output kind, shared by every family of that kind (classification and pair both
predict labels; a paired family's head reads ``[u, v, |u - v|, u * v]`` of its two inputs).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from codereuse.families import LABEL, RANKING, TEXT, TaskFamily
from codereuse.methods.decoder import FreshDecoder
from codereuse.methods.heads import ClassificationHead, identity_projection
from codereuse.metrics import exact_match, mean_reciprocal_rank, smoothed_bleu
from codereuse.metrics.by_kind import accuracy_by_kind
from codereuse.metrics.classification import classification_metrics
from codereuse.utils.distributed import gather_lists

if TYPE_CHECKING:
    from codereuse.methods.base import ReuseModule
    from codereuse.methods.settings import TaskSettings
    from codereuse.methods.task_model import TaskModel


@dataclass
class TaskOutput:
    loss: torch.Tensor
    logits: torch.Tensor | None = None


class OutputHandler(ABC):
    """What differs between output kinds; ``store`` is the stage's list of accumulated outputs."""

    def build(self, model: TaskModel, task: TaskSettings) -> None:
        """Add the task head (and any decoder) to ``model``."""

    @abstractmethod
    def forward(self, model: TaskModel, batch: dict) -> TaskOutput:
        """The training loss of ``batch`` (and the logits, where the kind has them)."""

    def add_metrics(self, module: ReuseModule, task: TaskSettings) -> None:
        """Give ``module`` any metric state its stages update (registered as submodules)."""

    @abstractmethod
    def eval_step(self, module: ReuseModule, batch: dict, output: TaskOutput, stage: str, store: list) -> None:
        """Update the stage's metrics, or add to ``store`` what its epoch end scores."""

    @abstractmethod
    def eval_epoch_end(self, module: ReuseModule, stage: str, store: list) -> None:
        """Log the stage's metrics as ``<stage>/<metric>``."""


class Labels(OutputHandler):
    """A class per record: cross-entropy; accuracy, precision, recall and F1 (and, on test, the
    accuracy per example kind when the module has ``test_kinds``)."""

    def build(self, model: TaskModel, task: TaskSettings) -> None:
        hidden = model.backbone.config.hidden_size
        width = 4 * hidden if model.family.paired else hidden
        # task.head_hidden: the pair head at H is 4H x H (2.6% of MiniLM)
        model.head = ClassificationHead(width, task.head_hidden or hidden, task.num_classes, task.dropout)

    def forward(self, model: TaskModel, batch: dict) -> TaskOutput:
        logits = model.head(model.label_features(batch))
        return TaskOutput(F.cross_entropy(logits, batch["labels"]), logits)

    def add_metrics(self, module: ReuseModule, task: TaskSettings) -> None:
        module.val_metrics = classification_metrics(task.num_classes, "val/")
        module.test_metrics = classification_metrics(task.num_classes, "test/")

    def eval_step(self, module: ReuseModule, batch: dict, output: TaskOutput, stage: str, store: list) -> None:
        predicted = output.logits.argmax(dim=-1)
        getattr(module, f"{stage}_metrics").update(predicted, batch["labels"])
        if stage == "test" and module.test_kinds and "index" in batch:  # accuracy per example kind
            store.append((batch["index"], predicted, batch["labels"]))

    def eval_epoch_end(self, module: ReuseModule, stage: str, store: list) -> None:
        metrics = getattr(module, f"{stage}_metrics")
        module.log_dict(metrics.compute())
        metrics.reset()
        if store:  # logged, so they also come back from spawned DDP workers
            indices, predicted, labels = (module.all_gather(torch.cat([row[k] for row in store])).reshape(-1).tolist()
                                          for k in range(3))
            # dicts: DDP's padded repeats of an example collapse into one
            by_kind = accuracy_by_kind(module.test_kinds, dict(zip(indices, labels)), dict(zip(indices, predicted)))
            for kind, value in by_kind.items():
                module.log(f"test/acc/{kind}", value)


class Ranking(OutputHandler):
    """Embeddings of two inputs (queries and codes) under an in-batch contrastive loss; the mean
    reciprocal rank of each true pair among all of the stage's codes."""

    def build(self, model: TaskModel, task: TaskSettings) -> None:
        model.head = identity_projection(model.backbone.config.hidden_size)

    def forward(self, model: TaskModel, batch: dict) -> TaskOutput:
        scores = model.retrieval_scores(model.embed_queries(batch), model.embed_codes(batch))
        targets = torch.arange(scores.shape[0], device=scores.device)
        return TaskOutput(F.cross_entropy(scores, targets), scores)

    def eval_step(self, module: ReuseModule, batch: dict, output: TaskOutput, stage: str, store: list) -> None:
        store.append((module.model.embed_queries(batch), module.model.embed_codes(batch)))

    def eval_epoch_end(self, module: ReuseModule, stage: str, store: list) -> None:
        if not store:
            return
        queries = module.all_gather(torch.cat([q for q, _ in store])).reshape(-1, store[0][0].shape[-1])
        codes = module.all_gather(torch.cat([c for _, c in store])).reshape(-1, store[0][1].shape[-1])
        module.log(f"{stage}/mrr", mean_reciprocal_rank(queries @ codes.T), rank_zero_only=True)


class Text(OutputHandler):
    """Generated text: the backbone's own decoder, or a fresh one on an encoder-only backbone;
    smoothed BLEU-4 and exact match of the generations."""

    def build(self, model: TaskModel, task: TaskSettings) -> None:
        if model.spec.architecture == "encoder":
            backbone = model.backbone
            model.decoder = FreshDecoder(backbone.get_input_embeddings(), backbone.config.num_attention_heads,
                                         task.decoder_layers, task.max_target_length + 2, task.dropout)

    def forward(self, model: TaskModel, batch: dict) -> TaskOutput:
        return TaskOutput(model.seq2seq_loss(batch))

    def eval_step(self, module: ReuseModule, batch: dict, output: TaskOutput, stage: str, store: list) -> None:
        predictions = module.model.generate(batch, num_beams=module.task_settings.num_beams)
        store.extend(zip(predictions, batch["target_text"]))

    def eval_epoch_end(self, module: ReuseModule, stage: str, store: list) -> None:
        pairs = gather_lists(store)
        predictions, references = [p for p, _ in pairs], [r for _, r in pairs]
        module.log(f"{stage}/bleu", smoothed_bleu(predictions, references), rank_zero_only=True)
        module.log(f"{stage}/em", exact_match(predictions, references), rank_zero_only=True)
        module.examples = pairs[:5]


# by codereuse.families.Output.kind
HANDLERS: dict[str, OutputHandler] = {LABEL.kind: Labels(), RANKING.kind: Ranking(), TEXT.kind: Text()}


def handler(spec: TaskFamily) -> OutputHandler:
    return HANDLERS[spec.output.kind]
