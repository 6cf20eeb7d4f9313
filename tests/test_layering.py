"""Every module imports only the layers below its own (docs/architecture.md §4), lazy imports included.

One table for the whole package: cli → server/ui → flywheel, monitor, batch → evals, safety →
models, prompts, tracing → store → config and the leaf modules. Within a layer nothing imports its
neighbour except the pairs in ``PEERS``, each with its reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import loopstack

SRC = Path(loopstack.__file__).parent

#: Layer of each top-level module or package of ``loopstack`` (higher may import lower).
LAYER = {
    "config": 0,
    "errors": 0,
    "semconv": 0,
    "_inputs": 0,
    "_lazy": 0,
    "__version__": 0,
    "store": 1,
    "models": 2,
    "prompts": 2,
    "tracing": 2,
    "evals": 3,
    "safety": 3,
    "quickstart": 3,
    "flywheel": 4,
    "monitor": 4,
    "batch": 4,
    "server": 5,
    "ui": 5,
    "traces": 5,
    "runs": 5,
    "cli": 6,
    "__init__": 7,  # the façade: `from loopstack import observe` inside the package points up
}

#: Same-layer imports that are allowed, one way only.
PEERS = {
    ("safety", "evals"),  # safety's scorers and suites are built on evals' scorers and runner
    ("server", "ui"),  # the app factory mounts the UI pages
    ("tracing", "models"),  # the local span writer prices a model call with models' price table
    ("config", "errors"),  # a malformed LOOPSTACK_* variable is a ConfigError
}


def _targets(node: ast.AST) -> list[str]:
    """The top-level loopstack modules an import statement reaches."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        if node.module != "loopstack":
            names = [node.module]
        else:  # `from loopstack import semconv` names a module; `from loopstack import observe` the façade
            names = [f"loopstack.{a.name}" if a.name in LAYER else "loopstack.__init__" for a in node.names]
    else:
        return []
    return [n.split(".")[1] if "." in n else "__init__" for n in names if n.split(".")[0] == "loopstack"]


def _allowed(owner: str, target: str) -> bool:
    if target == owner or (owner, target) in PEERS:
        return True
    return target in LAYER and LAYER[target] < LAYER[owner]


def _owner(path: Path) -> str:
    return path.relative_to(SRC).parts[0].removesuffix(".py")


def upward_imports() -> list[str]:
    """``file:line: importer -> imported`` for every import that does not point down."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        owner = _owner(path)
        if owner == "__init__" or "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            for target in _targets(node):
                if not _allowed(owner, target):
                    found.append(f"{path.relative_to(SRC)}:{node.lineno}: {owner} -> {target}")
    return found


def test_every_package_has_a_layer() -> None:
    packages = {_owner(p) for p in SRC.glob("*") if p.suffix == ".py" or (p / "__init__.py").exists()}
    assert packages - set(LAYER) == set()


def test_no_module_imports_a_layer_above_or_beside_its_own() -> None:
    assert upward_imports() == []


@pytest.mark.parametrize(
    ("owner", "source"),
    [
        ("store", "from loopstack.models import prices"),
        ("evals", "from loopstack.safety import redteam"),
        ("models", "import loopstack.prompts"),
        ("flywheel", "from loopstack.monitor import worker"),
        ("prompts", "from loopstack import observe"),
    ],
)
def test_the_check_catches_an_import_that_points_up(owner: str, source: str) -> None:
    # the same rule as above, on one planted statement, so the table cannot silently allow it
    targets = _targets(ast.parse(source).body[0])
    assert targets and not any(_allowed(owner, t) for t in targets)
