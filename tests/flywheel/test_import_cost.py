"""Importing the flywheel loads neither the embedding model's libraries nor the HTTP client
(its layering: tests/test_layering.py)."""

from __future__ import annotations

import json
import subprocess
import sys


def test_importing_the_flywheel_is_light() -> None:
    code = (
        "import sys, json; import loopstack.flywheel as f; f.to_chat_messages; f.curate;"
        "print(json.dumps(sorted(m for m in ('sentence_transformers', 'torch', 'aiohttp', 'datasets')"
        " if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
