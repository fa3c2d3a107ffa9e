"""Compressor: a tiny student architecture found by a genetic search under a hard size budget,
distilled from a fine-tuned teacher on unlabelled code, and exported for deployment.

- :mod:`.space`     the search space and analytic parameter / FLOP counts of a BERT student
- :mod:`.search`    NSGA-II (Optuna) over that space: GFLOPs, or (size, latency, GFLOPs) Pareto
- :mod:`.latency`   CPU latency measurement (median of repeated, interleaved runs)
- :mod:`.tokenizer` the student's byte-level BPE, trained on the unlabelled code
- :mod:`.teacher`   loading a teacher run / checkpoint, its soft labels (cached)
- :mod:`.student`   the student's data (pairs cross-encoded) and its HF / int8 / ONNX export
- :mod:`.plots`     Pareto and size/latency/accuracy plots
- :mod:`.pipeline`  ``python compress.py``: the steps below, in order
- :mod:`.settings`  the ``distill`` and ``search`` config groups, typed and checked
- :mod:`.teacher_run`  the teacher to distil (given, or fine-tuned once per configuration) and its task
- :mod:`.inputs`    which record fields hold code, and the student's sequence length
- :mod:`.transfer_set`  the unlabelled code distilled on, near-copies of held-out code left out
- :mod:`.distill`   the distillation loss and ``DistillationModule``
- :mod:`.student_training`  the student's init directory and its Lightning run
- :mod:`.comparison`  teacher next to each student form on the test split (accuracy, size, latency), and validation accuracy
- :mod:`.report`    metrics.json, search.json, plots, run summary and console table
"""
