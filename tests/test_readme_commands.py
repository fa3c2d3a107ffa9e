"""Every ``python train.py ...`` line of the README's "Using it" block runs, as written, on ``model=tiny``
with a few steps (the lines are read from README.md, so a changed README is tested as changed)."""
from __future__ import annotations

import json
import re
import shlex

import pytest

from conftest import ROOT
from test_errors import train

# a few steps of the tiny model; a documented line's own settings come after these, so they win
FEW_STEPS = ["logger=none", "trainer.max_steps=2", "trainer.limit_val_batches=1", "trainer.limit_test_batches=1",
             "task.max_train_examples=32", "task.max_eval_examples=8", "task.max_length=48"]
NEEDS_HUB = re.compile(r"\bmodel=(codebert|graphcodebert|unixcoder|roberta_base|codet5\w*|plbart_base|codegpt_small|codegen\w*)\b")


def documented_lines() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Using it", 1)[1]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.strip().startswith("python train.py")]


def as_tiny(arguments: list[str]) -> list[str]:
    """The line's arguments with every model choice replaced by ``tiny``."""
    return [re.sub(r"^model=.*", "model=tiny", a) for a in arguments]


def test_the_readme_documents_train_lines():
    lines = documented_lines()
    assert len(lines) >= 6 and any("ckpt_path=" in line for line in lines) and any("debug=fast" in line for line in lines)


def test_every_documented_train_line_runs(capsys, tmp_path, code_tree):
    first_run = None
    ran, skipped = [], []
    for number, line in enumerate(documented_lines()):
        arguments = shlex.split(line)[2:]
        if NEEDS_HUB.search(line):
            skipped.append((line, "needs hub weights (offline test); model.path is tested in test_cli"))
            continue
        data = f"data.source_dir={code_tree}"
        out = tmp_path / f"line{number}"
        if any(a.startswith("ckpt_path=") for a in arguments):
            assert first_run is not None, "the resume line needs an earlier run"
            # resumed exactly as written: the run's own overrides come back from its checkpoint
            arguments = [f"ckpt_path={first_run / 'checkpoints' / 'last.ckpt'}"]
            extra = []
        elif "debug=fast" in arguments:
            extra = ["logger=none", data]  # debug=fast's own budget
        else:
            extra = [*FEW_STEPS, data]
        if not any(a.startswith("model=") for a in arguments):
            extra.insert(0, "model=tiny")
        where = f"hydra.sweep.dir={out}" if "-m" in arguments else f"hydra.run.dir={out}"
        flags = [a for a in arguments if a.startswith("-")]  # Hydra's flags (-m) before any override
        overrides = [a for a in as_tiny(arguments) if not a.startswith("-")]
        status, err = train(capsys, *flags, *extra, *overrides, where)
        assert status == 0, f"{line}\n{err[-3000:]}"
        metrics = sorted(out.glob("**/metrics.json"))
        assert metrics and all("test/loss" in json.loads(p.read_text()) for p in metrics), line
        if "-m" in arguments:
            assert len(metrics) == 4, line  # tasks x freeze policies, the model list collapsed to tiny
        if first_run is None and not arguments[1:] and "-m" not in arguments:
            first_run = out
        ran.append(line)
    assert len(ran) >= 6, (ran, skipped)
    print("skipped:", skipped)
