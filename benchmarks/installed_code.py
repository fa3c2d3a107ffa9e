"""Copy the Python source of installed third-party packages into one tree: unlabelled code for
``compress.py distill.extra_source_dir=`` (real code that is not the standard library the embedded
tasks are built from). Test directories are left out. Prints one JSON line ``{"files", "packages"}``.

    python benchmarks/installed_code.py /tmp/installed-code            # the packages below
    python benchmarks/installed_code.py DEST numpy sympy               # chosen packages
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import sys
from pathlib import Path

# the set the compress benchmark was measured with (all installed by `make setup`)
PACKAGES = ("sympy", "networkx", "scipy", "sklearn", "matplotlib", "transformers", "optuna", "sqlalchemy",
            "pygments", "rich", "aiohttp", "httpx", "click", "jinja2", "hydra", "omegaconf", "fontTools", "PIL",
            "huggingface_hub", "alembic", "fsspec", "yaml", "numpy")


def package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    locations = list(spec.submodule_search_locations or []) if spec else []
    return Path(locations[0]) if locations else None


def copy_sources(dest: Path, packages: tuple[str, ...]) -> dict:
    copied, found = 0, []
    for name in packages:
        root = package_dir(name)
        if root is None:
            print(f"installed_code: {name} is not an installed package; skipped", file=sys.stderr)
            continue
        found.append(name)
        for source in sorted(root.rglob("*.py")):
            relative = source.relative_to(root.parent)
            if "tests" in relative.parts:
                continue
            target = dest / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            copied += 1
    return {"files": copied, "packages": found}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path)
    parser.add_argument("packages", nargs="*", default=list(PACKAGES))
    args = parser.parse_args()
    print(json.dumps(copy_sources(args.dest, tuple(args.packages))))


if __name__ == "__main__":
    main()
