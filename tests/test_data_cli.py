"""``python -m codereuse.data build``: cards, one JSON summary line, clean argument errors."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from codereuse.data.__main__ import main


def test_build_prints_cards_and_a_json_summary(code_tree, tmp_path, capsys):
    # two tasks missing from the cache: built in two worker processes, then loaded
    argv = ["build", "task=summarize,classify,search", f"data.source_dir={code_tree}",
            f"data.cache_dir={tmp_path}", "seed=3"]
    assert main(argv) == 0
    out = capsys.readouterr().out.strip().splitlines()
    summary = json.loads(out[-1])
    assert list(summary["tasks"]) == ["summarize", "classify", "search"]
    assert summary["tasks"]["search"] == summary["tasks"]["summarize"]
    assert all(n > 0 for counts in summary["tasks"].values() for n in counts.values())
    # the copied stdlib packages all parse; their empty __init__.py files are skipped and counted
    empty = [p for p in code_tree.rglob("*.py") if "test" not in p.parts and not p.read_text().strip()]
    assert empty and summary["skipped_files"] == len(empty) and summary["seconds"] > 0
    text = "\n".join(out)
    for expected in ("== classify [classification] ==", "email", "json", "baseline  majority_accuracy",
                     "copy_bleu", "overlap_mrr", "p50/p90/p99"):
        assert expected in text
    # a second run loads everything from the cache and reports the same counts
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["tasks"] == summary["tasks"]


@pytest.mark.parametrize("argv, message", [
    ([], "missing the command 'build'"),
    (["train"], "expected the command 'build'"),
    (["build", "tasks=clone"], "unexpected argument 'tasks=clone'; allowed keys: task, data.source_dir"),
    (["build", "task=clone,nope"], "unknown task 'nope'"),
    (["build", "seed=one"], "seed=one is not an integer"),
    (["build", "data.source_dir="], "data.source_dir= needs a value"),
    (["build", "task=translate"], "translate has no embedded default"),
    (["build", "task=clone", "data.source_dir=/no/such/dir"], "data.source_dir=/no/such/dir is not a directory"),
])
def test_bad_arguments_exit_2_with_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err


def test_default_tasks_skip_what_the_source_cannot_provide(code_tree, tmp_path, capsys, monkeypatch):
    # a package without tests: assert has nothing to read, the library tasks still build
    source = tmp_path / "src"
    (source / "email").mkdir(parents=True)
    for path in (code_tree / "email").glob("*.py"):
        (source / "email" / path.name).write_bytes(path.read_bytes())
    (source / "email" / "broken.py").write_text("def broken(:\n")  # skipped files are counted once, not per task
    (source / "email" / "blob.py").write_bytes(b"\x00ELF")
    monkeypatch.setattr("codereuse.data.__main__.EMBEDDED_TASKS", ("summarize", "defect", "assert"))
    assert main(["build", f"data.source_dir={source}", f"data.cache_dir={tmp_path / 'cache'}"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out.strip().splitlines()[-1])
    assert list(summary["tasks"]) == ["summarize", "defect"] and summary["skipped_files"] == 2
    assert f"note: skipped task assert: task assert: no examples: {source} has no test files (test/, tests/, " \
           "test_*.py)\n" in captured.err
    assert main(["build", "task=summarize,assert", f"data.source_dir={source}",
                 f"data.cache_dir={tmp_path / 'cache'}"]) == 2  # asked for by name: an error


def test_module_entry_point_has_no_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "codereuse.data", "build", "task=clone", "seed=x"],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.strip() == "error: seed=x is not an integer"
