"""CPU latency: median wall time of repeated calls, interleaved across models so that load on a
shared machine hits every model alike (ratios stay fair even when absolute times drift)."""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch

# where every timed model runs (the teacher as loaded from its checkpoint, the exported students):
# the deployment target this measures, whatever accelerator trained them
LATENCY_DEVICE = "cpu"


def interleaved_latency_ms(calls: dict[str, Callable[[], object]], repeats: int = 20, warmup: int = 2,
                           threads: int = 1) -> dict[str, float]:
    """Median milliseconds per call of each ``calls[name]``, run round-robin ``repeats`` times.

    On ``threads`` intra-op threads (default 1, as ONNX Runtime is run): a laptop-style single-stream
    measure that a busy shared machine disturbs least."""
    times: dict[str, list[float]] = {name: [] for name in calls}
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _timed(calls, times, repeats, warmup)
    finally:
        torch.set_num_threads(previous)


def _timed(calls, times, repeats: int, warmup: int) -> dict[str, float]:
    with torch.inference_mode():
        for _ in range(warmup):
            for call in calls.values():
                call()
        for _ in range(repeats):
            for name, call in calls.items():
                started = time.perf_counter()
                call()
                times[name].append((time.perf_counter() - started) * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


def latency_ms(call: Callable[[], object], repeats: int = 20, warmup: int = 2) -> float:
    return interleaved_latency_ms({"call": call}, repeats, warmup)["call"]
