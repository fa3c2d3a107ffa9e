"""Console scripts ``codereuse-train``, ``codereuse-select`` and ``codereuse-compress``: the same Hydra
apps as ``train.py``, ``select.py`` and ``compress.py``, runnable from any directory.

The configs are the project's ``conf/``: ``$CODEREUSE_CONF`` if set, else the checkout this package
was installed from (``pip install -e .``), else ``./conf``. Run directories are relative to the
working directory, as with the scripts.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import hydra


def conf_dir() -> Path:
    candidates = [os.environ.get("CODEREUSE_CONF"), Path(__file__).resolve().parents[3] / "conf", Path.cwd() / "conf"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "train.yaml").is_file():
            return Path(candidate).resolve()
    print("error: cannot find codereuse's conf/ directory (with train.yaml); set CODEREUSE_CONF=<checkout>/conf",
          file=sys.stderr)
    raise SystemExit(2)


def _app(config_name: str, run_module: str):
    def run_app(cfg):
        import importlib

        from codereuse.cli.console import quiet_third_party
        from codereuse.errors import one_line_errors

        run = importlib.import_module(run_module).run
        quiet_third_party()
        with one_line_errors():
            result = run(cfg)
        if config_name == "train":  # a sweep's objective, as train.py returns it
            from codereuse.sweep import objective

            return objective(result, cfg.get("optimized_metric"))
        return None

    def main() -> None:
        hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name=config_name)(run_app)()

    return main


train = _app("train", "codereuse.training.run")
select = _app("select", "codereuse.selection.pipeline")
compress = _app("compress", "codereuse.compression.pipeline")
