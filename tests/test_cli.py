"""The scripts as users run them: clear one-line errors, multirun, and the ``select.py`` shadowing."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import ROOT, run_env

TINY_RUN = ["model=tiny", "logger=none", "trainer.max_steps=2", "trainer.limit_val_batches=1",
            "trainer.limit_test_batches=1", "task.max_train_examples=32", "task.max_eval_examples=8", "task.max_length=48"]


def script(*args: str, cwd=ROOT, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, env=run_env(), capture_output=True, text=True, timeout=timeout)


def error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    return lines[0]


def test_unknown_model_names_the_choice_and_options(tmp_path):
    result = script("train.py", "model=nosuch", f"hydra.run.dir={tmp_path}")
    assert result.returncode != 0
    assert "Could not find 'model/nosuch'" in result.stderr and "minilm" in result.stderr
    assert "Traceback" not in result.stderr


def test_freeze_deeper_than_the_model(tmp_path, code_tree):
    line = error_line(script("train.py", *TINY_RUN, "freeze=top99", f"data.source_dir={code_tree}", f"hydra.run.dir={tmp_path}"))
    assert "freeze='top99'" in line and "6 layers" in line


def test_missing_data_dir(tmp_path):
    line = error_line(script("train.py", *TINY_RUN, "task=defect", f"data.dir={tmp_path / 'missing'}", f"hydra.run.dir={tmp_path}"))
    assert str(tmp_path / "missing") in line


def test_unavailable_hub_model(tmp_path, code_tree):
    line = error_line(script("train.py", "model=codebert", "logger=none", f"data.source_dir={code_tree}", f"hydra.run.dir={tmp_path}"))
    assert "microsoft/codebert-base" in line and "model.path" in line


def test_multirun_writes_one_metrics_file_per_job(tmp_path, code_tree):
    result = script("train.py", "-m", *TINY_RUN, "task=defect,summarize", "freeze=none,top2",
                    f"data.source_dir={code_tree}", f"hydra.sweep.dir={tmp_path}")
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = sorted(tmp_path.glob("*/metrics.json"))
    assert len(jobs) == 4
    combos = {(m["task"], m["freeze"]) for m in map(lambda p: json.loads(p.read_text()), jobs)}
    assert combos == {("defect", "none"), ("defect", "top2"), ("summarize", "none"), ("summarize", "top2")}


@pytest.mark.parametrize("command", [["-c", "import subprocess, selectors, select; select.epoll"],
                                     ["-m", "pip", "--version"], ["-m", "pytest", "--version"]])
def test_select_py_does_not_shadow_the_standard_library(command):
    result = script(*command, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
