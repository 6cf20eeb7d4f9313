"""Seed a SQLite store with production-like spans for the UI benchmarks (default: 1,000,000 spans).

Traces span the last 30 days with a daily rhythm and slow growth; each is a root request span with one
or two model calls (and sometimes a tool call) over a few models and prompt versions, with sessions,
users, ~2% errors, and user feedback plus an LLM-judge score on a share of traces. Rows go in with
``executemany`` in batches of 50,000 through the DB-API connection, after the store's migrations ran.

    .venv/bin/python bench/seed_spans.py [--spans 1000000] [--db /tmp/loopstack-bench.db]
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import random
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from loopstack.store import Store

MODELS = [  # (model, provider, share, median ms, $ per 1k in, $ per 1k out, error rate)
    ("openai/gpt-4o-mini", "openai", 0.45, 650, 0.00015, 0.0006, 0.01),
    ("openai/gpt-4o", "openai", 0.15, 1400, 0.0025, 0.01, 0.015),
    ("anthropic/claude-3-5-haiku", "anthropic", 0.2, 800, 0.0008, 0.004, 0.02),
    ("local/smollm2-135m", "local", 0.15, 300, 0.0, 0.0, 0.05),
    ("openai-compatible/llama-3.1-8b", "openai-compatible", 0.05, 500, 0.0001, 0.0001, 0.03),
]
PROMPTS = [("triage", [1, 2, 3, 4]), ("summarise", [1, 2]), ("reply", [1, 2, 3]), ("extract", [1])]
REVIEWS = [
    "The app crashes every time I open the camera",
    "Love the new dark mode, great work",
    "Cannot log in after the update, please fix",
    "Too many ads, uninstalling",
    "Sync between my phone and tablet stopped working",
    "Customer support answered in minutes, thanks",
    "The export to PDF button does nothing",
    "Battery drain is terrible since version 5",
]
LABELS = ["bug", "praise", "feature-request", "complaint", "question"]
BATCH = 50_000


@functools.cache
def _messages(prompt: str, review: str) -> str:
    """The chat input of a call (a JSON list of messages), built once per prompt and review."""
    return json.dumps(
        [
            {"role": "system", "content": f"You are the {prompt} assistant."},
            {"role": "user", "content": review},
        ]
    )


def _hex(bits: int) -> str:
    return f"{random.getrandbits(bits):0{bits // 4}x}"


def _when(now: datetime, days: int) -> datetime:
    """A start time in the last ``days`` days: more traffic by day (UTC 8-20) and towards now."""
    while True:
        age = days * (1 - math.sqrt(random.random()))  # density grows linearly towards now
        t = now - timedelta(days=age)
        if random.random() < (1.0 if 8 <= t.hour < 20 else 0.45):
            return t


def seed(db: Path, n_spans: int, project: str = "default", days: int = 30) -> tuple[int, int, int]:
    """Write about ``n_spans`` spans (and their scores) to ``db``; (spans, traces, scores) written."""
    random.seed(1234)
    store = Store(f"sqlite:///{db}")  # runs the migrations: the same schema as production
    pid = store.project_id(project)
    store.close()
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    now = datetime.now(UTC).replace(tzinfo=None)
    cols = (
        "id, project_id, trace_id, span_id, parent_span_id, name, kind, start_time, end_time, duration_ms, "
        "status_code, status_message, service_name, model, provider, input_tokens, output_tokens, cost, "
        "input, output, prompt_name, prompt_version, session_id, user_id, ingested_at"
    )
    span_sql = f"INSERT INTO spans ({cols}) VALUES ({', '.join('?' * 25)})"
    score_sql = (
        "INSERT INTO scores (id, project_id, target_type, trace_id, span_id, name, data_type, value, source, "
        "author, comment, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    weights = [m[2] for m in MODELS]
    span_rows: list[tuple[object, ...]] = []
    score_rows: list[tuple[object, ...]] = []
    n_written = n_traces = n_scores = 0

    def flush(force: bool = False) -> None:
        nonlocal n_written, n_scores
        if span_rows and (force or len(span_rows) >= BATCH):
            conn.executemany(span_sql, span_rows)
            n_written += len(span_rows)
            span_rows.clear()
            conn.executemany(score_sql, score_rows)
            n_scores += len(score_rows)
            score_rows.clear()
            conn.commit()

    while n_written + len(span_rows) < n_spans:
        n_traces += 1
        trace_id, root_id = _hex(128), _hex(64)
        t0 = _when(now, days)
        session = f"sess-{random.randint(1, 60_000)}"
        user = f"user-{random.randint(1, 6_000)}"
        review = random.choice(REVIEWS)
        prompt, versions = random.choice(PROMPTS)
        version = versions[-1] if random.random() < 0.6 else random.choice(versions)
        calls = 1 if random.random() < 0.7 else 2
        cursor = t0 + timedelta(milliseconds=random.uniform(1, 5))
        error = False
        children: list[tuple[object, ...]] = []
        for _ in range(calls):
            model, provider, _, median, pin, pout, err_rate = random.choices(MODELS, weights)[0]
            dur = median * math.exp(random.gauss(0, 0.5))
            failed = random.random() < err_rate
            error = error or failed
            tin, tout = random.randint(60, 900), random.randint(3, 300)
            out = None if failed else random.choice(LABELS)
            msgs = _messages(prompt, review)
            end = cursor + timedelta(milliseconds=dur)
            children.append(
                (
                    _hex(128),
                    pid,
                    trace_id,
                    _hex(64),
                    root_id,
                    f"chat {model}",
                    "CLIENT",
                    cursor.isoformat(" ", "microseconds"),
                    end.isoformat(" ", "microseconds"),
                    dur,
                    "ERROR" if failed else "OK",
                    "upstream timeout" if failed else None,
                    "reviews-api",
                    model,
                    provider,
                    tin,
                    tout,
                    (tin * pin + tout * pout) / 1000,
                    msgs,
                    out,
                    prompt,
                    version,
                    session,
                    user,
                    end.isoformat(" ", "microseconds"),
                )
            )
            cursor = end + timedelta(milliseconds=random.uniform(0.5, 3))
        if random.random() < 0.2:  # a tool call after the model
            dur = random.uniform(5, 80)
            end = cursor + timedelta(milliseconds=dur)
            children.append(
                (
                    _hex(128),
                    pid,
                    trace_id,
                    _hex(64),
                    root_id,
                    "lookup_ticket",
                    "INTERNAL",
                    cursor.isoformat(" ", "microseconds"),
                    end.isoformat(" ", "microseconds"),
                    dur,
                    "OK",
                    None,
                    "reviews-api",
                    None,
                    None,
                    None,
                    None,
                    None,
                    json.dumps({"q": review[:20]}),
                    "[]",
                    None,
                    None,
                    session,
                    user,
                    end.isoformat(" ", "microseconds"),
                )
            )
            cursor = end
        root_end = cursor + timedelta(milliseconds=random.uniform(1, 5))
        root_ms = (root_end - t0).total_seconds() * 1000
        span_rows.append(
            (
                _hex(128),
                pid,
                trace_id,
                root_id,
                None,
                "POST /classify",
                "SERVER",
                t0.isoformat(" ", "microseconds"),
                root_end.isoformat(" ", "microseconds"),
                root_ms,
                "ERROR" if error else "OK",
                None,
                "reviews-api",
                None,
                None,
                None,
                None,
                None,
                json.dumps({"review": review}),
                None,
                None,
                None,
                session,
                user,
                root_end.isoformat(" ", "microseconds"),
            )
        )
        span_rows.extend(children)
        later = (root_end + timedelta(seconds=random.uniform(5, 600))).isoformat(" ", "microseconds")
        if random.random() < 0.06:  # a user gave thumbs up or down
            score_rows.append(
                (
                    _hex(128),
                    pid,
                    "trace",
                    trace_id,
                    None,
                    "feedback",
                    "boolean",
                    0.0 if random.random() < (0.5 if error else 0.18) else 1.0,
                    "user-feedback",
                    user,
                    None,
                    later,
                )
            )
        if random.random() < 0.1:  # an online LLM judge
            score_rows.append(
                (
                    _hex(128),
                    pid,
                    "trace",
                    trace_id,
                    None,
                    "helpfulness",
                    "numeric",
                    round(min(1.0, max(0.0, random.gauss(0.78, 0.15))), 2),
                    "llm",
                    "judge",
                    None,
                    later,
                )
            )
        flush()
    flush(force=True)
    conn.execute("ANALYZE")
    conn.close()
    return n_written, n_traces, n_scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=Path("/tmp/loopstack-bench.db"))
    args = parser.parse_args()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{args.db}{suffix}").unlink(missing_ok=True)
    t = time.perf_counter()
    n, traces, n_scores = seed(args.db, args.spans)
    elapsed = time.perf_counter() - t
    print(
        f"spans={n} traces={traces} scores={n_scores} db={args.db} size_mb={args.db.stat().st_size / 1e6:.0f}"
    )
    rate = n / elapsed
    print(f"BENCH seed_spans spans_per_s={rate:.0f} target=5000 met={'yes' if rate >= 5000 else 'no'}")


if __name__ == "__main__":
    main()
