"""benchmarks/gpu_check.py: its CPU dry run (the job matrix through train.py's run, the throughput arms,
select.py and compress.py) passes every job and writes its JSON line only where asked; the jobs it
skips are exactly ones the project refuses; a failed or late job is recorded, never fatal."""
from __future__ import annotations

import json
import sys

import pytest

from codereuse.errors import ConfigError
from codereuse.training.run import run
from conftest import ROOT, compose_train

sys.path.insert(0, str(ROOT / "benchmarks"))
import gpu_check  # noqa: E402

REFUSED = [(model, strategy, family) for model in ("tiny", "tiny_gpt", "tiny_t5") for strategy in gpu_check.STRATEGIES
           for family in gpu_check.FAMILY_TASKS if gpu_check.refusal(model, strategy, family)]


@pytest.mark.slow
def test_the_cpu_dry_run_passes_every_job_and_leaves_the_gpu_record_alone(tmp_path, code_tree, capsys):
    record = gpu_check.RECORD
    before = record.stat().st_mtime_ns if record.exists() else None
    out = tmp_path / "gpu-check.json"
    line = gpu_check.main(["--device", "cpu", "--source-dir", str(code_tree), "--out", str(out)])
    assert json.loads(out.read_text()) == line == json.loads(capsys.readouterr().out.splitlines()[-1])
    assert (record.stat().st_mtime_ns if record.exists() else None) == before
    assert (line["device"], line["precision"]) == ("cpu", "32-true")

    jobs = line["jobs"]
    assert set(jobs) == {f"tiny/{s}/{f}" for s in gpu_check.STRATEGIES for f in gpu_check.FAMILY_TASKS}
    assert {name for name, job in jobs.items() if job["ok"] is None} == {"tiny/transducer_output/seq2seq",
                                                                         "tiny/graph_only/seq2seq"}
    ran = [job for job in jobs.values() if job["ok"] is not None]
    assert {name: job["error"] for name, job in jobs.items() if job["ok"] is False} == {}
    assert all(job["seconds"] > 0 and job["peak_mem_gb"] is None for job in ran)

    throughput = line["throughput"]
    assert throughput["task"] == "search" and set(throughput["arms"]) == set(gpu_check.THROUGHPUT_ARMS)
    for arm in throughput["arms"].values():
        assert arm["ok"] and arm["steps"] > 0 and arm["steps_per_second"] > 0 and arm["later_steps_per_second"] > 0
    assert all(throughput[f"{prefix}speedup_{name}"] > 0 for prefix in ("", "later_") for name in ("top2", "top2_cached"))

    selection, distillation = line["selection"], line["distillation"]
    assert selection["ok"] and selection["extraction_device"] == "cpu" and len(selection["candidates"]) >= 2
    assert distillation["ok"] and distillation["distill_seconds"] > 0 and distillation["latency_device"] == "cpu"
    assert line["summary"] == {"ok": len(ran) + len(throughput["arms"]) + 2, "failed": 0, "skipped": 2}


def test_only_a_run_on_a_gpu_writes_the_gpu_record(tmp_path):
    out = tmp_path / "check.json"
    assert gpu_check.record_paths("cpu", None) == []
    assert gpu_check.record_paths("cpu", out) == [out]
    assert gpu_check.record_paths("cuda", None) == [gpu_check.RECORD]
    assert gpu_check.record_paths("cuda", out) == [gpu_check.RECORD, out]


@pytest.mark.parametrize(("model", "strategy", "family"), REFUSED, ids=["/".join(combination) for combination in REFUSED])
def test_a_skipped_combination_is_one_the_project_refuses(model, strategy, family, tmp_path, code_tree):
    overrides = [*gpu_check.job_overrides(gpu_check.BUDGETS["cpu"], model, strategy, family), "hardware=cpu"]
    with pytest.raises(ConfigError):
        run(compose_train(overrides, tmp_path, source_dir=code_tree))


def test_a_failed_job_records_its_last_line_and_a_late_one_is_skipped(capsys):
    jobs = gpu_check.Jobs("cpu", deadline=60)
    record, result = jobs.run("fails", lambda: 1 / 0)
    assert result is None and record["ok"] is False and record["error"] == "ZeroDivisionError: division by zero"
    assert jobs.run("runs", lambda: 42) == ({"ok": True, "seconds": pytest.approx(0, abs=0.5), "peak_mem_gb": None}, 42)
    jobs.deadline = 0
    record, result = jobs.run("late", lambda: pytest.fail("a job past the deadline must not start"))
    assert record == {"ok": None, "skipped": "deadline: not started within 0 s"} and result is None
    assert "[gpu-check] fails: FAILED: ZeroDivisionError" in capsys.readouterr().out
