"""Runner throughput: a whole eval of 2,000 items against a local OpenAI-compatible stub (50 ms latency,
separate process) at concurrency 50 — model calls, scoring, every item persisted — compared with the
ideal 2,000 x 0.05 / 50 = 2.0 s and with a bare aiohttp request loop against the same stub.

Run: .venv/bin/python bench/runner_throughput.py [--items 2000] [--concurrency 50] [--latency 0.05]
The response cache is off, so every item calls the stub.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STUB = ROOT / "tests" / "evals" / "openai_stub.py"


async def bare_loop(url: str, n: int, concurrency: int, prefix: str = "review") -> float:
    """The floor: n chat requests over one aiohttp session with a semaphore, nothing else
    (``prefix`` keeps their texts apart from the items a bench then sends to a stub that counts them)."""
    import aiohttp

    sem = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(i: int) -> None:
            async with sem:
                body = {"model": "stub", "messages": [{"role": "user", "content": f"{prefix} {i}"}]}
                async with session.post(url, json=body) as resp:
                    await resp.json()

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    n, conc, latency = args.items, args.concurrency, args.latency
    ideal = n * latency / conc

    home = Path(tempfile.mkdtemp(prefix="loopstack-bench-"))
    os.environ["LOOPSTACK_HOME"] = str(home)
    stub = subprocess.Popen(
        [sys.executable, str(STUB), "--latency", str(latency)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert stub.stdout is not None
        port = int(stub.stdout.readline().split()[1])
        base = f"http://127.0.0.1:{port}/v1"
        rows = [{"id": f"i{i:05d}", "review": f"review {i}", "expected": f"review {i}"} for i in range(n)]
        (home / "data.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
        suite = home / "suite.yaml"
        suite.write_text(
            "dataset: data.jsonl\n"
            "prompts:\n  - name: bench\n    messages: [{role: user, content: '{{ review }}'}]\n"
            "models:\n  - name: openai-compatible/stub\n"
            f"    options: {{base_url: '{base}', max_concurrency: {conc}}}\n"
            f"scorers: [exact_match]\nconcurrency: {conc}\ncache: false\n"
        )

        asyncio.run(bare_loop(f"{base}/chat/completions", 200, conc))  # warm the stub up
        bare = asyncio.run(bare_loop(f"{base}/chat/completions", n, conc))

        from loopstack.evals.runner import run_suite
        from loopstack.store import get_store
        from loopstack.store.runs import RunRepository

        # Process start-up costs are outside the timed region: creating and migrating the database,
        # and importing scipy.stats (about 2 s on this machine), which a CLI run pays once per process.
        get_store()
        import scipy.stats  # noqa: F401

        started = time.perf_counter()
        result = asyncio.run(run_suite(suite))
        wall = time.perf_counter() - started
        run = result.runs[0]
        stored = RunRepository(get_store()).count_items(run.run.id)
    finally:
        stub.terminate()
        stub.wait(timeout=10)

    assert stored == n, f"only {stored} of {n} items were persisted"
    assert run.n_errors == 0, f"{run.n_errors} items errored"
    ratio = wall / ideal
    print(f"items={n} concurrency={conc} stub_latency={latency * 1000:.0f}ms")
    print(f"ideal (n x latency / concurrency): {ideal:.2f} s")
    print(f"bare aiohttp loop:                 {bare:.2f} s  ({bare / ideal:.2f}x ideal)")
    print(
        f"loopstack eval (calls+score+store): {wall:.2f} s  "
        f"({ratio:.2f}x ideal, {wall / bare:.2f}x bare loop)"
    )
    print(f"items persisted: {stored}, exact_match mean {run['exact_match'].mean:.3f}")
    met = "yes" if ratio <= 2.0 else "no"
    print(f"BENCH runner_throughput wall_vs_ideal={ratio:.2f} target=2.0 met={met}")


if __name__ == "__main__":
    main()
