"""get_prompt latency: cached (in-process TTL cache hit) and uncached (one query to a local SQLite file).

Run: .venv/bin/python bench/prompt_fetch.py
Targets: cached <= 10 µs, uncached <= 2 ms (medians). Uses a throwaway LOOPSTACK_HOME.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable

CACHED_CALLS = 20_000
UNCACHED_CALLS = 2_000
CACHED_TARGET_US = 10.0
UNCACHED_TARGET_MS = 2.0


def _median_ns(fn: Callable[[], object], calls: int) -> float:
    for _ in range(min(200, calls)):  # warm up: imports, compiled-statement cache, first connection
        fn()
    samples = []
    for _ in range(calls):
        t0 = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - t0)
    return statistics.median(samples)


def main() -> int:
    home = tempfile.mkdtemp(prefix="loopstack-bench-")
    os.environ["LOOPSTACK_HOME"] = home
    os.environ.pop("LOOPSTACK_DATABASE_URL", None)
    os.environ.pop("LOOPSTACK_ENDPOINT", None)

    import loopstack
    from loopstack.prompts import PromptRegistry
    from loopstack.store import get_store

    reg = PromptRegistry(get_store())
    for i in range(20):  # a registry with some history, so the fetch is not against a single row
        reg.push(
            "triage",
            [
                {"role": "system", "content": f"You label app reviews (variant {i})."},
                {"role": "user", "content": "Review: {{ review }}"},
            ],
            model="local/smollm2-135m",
            params={"temperature": 0},
        )
    reg.set_label("triage", "production", 7)

    assert loopstack.get_prompt("triage").version == 7
    cached_ns = _median_ns(lambda: loopstack.get_prompt("triage"), CACHED_CALLS)
    uncached_ns = _median_ns(lambda: loopstack.get_prompt("triage", cache_ttl=0), UNCACHED_CALLS)
    render_ns = _median_ns(lambda: loopstack.get_prompt("triage").render(review="Great app"), CACHED_CALLS)

    cached_us = cached_ns / 1e3
    uncached_ms = uncached_ns / 1e6
    print(f"python {sys.version.split()[0]}, SQLite file in {home}")
    print(f"cached get_prompt    median {cached_us:8.2f} µs over {CACHED_CALLS} calls")
    print(f"uncached get_prompt  median {uncached_ms:8.3f} ms over {UNCACHED_CALLS} calls (cache_ttl=0)")
    print(f"cached get + render  median {render_ns / 1e3:8.2f} µs")
    print(f"uncached / cached    {uncached_ns / cached_ns:8.0f}x")
    met = cached_us <= CACHED_TARGET_US and uncached_ms <= UNCACHED_TARGET_MS
    print(
        f"BENCH prompt_fetch cached_us={cached_us:.2f} uncached_ms={uncached_ms:.3f} "
        f"target=cached<=10us,uncached<=2ms met={'yes' if met else 'no'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
