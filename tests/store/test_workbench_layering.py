"""The workbench's modules import only downward: store/ nothing above the store, evals/ nothing above
evals, and ``import loopstack`` resolves ``loopstack.traces`` / ``loopstack.runs`` only on first use."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import loopstack

SRC = Path(loopstack.__file__).parent
BELOW = {
    "store": (
        "loopstack.store",
        "loopstack.config",
        "loopstack.errors",
        "loopstack.semconv",
        "loopstack._inputs",
    ),
    "evals": (
        "loopstack.evals",
        "loopstack.models",
        "loopstack.prompts",
        "loopstack.tracing",
        "loopstack.store",
        "loopstack.config",
        "loopstack.errors",
        "loopstack.semconv",
    ),
}
MODULES = {
    "store": ["experiments.py", "_runfilter.py", "exports.py", "sessions.py"],
    "evals": ["experiments.py", "matrix.py", "playground.py", "jobs.py"],
}


def _imports(path: Path) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append(node.module)
    return [n for n in out if n.split(".")[0] == "loopstack"]


def test_workbench_modules_import_only_downward() -> None:
    upward = [
        f"{layer}/{name}: {mod}"
        for layer, names in MODULES.items()
        for name in names
        for mod in _imports(SRC / layer / name)
        if not any(mod == ok or mod.startswith(ok + ".") for ok in BELOW[layer])
    ]
    assert upward == []


def test_traces_and_runs_resolve_on_first_use() -> None:
    code = (
        "import json, sys, loopstack\n"
        "before = 'loopstack.traces' in sys.modules or 'pandas' in sys.modules\n"
        "fn = loopstack.traces.to_pandas; fn2 = loopstack.runs.to_pandas\n"
        "print(json.dumps([before, 'loopstack.traces' in sys.modules, 'pandas' in sys.modules]))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == [False, True, False]
