"""Backfill over 100,000 stored spans: the cost preview against the calls the backfill then makes.

Writes 100k model-call spans into a throwaway SQLite store (as ingest writes them), then backfills two
evaluators over that day: a code scorer on every span, and an LLM judge (the scripted ``mock/`` model,
priced by a price file so the preview has a cost) on a 2% hash sample. For each the preview's targets
and judge calls are printed next to what the backfill did (the judge's own call counter).

Run: .venv/bin/python bench/backfill.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

SPANS = 100_000
JUDGE_RATE = 0.02


def main() -> int:
    home = Path(tempfile.mkdtemp(prefix="loopstack-bench-backfill-"))
    prices = home / "prices.yaml"
    prices.write_text(
        "prices:\n  - {match: 'mock/bench-judge', since: 2020-01-01, input: 0.15, output: 0.6}\n"
    )
    os.environ.update({"LOOPSTACK_HOME": str(home), "LOOPSTACK_PRICE_FILE": str(prices)})

    from loopstack import semconv as sc
    from loopstack.models import MockProvider, get_model
    from loopstack.monitor import create_evaluator
    from loopstack.monitor.backfill import preview_backfill, run_backfill
    from loopstack.store import Store
    from loopstack.store.monitoring import EvaluatorRepository
    from loopstack.store.spans import SpanRecord, write_spans

    store = Store(f"sqlite:///{home / 'backfill.db'}")
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    t = time.perf_counter()
    pid = store.project_id("default")
    for chunk in range(0, SPANS, 10_000):
        records = []
        for i in range(chunk, chunk + 10_000):
            ns = int((day + timedelta(seconds=i * 0.8)).timestamp() * 1e9)
            records.append(
                SpanRecord(
                    uuid.uuid4().hex,
                    uuid.uuid4().hex[:16],
                    "chat gpt-4o-mini",
                    ns,
                    ns + 90_000_000,
                    kind="CLIENT",
                    status_code="OK",
                    attributes={
                        sc.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
                        sc.INPUT: "Classify: the app crashes",
                        sc.OUTPUT: "bug" if i % 3 else "praise",
                        sc.PROMPT_NAME: "triage",
                    },
                )
            )
        write_spans(store, pid, records)
    print(f"stored {SPANS:,} spans in {time.perf_counter() - t:.1f} s")

    judge = get_model("mock/bench-judge", default='{"reasoning": "fine", "score": 4}')
    create_evaluator(
        store,
        "default",
        {
            "name": "says-bug",
            "sample_rate": 1.0,
            "scorers": [{"name": "contains", "params": {"value": "bug"}}],
        },
    )
    create_evaluator(
        store,
        "default",
        {
            "name": "judge",
            "sample_rate": JUDGE_RATE,
            "scorers": [{"name": "rubric_judge", "params": {"model": "mock/bench-judge", "cache": False}}],
        },
    )
    start, end = day, day + timedelta(days=1)
    ok = True
    for name in ("says-bug", "judge"):
        p = preview_backfill(store, "default", name, start, end)
        t = time.perf_counter()
        state = run_backfill(store, "default", name, start, end)
        elapsed = time.perf_counter() - t
        row = EvaluatorRepository(store).get(name)
        cost = p["estimated_cost_usd"]
        print(
            f"{name}: preview {p['targets']:,} targets, {p['estimated_calls']:,} judge calls, est. "
            f"${cost:.4f}; backfill judged {state['evaluated']:,} ({row['evaluated']:,} ok, {row['errored']} "
            f"errored) with {state['calls']:,} judge calls in {elapsed:.1f} s "
            f"({state['evaluated'] / elapsed:,.0f} targets/s)"
        )
        ok = ok and p["targets"] == state["evaluated"] and p["estimated_calls"] == state["calls"]
    provider = judge.provider
    assert isinstance(provider, MockProvider)
    judge_preview = preview_backfill(store, "default", "judge", start, end)
    print(
        f"judge model's own call counter: {provider.calls:,}; a second preview now finds "
        f"{judge_preview['targets']} targets left (already scored)"
    )
    judge_calls = EvaluatorRepository(store).get("judge")["backfill"]["calls"]
    estimated = EvaluatorRepository(store).get("judge")["backfill"]["estimated_calls"]
    ok = ok and provider.calls == judge_calls == estimated
    store.close()
    met = "yes" if ok else "no"
    print(f"BENCH backfill preview_calls_minus_made={estimated - provider.calls} target=0 met={met}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
