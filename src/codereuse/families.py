"""Task families: the one table of what differs between classification, pair, retrieval and seq2seq
tasks (record fields, what the model encodes and outputs, the metrics it reports).

Code asks a task's :class:`TaskFamily` (``family(task.family)``) instead of comparing family names.
Plain data, no torch: importable from ``codereuse.data`` upwards. The parts that need torch or
scikit-learn live with their layer and are chosen by the family's :class:`Output` kind (the task
heads, losses and metric accumulation in ``codereuse.methods.outputs``) or by its name (the lexical
floors in ``codereuse.evaluation.floors``).

Adding a family: one :data:`FAMILIES` entry; with an output kind of its own, also a handler in
``methods.outputs.HANDLERS``; and its floors in ``evaluation.floors.FLOORS``
(``tests/test_families.py`` checks every family has them).
"""
from __future__ import annotations

from dataclasses import dataclass

from codereuse.errors import ConfigError


@dataclass(frozen=True)
class Output:
    """What a family's model predicts, and how that is scored."""
    kind: str  # label | ranking | text
    metrics: tuple[str, ...]  # logged as val/<metric> and test/<metric>
    floor_metric: str  # the suffix of its floors' names (``tfidf_logreg_accuracy``): the metric they sit beside
    frozen_reference: str | None  # the untrained backbone's reference score, if it has one


# a class per record (cross-entropy; torchmetrics accuracy, precision, recall, F1)
LABEL = Output("label", ("acc", "precision", "recall", "f1"), "accuracy", "linear_probe_accuracy")
# in-batch contrastive embeddings of two inputs, scored by the mean reciprocal rank of the true pair
RANKING = Output("ranking", ("mrr",), "mrr", "zero_shot_mrr")
# generated text (smoothed BLEU-4, exact match); an untrained decoder has nothing worth scoring
TEXT = Output("text", ("bleu", "em"), "bleu", None)


@dataclass(frozen=True)
class TaskFamily:
    name: str
    required_fields: tuple[str, ...]  # keys every record of the family has (the TaskData contract)
    inputs: tuple[str, ...]  # text fields the model encodes, each batched as <field>_ids / <field>_mask
    output: Output
    monitor: str  # the validation metric a task of the family selects checkpoints on by default
    code_fields: tuple[str, ...]  # inputs that hold code (the transducer's graphs are built from them)
    target: str | None = None  # the text field the model generates (seq2seq)
    # inputs truncated at task.max_query_length rather than task.max_length
    short_inputs: tuple[str, ...] = ()
    # two code inputs encoded alike, the head reading [u, v, |u - v|, u * v] (frozen probes too);
    # records are pairs of functions, so one function can be in two splits' pairs
    paired: bool = False
    # training uses the other examples of a batch as negatives: a last partial batch is dropped
    in_batch_negatives: bool = False

    @property
    def predicts_labels(self) -> bool:
        """Records carry a class ``label`` the model predicts (label floors, accuracy per kind)."""
        return self.output is LABEL

    @property
    def generates(self) -> bool:
        """The model generates ``target`` text: seq2seq decoders run, generation settings apply."""
        return self.output is TEXT

    @property
    def described_fields(self) -> tuple[str, ...]:
        """The text fields a dataset card gives lengths of: the inputs and the generated target."""
        return self.inputs + ((self.target,) if self.target else ())

    @property
    def metrics(self) -> tuple[str, ...]:
        return self.output.metrics

    def metric_keys(self, stage: str) -> tuple[str, ...]:
        """``("val/acc", ...)``: the keys the strategy module logs for this family at ``stage``."""
        return tuple(f"{stage}/{metric}" for metric in self.output.metrics)

    def length_limit(self, field: str, max_length: int, max_query_length: int) -> int:
        """The token limit of input ``field``."""
        return max_query_length if field in self.short_inputs else max_length

    def texts(self, records: list[dict]) -> list[tuple[str, ...]]:
        """Each record's input texts, in :attr:`inputs` order."""
        return [tuple(record[field] for field in self.inputs) for record in records]


FAMILIES: dict[str, TaskFamily] = {
    "classification": TaskFamily(
        "classification", required_fields=("code", "label"), inputs=("code",), output=LABEL, monitor="val/f1",
        code_fields=("code",)),
    "pair": TaskFamily(
        "pair", required_fields=("code1", "code2", "label"), inputs=("code1", "code2"), output=LABEL,
        monitor="val/f1", code_fields=("code1", "code2"), paired=True),
    "seq2seq": TaskFamily(
        "seq2seq", required_fields=("source", "target"), inputs=("source",), output=TEXT, monitor="val/bleu",
        code_fields=("source",), target="target"),
    "retrieval": TaskFamily(
        "retrieval", required_fields=("query", "code"), inputs=("query", "code"), output=RANKING,
        monitor="val/mrr", code_fields=("code",), short_inputs=("query",), in_batch_negatives=True),
}
NAMES: tuple[str, ...] = tuple(FAMILIES)


def family(name: str, key: str = "task.family") -> TaskFamily:
    """The family called ``name``; a ConfigError naming ``key`` and the known families otherwise."""
    try:
        return FAMILIES[name]
    except (KeyError, TypeError):
        raise ConfigError(key, name, NAMES) from None


def label_families() -> tuple[str, ...]:
    """The names of the families whose records carry class labels (probes, distillation)."""
    return tuple(name for name, spec in FAMILIES.items() if spec.predicts_labels)
