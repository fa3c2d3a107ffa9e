"""The package's layers: nothing below the command line imports it, and subpackages form no cycle."""
from __future__ import annotations

import ast
import graphlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "codereuse"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT / "src").with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, at module level or inside a function, relative imports resolved."""
    name = module_name(path) if PACKAGE in path.parents else path.stem  # benchmarks/: top-level scripts
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def subpackage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "codereuse" and len(parts) > 1 else None


def test_nothing_outside_the_command_line_layer_imports_it():
    offenders = [f"{path.relative_to(ROOT)} imports {module}"
                 for path in [*PACKAGE.rglob("*.py"), *(ROOT / "benchmarks").glob("*.py")]
                 if "cli" not in path.relative_to(ROOT).parts
                 for module in imported_modules(path) if module == "codereuse.cli" or module.startswith("codereuse.cli.")]
    assert offenders == []


def test_subpackages_import_each_other_without_a_cycle():
    """``python -m`` entry points (``__main__``) sit above their package and are left out."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        source = subpackage(module_name(path))
        if source is None or path.name == "__main__.py":
            continue
        targets = {subpackage(m) for m in imported_modules(path) if m.startswith("codereuse.")}
        graph.setdefault(source, set()).update(t for t in targets if t and t != source)
    order = list(graphlib.TopologicalSorter(graph).static_order())  # raises CycleError on a cycle
    assert order.index("data") < order.index("evaluation") < order.index("training") < order.index("cli")


def test_the_import_walker_sees_lazy_and_relative_imports(tmp_path):
    path = PACKAGE / "evaluation" / "floors.py"
    imports = imported_modules(path)
    assert "codereuse.data.types" in imports  # absolute, module level
    assert "codereuse.evaluation.verdict" in imports  # relative, inside a function
