"""Model selection entry point: ``python select.py [task=clone] [pool=offline] [scorer=all] [evaluate=true]``.

This file's name shadows the standard-library module ``select`` whenever Python runs from the
repository root (the root is first on ``sys.path``), and ``subprocess`` imports ``select``: Hydra,
Lightning, wandb and even ``python -m pip`` would import this file instead. So, imported as
``select``, it loads the real extension module and puts it in ``sys.modules`` in its own place.
The CLI runs only as ``__main__`` and imports nothing heavy at module level, or every
``import subprocess`` would import the whole package and loop back here.
"""
import importlib.machinery as _machinery
import importlib.util as _util
import os as _os
import sys as _sys


def _load_stdlib_select():
    here = _os.path.dirname(_os.path.abspath(__file__))
    search = [p for p in _sys.path if _os.path.abspath(p or _os.curdir) != here]
    spec = _machinery.PathFinder.find_spec("select", search)
    if spec is None:
        raise ImportError("the standard-library 'select' module was not found")
    module = _util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


if __name__ != "__main__":
    _real = _load_stdlib_select()
    globals().update({k: v for k, v in vars(_real).items() if not k.startswith("__")})
    _sys.modules[__name__] = _real  # later imports get the real module itself
else:
    import hydra

    @hydra.main(version_base="1.3", config_path="conf", config_name="select")
    def main(cfg) -> None:
        from codereuse.cli.console import quiet_third_party
        from codereuse.errors import one_line_errors
        from codereuse.selection.pipeline import run

        quiet_third_party()
        with one_line_errors():
            run(cfg)

    main()
