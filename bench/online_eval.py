"""Online evaluators keep up with ingest: 1,000 spans/s with a 10% code-scorer rule and a feedback judge.

Starts the real server (uvicorn, its monitoring worker on) in a subprocess on 127.0.0.1 twice over a
throwaway SQLite home: once with no evaluators, once with a 10% ``contains`` rule and a feedback-
triggered ``rubric_judge`` on the scripted ``mock/`` model (200 ms per answer, like a remote judge).
Clients send OTLP protobuf batches of 100 spans paced at 1,000 spans/s (bench/ingest.py's batches)
and a thumbs-down on one trace of every batch (``POST /api/scores``: 1% of traces). It reports the
ingest rate of both runs and their ratio, the evaluators' largest lag behind ingest while the load
ran (polled from ``/api/evaluators`` every second), and how long they took to catch up after it.

Run: .venv/bin/python bench/online_eval.py [--duration 120]
Target: the ingest rate with evaluators within 10% of the rate without.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

RATE = 1000  # spans per second
BATCH = 100
CLIENTS = 4
JUDGE_LATENCY = 0.2


def serve(port: int) -> None:
    """The server process: the scripted judge is registered here, then the real app runs."""
    import uvicorn

    from loopstack.models import get_model
    from loopstack.server import create_app

    get_model("mock/judge", default='{"reasoning": "unhelpful", "score": 2}', latency=JUDGE_LATENCY)
    uvicorn.run(create_app(), host="127.0.0.1", port=port, log_level="warning")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _trace_ids(body: bytes) -> list[str]:
    from loopstack.server._otlp import decode_protobuf

    return [r.trace_id for r in decode_protobuf(body).records]


async def _load(url: str, batches: list[bytes], firsts: list[str]) -> dict[str, Any]:
    import httpx

    headers = {"content-type": "application/x-protobuf"}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(batches)):
        queue.put_nowait(i)
    acked = 0
    lags: list[float] = []
    t0 = time.perf_counter()

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal acked
        while True:
            try:
                i = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            due = t0 + i * BATCH / RATE
            if (wait := due - time.perf_counter()) > 0:
                await asyncio.sleep(wait)
            while True:
                r = await http.post(f"{url}/v1/traces", content=batches[i], headers=headers)
                if r.status_code == 200:
                    acked += BATCH
                    break
                await asyncio.sleep(float(r.headers.get("retry-after", "1")))
            score = {"trace_id": firsts[i], "name": "thumbs", "value": "down"}
            await http.post(f"{url}/api/scores", json=score)

    async def poll(http: httpx.AsyncClient) -> None:
        while True:
            await asyncio.sleep(1.0)
            items = (await http.get(f"{url}/api/evaluators")).json()["items"]
            lags.extend(e["health"]["lag_s"] for e in items if e["health"]["lag_s"] is not None)

    async with httpx.AsyncClient(timeout=60) as http:
        poller = asyncio.create_task(poll(http))
        await asyncio.gather(*(client(http) for _ in range(CLIENTS)))
        elapsed = time.perf_counter() - t0
        poller.cancel()
        caught_up = await _catch_up(http, url, acked, len(batches))
        items = (await http.get(f"{url}/api/evaluators")).json()["items"]
    return {"acked": acked, "elapsed": elapsed, "lags": lags, "caught_up": caught_up, "evaluators": items}


async def _catch_up(http: Any, url: str, spans: int, feedback: int) -> float | None:
    """Seconds until the code rule has seen every span and the judge every thumbs-down (None: >120 s)."""
    t1 = time.perf_counter()
    while time.perf_counter() - t1 < 120:
        items = {e["name"]: e["health"] for e in (await http.get(f"{url}/api/evaluators")).json()["items"]}
        if not items:
            return 0.0
        code, judge = items["ten-percent"], items["feedback-judge"]
        seen = code["evaluated"] + code["skipped"] + code["shed"]
        if seen >= spans and judge["evaluated"] + judge["errored"] >= feedback:
            return time.perf_counter() - t1
        await asyncio.sleep(0.5)
    return None


def run(batches: list[bytes], firsts: list[str], with_evaluators: bool) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="loopstack-bench-online-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPSTACK_")}
    env["LOOPSTACK_HOME"] = str(home)
    os.environ["LOOPSTACK_HOME"] = str(home)
    from loopstack.config import get_settings
    from loopstack.store import Store

    get_settings.cache_clear()
    store = Store(f"sqlite:///{home / 'loopstack.db'}")
    if with_evaluators:
        from loopstack.monitor import create_evaluator

        create_evaluator(
            store,
            "default",
            {
                "name": "ten-percent",
                "sample_rate": 0.1,
                "scorers": [{"name": "contains", "params": {"value": "bug"}}],
            },
        )
        create_evaluator(
            store,
            "default",
            {
                "name": "feedback-judge",
                "sample_rate": 0.0,
                "on_feedback": True,
                "scorers": [{"name": "rubric_judge", "params": {"model": "mock/judge", "cache": False}}],
            },
        )
    store.close()
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        import httpx

        for _ in range(600):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        return asyncio.run(_load(f"http://127.0.0.1:{port}", batches, firsts))
    finally:
        server.terminate()
        server.wait(30)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of load per run")
    args = parser.parse_args()
    from ingest import _batches  # the OTLP batches of bench/ingest.py

    count = int(args.duration * RATE / BATCH)
    print(f"building {2 * count} batches of {BATCH} spans ...")
    batches = _batches(2 * count)
    firsts = [_trace_ids(b)[0] for b in batches]
    base = run(batches[:count], firsts[:count], with_evaluators=False)
    evald = run(batches[count:], firsts[count:], with_evaluators=True)
    rate0 = base["acked"] / base["elapsed"]
    rate1 = evald["acked"] / evald["elapsed"]
    ratio = rate1 / rate0
    print(f"without evaluators: {base['acked']:,} spans in {base['elapsed']:.1f} s = {rate0:,.0f} spans/s")
    print(f"with evaluators:    {evald['acked']:,} spans in {evald['elapsed']:.1f} s = {rate1:,.0f} spans/s")
    print(f"ingest rate ratio with / without: {ratio:.3f}")
    lag = max(evald["lags"], default=float("nan"))
    print(f"evaluator lag behind ingest during the load: max {lag:.2f} s over {len(evald['lags'])} polls")
    print(f"caught up {evald['caught_up']} s after the load stopped")
    for e in evald["evaluators"]:
        h = e["health"]
        print(
            f"  {e['name']}: evaluated {h['evaluated']:,}, skipped {h['skipped']:,}, errored {h['errored']}, "
            f"shed {h['shed']}"
        )
    met = "yes" if ratio >= 0.9 and evald["caught_up"] is not None else "no"
    print(f"BENCH online_eval ingest_rate_ratio={ratio:.3f} target=0.9 met={met}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]))
    else:
        sys.exit(main())
