"""The scripts as users run them: clear one-line errors, multirun, and the ``select.py`` shadowing."""
from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
import torch

from codereuse.models import load_backbone
from conftest import ROOT, compose_train, run_env
from test_errors import one_error_line, train

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


# --- resume, debug=fast, model.path, SIGTERM -------------------------------------------

def saved_tiny(directory) -> str:
    tiny = load_backbone({"name": "tiny", "source": "tiny", "pooling": "mean", "tiny": {"arch": "bert"}})
    tiny.model.save_pretrained(directory)
    tiny.tokenizer.save_pretrained(directory)
    return str(directory)


@pytest.mark.parametrize("model", sorted(p.stem for p in (ROOT / "conf" / "model").glob("*.yaml")))
def test_model_path_is_the_documented_spelling_for_every_model(model, tmp_path):
    cfg = compose_train([f"model={model}", f"model.path={tmp_path}"], tmp_path)
    assert cfg.model.path == str(tmp_path)


def test_debug_fast_model_path_and_resume_restore_the_run(capsys, tmp_path, code_tree):
    first = tmp_path / "first"
    status, err = train(capsys, "model=tiny", f"model.path={saved_tiny(tmp_path / 'tiny')}", "task=defect",
                        "freeze=none", "debug=fast", "logger=none", f"data.source_dir={code_tree}", f"hydra.run.dir={first}")
    assert status == 0, err[-3000:]
    metrics = json.loads((first / "metrics.json").read_text())
    # debug=fast validates and tests once: val metrics, a best checkpoint, the floor on the evaluated test batch
    assert "val/acc" in metrics and "test/acc" in metrics and (first / "checkpoints" / "best.ckpt").is_file()
    assert metrics["test/floor_name"] in ("majority_accuracy", "tfidf_logreg_accuracy") and 0.0 <= metrics["test/floor"] <= 1.0
    assert metrics["test/frozen_name"] == "linear_probe_accuracy" and 0.0 <= metrics["test/frozen"] <= 1.0
    last = first / "checkpoints" / "last.ckpt"
    record = torch.load(last, map_location="cpu", weights_only=True)["codereuse"]
    assert record["module_class"] == "codereuse.methods.finetune.FineTuneModule"
    assert record["config"]["freeze"]["name"] == "none" and "task=defect" in record["overrides"]

    # as the README shows it: nothing but ckpt_path; model, task, freeze and data come back
    status, err = train(capsys, f"ckpt_path={last}", f"hydra.run.dir={tmp_path / 'resumed'}")
    assert status == 0, err[-3000:]
    resumed = json.loads((tmp_path / "resumed" / "metrics.json").read_text())
    assert (resumed["model"], resumed["task"], resumed["freeze"]) == ("tiny", "defect", "none")

    line = one_error_line(*train(capsys, f"ckpt_path={last}", "freeze=top2", f"hydra.run.dir={tmp_path / 'bad'}"))
    assert str(last) in line and "freeze=none" in line and "freeze=top2" in line
    line = one_error_line(*train(capsys, f"ckpt_path={last}", "strategy=lora", f"hydra.run.dir={tmp_path / 'bad2'}"))
    assert "FineTuneModule" in line and "PeftModule" in line


def test_sigterm_finishes_the_step_writes_last_ckpt_and_resumes(tmp_path, code_tree):
    run_dir = tmp_path / "run"
    args = ["model=tiny", "logger=none", "task=defect", "trainer.max_steps=-1", "trainer.max_epochs=1",
            "task.max_train_examples=4000", "task.batch_size=1", "trainer.limit_val_batches=1",
            "trainer.limit_test_batches=1", "task.max_length=48", f"data.source_dir={code_tree}"]
    process = subprocess.Popen([sys.executable, "train.py", *args, f"hydra.run.dir={run_dir}"], cwd=ROOT, env=run_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # Lightning's bar is on stdout
    err = bytearray()
    reader = threading.Thread(target=lambda: [err.extend(chunk) for chunk in iter(lambda: process.stdout.read1(4096), b"")])
    reader.start()
    deadline = time.monotonic() + 240
    while not re.search(rb"Epoch 0:[^|]*\|[^|]*\| *[1-9]\d*/", bytes(err)):  # the progress bar shows steps done
        assert process.poll() is None and time.monotonic() < deadline, err.decode()[-3000:]
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    status = process.wait(timeout=60)
    reader.join()
    text = err.decode()
    stops = [line for line in text.splitlines() if line.startswith("stopped:")]
    assert status == 143 and len(stops) == 1 and "Traceback" not in text, text[-3000:]
    last = run_dir / "checkpoints" / "last.ckpt"
    assert str(last) in stops[0] and "ckpt_path=" in stops[0]
    step = torch.load(last, map_location="cpu", weights_only=True)["global_step"]
    assert step > 0

    resumed = script("train.py", f"ckpt_path={last}", f"trainer.max_steps={step + 2}", f"hydra.run.dir={tmp_path / 'resumed'}")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert torch.load(last, map_location="cpu", weights_only=True)["global_step"] == step + 2
    assert json.loads((tmp_path / "resumed" / "metrics.json").read_text())["task"] == "defect"


def test_sigterm_between_our_check_and_lightnings_still_writes_last_ckpt(capsys, monkeypatch, tmp_path, code_tree):
    # the module's batch-end hook runs after every callback's, so a flag set there is seen first by
    # Lightning's own check, which raises SIGTERMException: the race the subprocess test can hit
    from codereuse.methods.finetune import FineTuneModule

    def late_signal(self, outputs, batch, batch_idx):
        if batch_idx == 1:
            self.trainer._signal_connector.received_sigterm = True
    monkeypatch.setattr(FineTuneModule, "on_train_batch_end", late_signal, raising=False)
    run_dir = tmp_path / "run"
    status, err = train(capsys, "model=tiny", "logger=none", "task=defect", "trainer.max_steps=-1", "trainer.max_epochs=1",
                        "task.max_train_examples=64", "task.batch_size=4", "task.max_length=48",
                        f"data.source_dir={code_tree}", f"hydra.run.dir={run_dir}")
    last = run_dir / "checkpoints" / "last.ckpt"
    stops = [line for line in err.splitlines() if line.startswith("stopped:")]
    assert status == 143 and len(stops) == 1 and f"ckpt_path={last}" in stops[0], err[-2000:]
    assert torch.load(last, map_location="cpu", weights_only=True)["global_step"] == 2
