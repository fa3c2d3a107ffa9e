"""codereuse-train / -select / -compress: the Hydra apps of the three scripts, from any directory."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, run_env


def entry(name: str, *args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    code = f"import sys; sys.argv = ['codereuse-{name}', *sys.argv[1:]]; from codereuse.cli.entry import {name}; {name}()"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env or run_env(), capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("name, key", [("train", "freeze"), ("select", "probe"), ("compress", "budget_mb")])
def test_each_console_script_composes_its_config_outside_the_checkout(tmp_path, name, key):
    done = entry(name, "--cfg", "job", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"\n{key}:" in "\n" + done.stdout


def test_a_missing_conf_directory_is_one_line(tmp_path):
    env = {**run_env(), "CODEREUSE_CONF": str(tmp_path / "nowhere")}
    # the checkout's conf/ is still found, so point the package at a copy without one
    fake_install = tmp_path / "site" / "codereuse" / "cli" / "entry.py"  # no conf/ three levels up
    done = subprocess.run([sys.executable, "-c", "import codereuse.cli.entry as e; "
                           f"e.__file__ = {str(fake_install)!r}; e.conf_dir()"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "CODEREUSE_CONF" in done.stderr


def test_the_scripts_are_declared_in_pyproject():
    text = (ROOT / "pyproject.toml").read_text()
    for name in ("train", "select", "compress"):
        assert f'codereuse-{name} = "codereuse.cli.entry:{name}"' in text
