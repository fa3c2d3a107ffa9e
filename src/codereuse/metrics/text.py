"""Generation metrics as fractions in [0, 1].

``smoothed_bleu`` is the CodeXGLUE/CodeSearchNet summarisation metric: sentence-level BLEU-4 with
add-one smoothing of the higher-order n-gram precisions (Lin & Och 2004), averaged over examples.
"""
from __future__ import annotations

from collections.abc import Sequence

from sacrebleu.metrics import BLEU

_SENTENCE_BLEU = BLEU(smooth_method="add-k", smooth_value=1, effective_order=True, tokenize="13a")


def smoothed_bleu(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Mean smoothed sentence BLEU-4 as a fraction; 0.0 for an empty list."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
    if not predictions:
        return 0.0
    total = sum(_SENTENCE_BLEU.sentence_score(p.strip(), [r.strip()]).score for p, r in zip(predictions, references))
    return total / len(predictions) / 100.0


def exact_match(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Fraction of predictions equal to their reference after whitespace normalisation."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
    if not predictions:
        return 0.0
    hits = sum(" ".join(p.split()) == " ".join(r.split()) for p, r in zip(predictions, references))
    return hits / len(predictions)
