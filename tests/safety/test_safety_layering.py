"""safety/ imports only its own layer's peers and below (evals, models, prompts, store ...), evals never
imports safety (it reads a stored calibration through store), and importing the package stays cheap."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import loopstack

SRC = Path(loopstack.__file__).parent
SAFETY_MAY_IMPORT = (
    "loopstack.safety",
    "loopstack.evals",
    "loopstack.models",
    "loopstack.prompts",
    "loopstack.tracing",
    "loopstack.store",
    "loopstack.config",
    "loopstack.errors",
    "loopstack.semconv",
)


def _imports(path: Path) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append(node.module)
    return [n for n in out if n.split(".")[0] == "loopstack"]


def test_safety_imports_only_downward_and_evals_never_imports_safety() -> None:
    upward = [
        f"safety/{p.name}: {mod}"
        for p in sorted((SRC / "safety").glob("*.py"))
        for mod in _imports(p)
        if not any(mod == ok or mod.startswith(ok + ".") for ok in SAFETY_MAY_IMPORT)
    ]
    assert upward == []
    sideways = [
        f"evals/{p.relative_to(SRC / 'evals')}: {mod}"
        for p in sorted((SRC / "evals").rglob("*.py"))
        for mod in _imports(p)
        if mod.startswith("loopstack.safety")
    ]
    assert sideways == []


def test_importing_the_safety_scorers_loads_no_classifier_or_presidio() -> None:
    code = (
        "import json, sys\n"
        "import loopstack.safety.scorers, loopstack.safety.bias, loopstack.safety.redteam\n"
        "heavy = ('profanity_check', 'sklearn', 'presidio_analyzer', 'krippendorff')\n"
        "print(json.dumps([m in sys.modules for m in heavy]))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == [False, False, False, False]
