"""Which clone pairs a frozen encoder can tell apart: a probe's accuracy per pair kind.

    python benchmarks/clone_kinds.py [--model minilm] [--train 2400] [--max-length 128]

Frozen final-layer features of both sides (mean-pooled, through the analysis package's
``layer_features``), the clone head's pair features [u, v, |u-v|, u*v], a logistic probe fitted on
the train pairs and scored on the whole test split: overall and per kind (``rewrite`` positives,
``hard_negative`` rewritten mutants, ``sibling`` negatives), with the mean cosine of the two sides per
kind and the task's trivial floors beside it. Prints one JSON line.
"""
from __future__ import annotations

import argparse
import json

import numpy as np
import torch
from omegaconf import OmegaConf
from sklearn.linear_model import LogisticRegression

from common import compose_train

from codereuse.models.features import layer_features
from codereuse.evaluation.floors import floors
from codereuse.data.datamodule import subsample
from codereuse.data.registry import load_task
from codereuse.methods.heads import pair_features
from codereuse.models import load_backbone


def side_features(backbone, records: list[dict], field: str, max_length: int) -> np.ndarray:
    depth = backbone.model.config.num_hidden_layers
    texts = [r[field] for r in records]
    return layer_features(backbone, texts, layers=[depth], max_length=max_length, batch_size=32,
                          desc=field).pooled[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--train", type=int, default=2400, help="train pairs for the probe (seeded subset)")
    parser.add_argument("--max-length", type=int, default=128)
    args = parser.parse_args()
    cfg = compose_train([f"model={args.model}", "task=clone", "logger=none"])
    data = load_task("clone", source_dir=cfg.data.source_dir, cache_dir=cfg.data.cache_dir, seed=cfg.data.seed,
                     options=dict(cfg.task.options))
    backbone = load_backbone(OmegaConf.to_container(cfg.model, resolve=True))
    train, test = subsample(data.splits["train"], args.train, cfg.data.seed), data.splits["test"]
    sides = {name: [side_features(backbone, rs, f, args.max_length) for f in ("code1", "code2")]
             for name, rs in (("train", train), ("test", test))}
    # the clone head's own pair features (one definition), on tensors
    X = {name: pair_features(torch.from_numpy(u), torch.from_numpy(v)).numpy() for name, (u, v) in sides.items()}
    y_train, y_test = np.array([r["label"] for r in train]), np.array([r["label"] for r in test])
    predicted = LogisticRegression(max_iter=5000).fit(X["train"], y_train).predict(X["test"])
    u, v = sides["test"]
    cosine = (u * v).sum(1) / np.linalg.norm(u, axis=1) / np.linalg.norm(v, axis=1)
    kinds = {}
    for kind in sorted({r["kind"] for r in test}):
        rows = np.array([i for i, r in enumerate(test) if r["kind"] == kind])
        kinds[kind] = {"pairs": len(rows), "probe_acc": round(float((predicted[rows] == y_test[rows]).mean()), 3),
                       "mean_cosine": round(float(cosine[rows].mean()), 3)}
    print(json.dumps({"model": args.model, "train_pairs": len(train), "test_pairs": len(test),
                      "probe_acc": round(float((predicted == y_test).mean()), 3), "kinds": kinds,
                      "floors": {k: round(v, 3) for k, v in floors(data, test).items()}}))


if __name__ == "__main__":
    main()
