"""``loopstack.models`` imports only the layers below it (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import loopstack.models

ALLOWED = ("loopstack.models", "loopstack.store", "loopstack.config", "loopstack.errors", "loopstack.semconv")


def _imported(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, module) of every loopstack module the code imports, at any depth (lazy imports too)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "loopstack":  # `from loopstack import semconv` names submodules
                found += [(node.lineno, f"loopstack.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module))
    return [(line, name) for line, name in found if name.split(".")[0] == "loopstack"]


def test_models_imports_nothing_above_store_and_config() -> None:
    folder = Path(loopstack.models.__file__).parent
    upward = [
        f"{path.name}:{line}: {name}"
        for path in sorted(folder.glob("*.py"))
        for line, name in _imported(ast.parse(path.read_text(encoding="utf-8")))
        if not any(name == ok or name.startswith(f"{ok}.") for ok in ALLOWED)
    ]
    assert upward == []


# safety sits in the evals layer: its scorers build on evals' scorers, its suites run on the eval runner
# (evals never imports safety: tests/safety/test_safety_layering.py).
SAFETY_ALLOWED = ALLOWED + ("loopstack.safety", "loopstack.evals", "loopstack.prompts", "loopstack.tracing")


def test_safety_imports_only_its_peers_below() -> None:
    import loopstack.safety

    folder = Path(loopstack.safety.__file__).parent
    upward = [
        f"{path.relative_to(folder)}:{line}: {name}"
        for path in sorted(folder.rglob("*.py"))
        for line, name in _imported(ast.parse(path.read_text(encoding="utf-8")))
        if not any(name == ok or name.startswith(f"{ok}.") for ok in SAFETY_ALLOWED)
    ]
    assert upward == []


MONITOR_ALLOWED = (
    "loopstack.monitor",
    "loopstack.evals",
    "loopstack.safety",
    *ALLOWED[1:],
    "loopstack.prompts",
    "loopstack.tracing",
    "loopstack.models",
)


def test_monitor_imports_nothing_above_evals() -> None:
    import loopstack.monitor

    folder = Path(loopstack.monitor.__file__).parent
    upward = [
        f"{path.name}:{line}: {name}"
        for path in sorted(folder.glob("*.py"))
        for line, name in _imported(ast.parse(path.read_text(encoding="utf-8")))
        if not any(name == ok or name.startswith(f"{ok}.") for ok in MONITOR_ALLOWED)
    ]
    assert upward == []
