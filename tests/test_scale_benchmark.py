"""benchmarks/scale.py --quick: tiny pairs and functions sets, each size measured in its own process,
one JSON line of the documented shape; more pairs of the same functions encode no more sequences."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import ROOT

SIZE_KEYS = {"rows", "build_seconds", "read_seconds", "setup_seconds", "sequences_encoded", "tokens_encoded",
             "encode_seconds", "encode_seconds_all", "cache_memory_gb", "cache_disk_gb", "cache_plan", "cache_fits",
             "cached_seconds_per_1k_pairs", "states_computed_in_steps", "peak_rss_gb"}


def test_quick_run_reports_every_size_and_the_goals(tmp_path):
    out, png = tmp_path / "scale.json", tmp_path / "scale.png"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # tiny model: threads cost more than they save
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "scale.py"), "--quick", "--out", str(out),
                           "--plot", str(png)], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    (printed,) = done.stdout.strip().splitlines()  # one JSON line on stdout, progress on stderr
    line = json.loads(printed)
    assert json.loads(out.read_text()) == line and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert {"pairs", "functions", "goals", "model", "max_length", "steps", "command"} <= set(line)

    pairs = line["pairs"]
    small, large = (pairs["sizes"][size] for size in sorted(pairs["sizes"], key=int))
    assert all(SIZE_KEYS <= set(size) for size in (small, large))
    assert small["rows"]["train"] < large["rows"]["train"] and small["rows"]["valid"] == large["rows"]["valid"]
    # the same functions: the same distinct sequences to encode, all of them encoded, none in the timed steps
    assert small["sequences_encoded"] == large["sequences_encoded"] == pairs["functions"] == small["encoded"]
    assert small["tokens_encoded"] == large["tokens_encoded"]
    assert large["states_computed_in_steps"] == 0 and large["cache_fits"] is True
    assert "uncached_seconds_per_1k_pairs" in large and "uncached_seconds_per_1k_pairs" not in small
    assert pairs["peak_rss_gb_full"] == large["peak_rss_gb"] > 0
    assert pairs["encode_cost_ratio_full_vs_small"] > 0

    functions = line["functions"]
    (size,) = functions["sizes"].values()
    assert SIZE_KEYS <= set(size) and size["rows"]["train"] == functions["available"]
    # a sample is encoded (at least the timed steps' sequences), the rest estimated from it
    assert size["encoded"] == size["encoded_sample"] < size["sequences_encoded"]
    assert size["encode_seconds_all"] > size["encode_seconds"] and size["states_computed_in_steps"] == 0
    assert size["cache_plan"]["sequences"] >= size["sequences_encoded"]

    goals = line["goals"]
    assert set(goals) == {"encode_cost_ratio_full_vs_small", "peak_rss_gb_full", "cached_speedup"}
    assert all({"goal", "value", "met"} <= set(goal) and isinstance(goal["met"], bool) for goal in goals.values())
    assert goals["peak_rss_gb_full"]["value"] == pairs["peak_rss_gb_full"]
