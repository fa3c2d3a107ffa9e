"""Predictions on a split (test, or validation), accuracy / F1, agreement between forms, and
interleaved latency of the teacher and every form of the student on real test inputs."""
from __future__ import annotations

from collections.abc import Callable, Iterable

import torch

from codereuse.compression import student as student_lib
from codereuse.compression.latency import interleaved_latency_ms
from codereuse.data.collate import Collator, encode_records
from codereuse.metrics.classification import classification_metrics

Predict = Callable[[dict], torch.Tensor]  # batch -> logits


def teacher_batches(teacher, records: list[dict], batch_size: int) -> Iterable[dict]:
    model = teacher.module.model
    rows = encode_records(records, model.tokenizer, teacher.task["family"], model.spec.architecture,
                          max_length=teacher.max_length, max_target_length=1)
    collate = Collator(model.tokenizer.pad_token_id, "test")
    for start in range(0, len(rows), batch_size):
        yield collate(rows[start:start + batch_size])


def teacher_predict(teacher) -> Predict:
    model = teacher.module.model.eval()
    return lambda batch: model(batch).logits


def student_predict(kind: str, paths: dict) -> Predict:
    forward = student_lib.predictor(kind, paths)
    return lambda batch: forward(batch["code_ids"], batch["code_mask"])


@torch.inference_mode()
def predictions(predict: Predict, batches: Iterable[dict]) -> tuple[torch.Tensor, torch.Tensor]:
    """(predicted labels, true labels) over all batches."""
    predicted, labels = [], []
    for batch in batches:
        predicted.append(predict(batch).argmax(dim=-1))
        labels.append(batch["labels"])
    return torch.cat(predicted), torch.cat(labels)


def scores(predicted: torch.Tensor, labels: torch.Tensor, num_labels: int) -> dict[str, float]:
    metrics = classification_metrics(num_labels, "")
    metrics.update(predicted, labels)
    values = {k: float(v) for k, v in metrics.compute().items()}
    return {"accuracy": values["acc"], "f1": values["f1"]}


def latencies(calls: dict[str, Predict], inputs: dict[str, dict[int, dict]], repeats: int) -> dict[str, dict[int, float]]:
    """Median ms per forward of each model at each batch size; all models interleaved per batch size."""
    out: dict[str, dict[int, float]] = {name: {} for name in calls}
    for size in (1, 32):
        timed = interleaved_latency_ms({n: (lambda n=n: calls[n](inputs[n][size])) for n in calls}, repeats=repeats)
        for name, value in timed.items():
            out[name][size] = value
    return out


def first_batch(batches: Iterable[dict]) -> dict:
    return next(iter(batches))
