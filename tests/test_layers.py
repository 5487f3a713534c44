"""The layers of DESIGN.md hold: each module imports only what its layer may use.

Read from the source (every import statement, at any depth, except those under ``if
TYPE_CHECKING:``, which never run), so a lazy import inside a function counts too:

* only the store imports SQLAlchemy, and only the Slurm backend modules import submitit;
* the trial side (trial.py with the errors and paths it uses) imports the standard library
  only, and nothing of slurmhpo but errors and paths;
* dependencies flow one way: cli -> controller -> scheduling -> space, controller -> backends,
  controller -> store; cli -> dashboard -> views -> store (views: the status documents the
  CLI and the dashboard share; the dashboard also reads plots' pure series); no layer imports
  one above it.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "slurmhpo"

# layer -> slurmhpo layers it must not import (anything above it, or beside it where the design
# keeps them apart)
FORBIDDEN = {
    "space": {"scheduling", "backends", "store", "controller", "cli", "bench", "plots"},
    "scheduling": {"backends", "store", "controller", "cli", "bench", "plots"},
    "backends": {"scheduling", "store", "controller", "cli", "bench", "plots"},
    "store": {
        *("scheduling", "backends", "controller", "cli", "bench", "plots", "views", "dashboard")
    },
    "controller": {"cli", "bench", "plots", "views", "dashboard"},
    "plots": {"cli", "controller", "bench", "views", "dashboard"},
    "views": {"cli", "bench", "dashboard"},
    "dashboard": {"cli", "bench", "backends"},
    "bench": {"cli"},
}
TRIAL_SIDE = {"trial.py", "errors.py", "paths.py"}
TRIAL_SIDE_ALLOWED = {"slurmhpo.errors", "slurmhpo.paths"}


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def layer_of(path: Path) -> str:
    """``slurmhpo/controller/loop.py`` -> ``controller``; ``slurmhpo/space.py`` -> ``space``."""
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else parts[0].removesuffix(".py")


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def runtime_imports(path: Path) -> set[str]:
    """Every module name an import statement of ``path`` can load at run time."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), filename=str(path)))
    return found


def _top(name: str) -> str:
    return name.split(".", 1)[0]


def test_the_scan_sees_imports_and_skips_type_checking_blocks(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from typing import TYPE_CHECKING\n"
        "import json\n"
        "if TYPE_CHECKING:\n    import sqlalchemy\n"
        "def f():\n    from submitit import helpers\n"
    )
    names = runtime_imports(sample)
    assert {"json", "submitit", "submitit.helpers"} <= names
    assert "sqlalchemy" not in names


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_keeps_to_its_layer(path: Path) -> None:
    imported = runtime_imports(path)
    relative = path.relative_to(PACKAGE).as_posix()
    layer = layer_of(path)
    if "sqlalchemy" in {_top(name) for name in imported}:
        assert layer == "store", f"{relative} imports SQLAlchemy; only slurmhpo/store may"
    if "submitit" in {_top(name) for name in imported}:
        assert relative.startswith("backends/slurm"), (
            f"{relative} imports submitit; only the Slurm backend modules may"
        )
    ours = {name.split(".")[1] for name in imported if name.startswith("slurmhpo.")}
    above = ours & FORBIDDEN.get(layer, set())
    assert not above, f"{relative} (layer {layer}) imports {sorted(above)}: against DESIGN.md"
    if relative in TRIAL_SIDE:  # runs on compute nodes: the standard library only
        from_us = {name for name in imported if _top(name) == "slurmhpo"}
        modules = {name for name in from_us if name.count(".") == 1}  # slurmhpo.X (not .X.Y)
        assert modules <= TRIAL_SIDE_ALLOWED, f"{relative} imports {sorted(modules)}"
        foreign = {_top(n) for n in imported} - set(sys.stdlib_module_names) - {"slurmhpo"}
        assert foreign <= {"__future__"}, f"{relative} imports {sorted(foreign)}"
