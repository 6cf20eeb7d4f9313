"""Importing safety's scorers and suites stays cheap: no classifier, Presidio or krippendorff until used
(where safety sits among the layers: tests/test_layering.py)."""

from __future__ import annotations

import json
import subprocess
import sys


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
