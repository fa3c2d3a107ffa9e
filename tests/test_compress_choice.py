"""benchmarks/compress.py's choice of distillation settings: on validation accuracy alone, the
earliest candidate on a tie, and the seeds run only with the chosen one (compress runs faked)."""
from __future__ import annotations

import importlib.util

import pytest

from conftest import ROOT


@pytest.fixture(scope="module")
def bench():
    # loaded by path: the name `compress` is also the top-level entry point
    spec = importlib.util.spec_from_file_location("benchmark_compress", ROOT / "benchmarks" / "compress.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def scored(val: float, test: float) -> dict:
    return {"student_fp32/val_accuracy": val, "student_fp32/accuracy": test}


def test_choice_is_by_validation_accuracy_never_test(bench):
    assert bench.choose_on_validation([scored(0.70, 0.95), scored(0.80, 0.50), scored(0.75, 0.99)]) == 1
    assert bench.choose_on_validation([scored(0.80, 0.50), scored(0.80, 0.99), scored(0.60, 1.0)]) == 0  # tie: grid order
    assert bench.choose_on_validation([{"student_fp32/val_accuracy": 0.5}]) == 0  # no test score needed


def test_grid_candidates_set_distillation_settings_only(bench):
    assert bench.candidate("distill.temperature=4 distill.hard_weight=0.5") == ["distill.temperature=4", "distill.hard_weight=0.5"]
    assert bench.candidate("") == []  # compress.yaml's defaults
    with pytest.raises(SystemExit):
        bench.main(["--candidate", "distill.temperature=4 search.arch=L1", "--tasks", "classify"])
    assert len(bench.DEFAULT_GRID) <= 4 and all(bench.candidate(" ".join(c)) == list(c) for c in bench.DEFAULT_GRID)


def test_seeds_run_with_the_candidate_chosen_on_validation(bench, monkeypatch):
    calls = []

    def fake_run(overrides):
        calls.append(overrides)
        soft = "distill.temperature=4" in overrides  # the better student on validation, the worse on test
        run = {"teacher_checkpoint": "t.ckpt", "search/picked": "L2 H32 A2 I64 V1000", "student/arch": "L2 H32 A2 I64 V1000",
               "search/seq_len": 40, "wall_seconds": 60.0, "test/floor_name": "majority_accuracy", "test/floor": 0.1,
               "speedup_b1": 6.0, "speedup_b32": 8.0, "student_fp32/val_accuracy": 0.8 if soft else 0.7}
        for name, acc in (("teacher", 0.9), ("student_fp32", 0.6 if soft else 0.85)):
            run.update({f"{name}/size_mb": 1.0, f"{name}/params": 10, f"{name}/latency_b1_ms": 2.0,
                        f"{name}/latency_b32_ms": 20.0, f"{name}/accuracy": acc, f"{name}/f1": acc})
        return run

    monkeypatch.setattr(bench, "compress", fake_run)
    line = bench.main(["--seeds", "0,1", "--tasks", "classify", "--candidate", "", "--candidate", "distill.temperature=4"])
    result = line["tasks"]["classify"]
    assert result["chosen"] == ["distill.temperature=4"]
    assert result["grid"] == [{"overrides": [], "val_accuracy": 0.7, "minutes": 1.0},
                              {"overrides": ["distill.temperature=4"], "val_accuracy": 0.8, "minutes": 1.0}]
    # two candidates at seed 0 (the second into the first one's architecture and teacher), then seed 1 alone:
    # the chosen candidate's run is the first seed's
    assert len(calls) == 3 and all("seed=0" in c for c in calls[:2]) and "seed=1" in calls[2]
    assert not any(o.startswith(("search.arch", "teacher=")) for o in calls[0])
    assert "search.arch='L2 H32 A2 I64 V1000'" in calls[1] and "teacher=t.ckpt" in calls[1]
    assert "distill.temperature=4" in calls[2] and "teacher=t.ckpt" in calls[2]
    assert result["student_fp32"]["accuracy"] == pytest.approx(0.6)  # the chosen one's test score, reported after
    assert "grid" not in bench.main(["--seeds", "0", "--tasks", "classify"])["tasks"]["classify"]
