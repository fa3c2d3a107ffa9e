"""Telly's layer-wise study: per-layer probes (lexical, syntactic, structural, semantic),
representation drift between a pre-trained and a fine-tuned backbone (linear CKA, RSA), the freeze
depth it suggests, and plots.

Entry points: ``python -m codereuse.analysis probe|drift`` (:mod:`codereuse.analysis.__main__`) and
the training callback :class:`codereuse.analysis.callback.LayerAnalysisCallback`
(``python train.py analysis=layers``). Nothing is imported here, so the CLI starts light.
"""
