"""Accuracy / precision / recall / F1 (binary, or macro-averaged multi-class) via torchmetrics."""
from __future__ import annotations

from torchmetrics import MetricCollection
from torchmetrics.classification import Accuracy, F1Score, Precision, Recall


def classification_metrics(num_labels: int, prefix: str) -> MetricCollection:
    if num_labels == 2:
        kwargs = {"task": "binary"}
    else:
        kwargs = {"task": "multiclass", "num_classes": num_labels, "average": "macro"}
    metrics = {"acc": Accuracy(**{**kwargs, "average": "micro"} if num_labels > 2 else kwargs),
               "precision": Precision(**kwargs), "recall": Recall(**kwargs), "f1": F1Score(**kwargs)}
    return MetricCollection(metrics, prefix=prefix)
