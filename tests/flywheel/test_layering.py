"""The flywheel imports only downward (evals, safety, models, prompts, store, ...), never server/ui/cli/
monitor/batch; and importing it loads neither the embedding model's libraries nor the HTTP client."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import loopstack

SRC = Path(loopstack.__file__).parent
ABOVE = ("loopstack.server", "loopstack.ui", "loopstack.cli", "loopstack.monitor", "loopstack.batch")


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names.extend(a.name for a in node.names)
    return names


def test_flywheel_modules_import_nothing_from_above() -> None:
    for path in sorted((SRC / "flywheel").glob("*.py")):
        for name in _imports(path):
            assert not name.startswith(ABOVE), f"flywheel/{path.name} imports {name} from a layer above"
    store_above = (*ABOVE, "loopstack.flywheel", "loopstack.evals", "loopstack.models", "loopstack.safety")
    for path in (SRC / "store" / "curation.py", SRC / "store" / "teacher_labels.py"):
        for name in _imports(path):
            assert not name.startswith(store_above), f"store/{path.name} imports {name} from above"


def test_importing_the_flywheel_is_light() -> None:
    code = (
        "import sys, json; import loopstack.flywheel as f; f.to_chat_messages; f.curate;"
        "print(json.dumps(sorted(m for m in ('sentence_transformers', 'torch', 'aiohttp', 'datasets')"
        " if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
