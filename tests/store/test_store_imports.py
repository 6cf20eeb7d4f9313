"""The store sits under every other layer: none of its modules imports a layer above it."""

from __future__ import annotations

import ast
from pathlib import Path

import loopstack.store

#: What the store may import from Loopstack: itself and the leaf modules below every layer.
ALLOWED = (
    "loopstack.store",
    "loopstack.config",
    "loopstack.errors",
    "loopstack.semconv",
    "loopstack._inputs",
)


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):  # function-level imports too
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "loopstack" or name.startswith("loopstack.")}


def test_no_store_module_imports_an_upper_layer() -> None:
    root = Path(loopstack.store.__file__).parent
    upward = {
        f"{path.relative_to(root)}: {name}"
        for path in root.rglob("*.py")
        for name in _imports(path)
        if not name.startswith(ALLOWED)
    }
    assert not upward  # e.g. prices come in as a callable, never from loopstack.models
