"""Common mistakes end in one line naming the key or the file, and exit status 2: ``train.py`` run
in this process (``runpy``, exactly as ``python train.py`` runs it, without paying the imports again)."""
from __future__ import annotations

import json
import logging
import runpy
import sys
from pathlib import Path

import pytest
from hydra.core.global_hydra import GlobalHydra

from codereuse.evaluation.card import format_card
from codereuse.data.readers import read_task
from codereuse.models import load_backbone
from conftest import ROOT

TINY = ["model=tiny", "logger=none", "trainer.max_steps=2", "task.max_train_examples=16", "task.max_eval_examples=8"]


def run_script(capsys, script: str, *args: str) -> tuple[int, str]:
    """``python <script> *args`` in this process: (exit status, stderr)."""
    GlobalHydra.instance().clear()
    argv = sys.argv
    sys.argv = [str(ROOT / script), *args]
    try:
        runpy.run_path(str(ROOT / script), run_name="__main__")
        status = 0
    except SystemExit as stop:
        status = stop.code
    finally:
        sys.argv = argv
    return status, capsys.readouterr().err


def train(capsys, *args: str) -> tuple[int, str]:
    """``python train.py *args``: (exit status, stderr)."""
    return run_script(capsys, "train.py", *args)


def one_error_line(status: int, stderr: str) -> str:
    assert status == 2, stderr[-2000:]
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr[-2000:]
    return lines[0]


@pytest.mark.parametrize("override, expected", [
    ("task.batch_size=0", ["task.batch_size=0", "at least 1"]),
    ("seed=abc", ["seed='abc'", "integer"]),
    ("trainer.max_epochs=-1 trainer.max_steps=-1", ["trainer.max_epochs=-1", "LR schedule needs a length"]),
    ("task.num_beams=0", ["task.num_beams=0"]),
])
def test_bad_values_are_named_before_any_work(capsys, tmp_path, code_tree, override, expected):
    # a source tree that is not cached yet: had the check come after the data build, it would harvest
    line = one_error_line(*train(capsys, *TINY, *override.split(), f"data.source_dir={code_tree}", f"hydra.run.dir={tmp_path}"))
    assert all(text in line for text in expected), line


def test_cache_pointing_at_a_regular_file(capsys, tmp_path, code_tree, monkeypatch):
    cache = tmp_path / "cache-file"
    cache.write_text("not a directory")
    monkeypatch.setenv("CODEREUSE_CACHE", str(cache))
    line = one_error_line(*train(capsys, *TINY, f"data.source_dir={code_tree}", f"hydra.run.dir={tmp_path}"))
    assert "CODEREUSE_CACHE" in line and str(cache) in line and "not a directory" in line


@pytest.mark.parametrize("damage", ["truncate", "garble"])
def test_damaged_safetensors_under_model_path(capsys, tmp_path, damage):
    model_dir = tmp_path / "model"
    tiny = load_backbone({"name": "tiny", "source": "tiny", "pooling": "mean", "tiny": {"arch": "bert"}})
    tiny.model.save_pretrained(model_dir)
    tiny.tokenizer.save_pretrained(model_dir)
    weights = model_dir / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"\x07garbled" * 64)
    # a data directory that does not exist: the weights must be reported first, before any data work
    status, stderr = train(capsys, *TINY, f"model.path={model_dir}", "task=defect",
                           f"data.dir={tmp_path / 'no-data'}", f"hydra.run.dir={tmp_path}")
    line = one_error_line(status, stderr)
    assert str(weights) in line and "safetensors" in line


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_data_files_all_empty(capsys, tmp_path):
    for split in ("train", "valid", "test"):
        write(tmp_path / "data" / f"{split}.jsonl", b"")
    line = one_error_line(*train(capsys, *TINY, "task=defect", f"data.dir={tmp_path / 'data'}", f"hydra.run.dir={tmp_path}"))
    assert str(tmp_path / "data") in line and "empty" in line


def test_data_file_entirely_non_utf8(capsys, tmp_path):
    rows = "".join(json.dumps({"func": f"int f{i}() {{ return {i}; }} // caf\u00e9", "target": i % 2}, ensure_ascii=False) + "\n" for i in range(5))
    train_file = write(tmp_path / "data" / "train.jsonl", rows.encode("latin-1"))  # every line holds an "é"
    line = one_error_line(*train(capsys, *TINY, "task=defect", f"data.dir={tmp_path / 'data'}", f"hydra.run.dir={tmp_path}"))
    assert str(train_file) in line and "not UTF-8" in line and "re-encode" in line


def test_wrong_format_for_the_task_names_expected_and_found_fields(capsys, tmp_path):
    rows = [{"code": "def f(): return 1", "docstring": "Return one."}] * 3  # CodeSearchNet rows given to defect
    train_file = write(tmp_path / "data" / "train.jsonl", "".join(json.dumps(r) + "\n" for r in rows).encode())
    line = one_error_line(*train(capsys, *TINY, "task=defect", f"data.dir={tmp_path / 'data'}", f"hydra.run.dir={tmp_path}"))
    assert str(train_file) in line and "func, target" in line and "found fields: code, docstring" in line


def test_undecodable_lines_are_counted_as_lines_and_warned_about(tmp_path, caplog):
    good = [json.dumps({"func": f"int f{i}() {{ return {i}; }}", "target": i % 2}).encode() for i in range(30)]
    write(tmp_path / "train.jsonl", b"\n".join([*good, b"\xff\xfe latin garbage", b"\xe9t\xe9"]) + b"\n")
    with caplog.at_level(logging.WARNING):
        data = read_task("defect", tmp_path)
    assert data.skipped == {"non_utf8_lines": 2}
    assert "other: non_utf8_lines 2" in format_card(data)  # lines, not files
    assert any("2 of 32 lines (6.2%) were dropped" in record.getMessage() for record in caplog.records)
