"""``import loopstack`` resolves ``loopstack.traces`` / ``loopstack.runs`` only on first use, without pandas
(the workbench's layering: tests/test_layering.py)."""

from __future__ import annotations

import json
import subprocess
import sys


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
