"""Two real processes pushing the same prompt at once get distinct consecutive versions, no errors."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from loopstack.prompts import PromptRegistry
from loopstack.store import Store

PUSHES = 40

WORKER = """
import sys, time
from pathlib import Path
from loopstack.prompts import PromptRegistry
from loopstack.store import Store

url, who, go, n = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
reg = PromptRegistry(Store(url))
while not go.exists():
    time.sleep(0.005)
for i in range(n):
    res = reg.push("shared", [{"role": "user", "content": f"{who} {i}: {{{{ x }}}}"}], author=who)
    assert res.created, res
    print(res.version, flush=True)
"""


def test_concurrent_pushes_get_distinct_consecutive_versions(database_url: str, tmp_path: Path) -> None:
    Store(database_url).close()  # migrate once up front, as a deployed store would be
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, database_url, who, str(go), str(PUSHES)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for who in ("a", "b")
    ]
    time.sleep(0.5)  # let both processes import and connect, then release them together
    go.touch()
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
    got = sorted(int(v) for out, _ in outs for v in out.split())
    assert got == list(range(1, 2 * PUSHES + 1))

    store = Store(database_url)
    versions = PromptRegistry(store).versions("shared")
    store.close()
    assert [v.version for v in versions] == list(range(1, 2 * PUSHES + 1))
    contents = sorted(v.messages[0]["content"] for v in versions)
    expected = sorted(f"{who} {i}: {{{{ x }}}}" for who in "ab" for i in range(PUSHES))
    assert contents == expected
    # Each process saw its own pushes in increasing order.
    for out, _ in outs:
        mine = [int(v) for v in out.split()]
        assert mine == sorted(mine)
