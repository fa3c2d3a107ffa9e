"""Compressor: a tiny student architecture found by a genetic search under a hard size budget,
distilled from a fine-tuned teacher on unlabelled code, and exported for deployment.

- :mod:`.space`     the search space and analytic parameter / FLOP counts of a BERT student
- :mod:`.search`    NSGA-II (Optuna) over that space: GFLOPs, or (size, latency, GFLOPs) Pareto
- :mod:`.latency`   CPU latency measurement (median of repeated, interleaved runs)
- :mod:`.tokenizer` the student's byte-level BPE, trained on the unlabelled code
- :mod:`.teacher`   loading a teacher run / checkpoint, its soft labels (cached)
- :mod:`.student`   the student's data (pairs cross-encoded) and its HF / int8 / ONNX export
- :mod:`.plots`     Pareto and size/latency/accuracy plots
"""
