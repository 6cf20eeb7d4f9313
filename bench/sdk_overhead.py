"""Cost of ``@observe`` per call, against a bare OpenTelemetry span with the same two attributes.

Both run on the same TracerProvider (the one ``loopstack.init()`` sets up: local-store export on the
background thread). The decorated function gets two arguments and returns a small dict; ``@observe``
captures them as input and output. The bare span sets two precomputed strings (the same text), so the
ratio charges ``@observe`` for serialising them. Figures are medians over rounds of calls; the queue is
flushed between rounds (untimed) so no span is dropped.

Second figure: the same app with the server down (an address that never answers) — calls stay fast,
spans are dropped and counted once the queue is full.

Run: .venv/bin/python bench/sdk_overhead.py
Target: @observe added cost <= 1.5 x the bare span's.
"""

from __future__ import annotations

import logging
import os
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

ROUNDS = 15
CALLS = 1000  # per round: below the queue size, so nothing is dropped
TARGET = 1.5


def _round_us(fn: Callable[[], Any], calls: int) -> float:
    t0 = time.perf_counter_ns()
    for _ in range(calls):
        fn()
    return (time.perf_counter_ns() - t0) / calls / 1000


def main() -> int:
    os.environ["LOOPSTACK_HOME"] = tempfile.mkdtemp(prefix="loopstack-bench-sdk-")
    for key in ("LOOPSTACK_ENDPOINT", "LOOPSTACK_DATABASE_URL", "LOOPSTACK_API_KEY"):
        os.environ.pop(key, None)

    from opentelemetry import trace

    import loopstack
    from loopstack import semconv as sc

    loopstack.init(instrument_openai=False)

    def answer(question: str, k: int) -> dict[str, Any]:
        return {"answer": question.upper(), "k": k, "sources": ["doc-1", "doc-2"]}

    observed = loopstack.observe(name="answer")(answer)
    tracer = trace.get_tracer("bench")
    in_text = '{"question":"what is the refund policy?","k":3}'
    out_text = '{"answer":"WHAT IS THE REFUND POLICY?","k":3,"sources":["doc-1","doc-2"]}'

    def bare() -> dict[str, Any]:
        with tracer.start_as_current_span("answer") as span:
            span.set_attribute(sc.INPUT, in_text)
            result = answer("what is the refund policy?", 3)
            span.set_attribute(sc.OUTPUT, out_text)
            return result

    def plain() -> dict[str, Any]:
        return answer("what is the refund policy?", 3)

    def decorated() -> dict[str, Any]:
        return observed("what is the refund policy?", 3)

    for fn in (plain, bare, decorated):  # warm up
        _round_us(fn, 200)
        loopstack.flush(30)
    samples: dict[str, list[float]] = {"plain": [], "bare": [], "observe": []}
    for _ in range(ROUNDS):
        for name, fn in (("plain", plain), ("bare", bare), ("observe", decorated)):
            samples[name].append(_round_us(fn, CALLS))
            loopstack.flush(30)
    plain_us = statistics.median(samples["plain"])
    bare_us = statistics.median(samples["bare"]) - plain_us
    observe_us = statistics.median(samples["observe"]) - plain_us
    assert loopstack.dropped_spans() == 0, "spans were dropped: the figures would be too kind"
    ratio = observe_us / bare_us
    print(f"plain call:                    {plain_us:8.2f} µs")
    print(f"bare OTel span + 2 attributes: {bare_us:8.2f} µs added per call")
    print(f"@observe (input+output):       {observe_us:8.2f} µs added per call")
    print(f"ratio @observe / bare span:    {ratio:8.2f}")

    # Server down: an address that accepts connections and never answers.
    sink = socket.socket()
    sink.bind(("127.0.0.1", 0))
    sink.listen(128)
    logging.getLogger("opentelemetry").setLevel(logging.CRITICAL)  # the exporter's retry warnings
    down_url = f"http://127.0.0.1:{sink.getsockname()[1]}"
    loopstack.init(endpoint=down_url, flush_timeout=1.0, instrument_openai=False)
    down = [_round_us(decorated, CALLS) for _ in range(ROUNDS)]
    down_us = statistics.median(down) - plain_us
    print(
        f"server down: @observe adds {down_us:.2f} µs per call "
        f"({loopstack.dropped_spans()} spans dropped and counted, none blocked)"
    )
    t0 = time.perf_counter()
    loopstack.tracing.shutdown()
    print(f"server down: shutdown returned in {time.perf_counter() - t0:.2f} s (flush timeout 1.0 s)")
    sink.close()
    met = "yes" if ratio <= TARGET else "no"
    print(f"BENCH sdk_overhead observe_over_bare_span={ratio:.2f} target={TARGET} met={met}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
