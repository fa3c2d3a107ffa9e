"""The two references a run's test score is read against, on the records the model was scored on:
the best learned lexical floor and the frozen pre-trained model (``test/floor*``, ``test/frozen*``,
and each one's accuracy per record kind where records have one)."""
from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from codereuse.evaluation.floors import floor, floor_predictions, floor_se
from codereuse.evaluation.frozen import MAX_TRAIN, Encoder, FrozenReference, frozen_reference
from codereuse.families import family
from codereuse.metrics.by_kind import floor_by_kind, record_kinds, reference_by_kind


def frozen_reference_of(cfg: DictConfig, data, records: list[dict], announce: bool = True) -> FrozenReference | None:
    """The untrained backbone's score on ``records`` (``frozen_reference=false`` or seq2seq: None)."""
    if not cfg.get("frozen_reference", True):
        return None
    task_family = family(data.family)
    if task_family.output.frozen_reference is None:
        if announce:
            print("frozen    none: an untrained decoder generates nothing worth scoring (seq2seq)")
        return None
    encoder = Encoder(OmegaConf.to_container(cfg.model, resolve=True), cache_dir=cfg.data.cache_dir)
    # like the lexical floors, a property of the task: fitted on its training split, whatever the run's budget
    train = data.splits["train"]
    reference = frozen_reference(encoder, data.family, train, records, valid_records=data.splits["valid"],
                                 max_length=min(cfg.model.max_length, cfg.task.max_length),
                                 max_query_length=cfg.task.max_query_length, seed=cfg.data.seed)
    if announce:
        fitted = "no training" if not task_family.predicts_labels else f"fitted on {min(len(train), MAX_TRAIN):,} training examples, C chosen on validation"
        print(f"frozen    {cfg.model.name} {reference.name} {reference.score:.3f} +- {reference.se:.3f}"
              f"  ({len(records):,} evaluated test records, {fitted})")
    return reference


def reference_metrics(cfg: DictConfig, data, evaluated: list[dict], reference: FrozenReference | None) -> dict:
    """The floor and the frozen reference on ``evaluated``; ``reference`` was computed on the whole
    evaluated subset and is recomputed when ``trainer.limit_test_batches`` cut it shorter."""
    metrics: dict = {}
    metrics["test/floor_name"], metrics["test/floor"] = floor(data, evaluated)
    metrics["test/floor_se"] = floor_se(data, metrics["test/floor_name"], evaluated)
    by_kind = record_kinds(evaluated) is not None and family(data.family).predicts_labels
    if by_kind:  # the floor's accuracy per kind, beside the model's
        floor_predicted = floor_predictions(data, metrics["test/floor_name"], evaluated)
        if floor_predicted is not None:
            metrics.update(floor_by_kind(evaluated, floor_predicted))
    if reference is not None:
        if len(evaluated) != len(reference.per_example):
            reference = frozen_reference_of(cfg, data, evaluated, announce=False)
        metrics.update({"test/frozen_name": reference.name, "test/frozen": reference.score,
                        "test/frozen_se": reference.se})
        if by_kind and reference.name.endswith("_accuracy"):
            metrics.update(reference_by_kind(evaluated, reference.per_example, "frozen"))
    return metrics
