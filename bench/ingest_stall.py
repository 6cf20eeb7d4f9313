"""Does a big OTLP body stall the server? /health latency and RSS while large bodies are ingested.

Starts ``loopstack serve`` (uvicorn) on 127.0.0.1 with a throwaway LOOPSTACK_HOME, polls ``/health``
every 20 ms from a thread, and meanwhile sends: (1) one body of nearly 8 MiB of tiny spans (more spans
than the server accepts in one request: answered 413 after parsing, before mapping), (2) one body at
the per-request span budget (accepted and stored), (3) four such bodies at once. For each phase it
prints the slowest /health answer, the ingest answers, and the server's RSS growth.

Run: .venv/bin/python bench/ingest_stall.py
Target: /health answers within 1 s in every phase (it used to stall ~8 s on one 8 MiB body).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

MAX_BODY = 8 * 1024 * 1024
BUDGET = 50_000  # IngestWriter.max_pending_rows
TARGET_S = 1.0


def _body(count: int, pad: str = "") -> bytes:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add().spans
    trace_id = os.urandom(16)
    for i in range(count):
        span = spans.add()
        span.trace_id = trace_id
        span.span_id = (i + 1).to_bytes(8, "big")
        span.name = f"s{i}{pad}"
        span.start_time_unix_nano = 1_700_000_000_000_000_000 + i
        span.end_time_unix_nano = 1_700_000_000_000_000_000 + i + 1000
    return bytes(request.SerializeToString())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class HealthPoller:
    """Polls /health every 20 ms; ``worst()`` is the slowest answer since the last ``reset()``."""

    def __init__(self, url: str) -> None:
        import httpx

        self._client = httpx.Client(timeout=60)
        self._url = url
        self._worst = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            t0 = time.perf_counter()
            self._client.get(self._url)
            self._worst = max(self._worst, time.perf_counter() - t0)
            time.sleep(0.02)

    def reset(self) -> None:
        self._worst = 0.0

    def worst(self) -> float:
        return self._worst

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


def _post(url: str, body: bytes) -> int:
    import httpx

    response = httpx.post(url, content=body, headers={"content-type": "application/x-protobuf"}, timeout=120)
    return response.status_code


def main() -> int:
    tiny = _body(1000)
    per_span = len(tiny) / 1000
    huge_spans = int(MAX_BODY / per_span * 0.95)
    huge = _body(huge_spans)
    while len(huge) >= MAX_BODY:
        huge_spans = int(huge_spans * 0.98)
        huge = _body(huge_spans)
    budget = _body(BUDGET, pad="-" * 40)
    mib = 2**20
    print(f"bodies: {len(huge) / mib:.2f} MiB of {huge_spans} spans; {len(budget) / mib:.2f} MiB of {BUDGET}")
    home = Path(tempfile.mkdtemp(prefix="loopstack-stall-"))
    port = _free_port()
    env = {**os.environ, "LOOPSTACK_HOME": str(home)}
    exe = Path(sys.executable).parent / "loopstack"
    server = subprocess.Popen(
        [str(exe), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        import httpx

        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.1)
        poller = HealthPoller(f"{url}/health")
        worst: list[float] = []
        phases = [("one near-8 MiB body", [huge]), ("one body at the budget", [budget])]
        phases.append(("four bodies at the budget at once", [budget] * 4))
        for title, bodies in phases:
            time.sleep(0.5)
            rss0 = _rss_mib(server.pid)
            poller.reset()
            t0 = time.perf_counter()
            with ThreadPoolExecutor(len(bodies)) as pool:
                codes = list(pool.map(lambda b: _post(f"{url}/v1/traces", b), bodies))
            elapsed = time.perf_counter() - t0
            time.sleep(0.1)
            worst.append(poller.worst())
            growth = _rss_mib(server.pid) - rss0
            print(
                f"{title}: answers {codes} in {elapsed:.2f} s; slowest /health {worst[-1] * 1000:.0f} ms; "
                f"RSS +{growth:.0f} MiB"
            )
        poller.stop()
    finally:
        server.terminate()
        server.wait(30)
    met = "yes" if max(worst) <= TARGET_S else "no"
    figures = f"health_worst_ms={max(worst) * 1000:.0f} target_ms={TARGET_S * 1000:.0f}"
    print(f"BENCH ingest_stall {figures} met={met}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
