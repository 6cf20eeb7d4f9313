"""Server time of the heaviest UI pages over a seeded store (run bench/seed_spans.py first).

Each page is requested in-process through the ASGI app (no network), a few warm-up requests first,
then N timed ones; prints p50/p95 per page. Target: p95 <= 300 ms for each.

    .venv/bin/python bench/ui_latency.py [--db /tmp/loopstack-bench.db] [--n 30]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from fastapi import FastAPI
from starlette.testclient import TestClient

from loopstack.store import Store
from loopstack.ui import mount_ui

TARGET_MS = 300.0


def build_app(store: Store) -> FastAPI:
    app = FastAPI()
    mount_ui(app, store)
    return app


def _workbench_pages(store: Store) -> dict[str, str]:
    """The experiment pages over 1,000 runs / ~100k run items (seeded once into the same store) and a
    session page over the seeded spans."""
    import sys
    from urllib.parse import urlencode

    sys.path.insert(0, str(Path(__file__).parent))
    from seed_runs import seed_runs

    from loopstack.evals.experiments import backfill

    with store.read() as conn:
        n_runs = conn.exec_driver_sql("SELECT count(*) FROM runs").scalar() or 0
    if n_runs < 1000:
        t = time.perf_counter()
        seed_runs(store)
        print(f"seeded 1,000 runs in {time.perf_counter() - t:.0f} s")
    t = time.perf_counter()
    filled = backfill(store, "default", limit=2000)
    print(f"run metrics computed for {filled} runs in {time.perf_counter() - t:.1f} s (once; then on write)")
    with store.read() as conn:
        items = conn.exec_driver_sql("SELECT count(*) FROM run_items").scalar() or 0
        big = [
            r[0]
            for r in conn.exec_driver_sql(
                "SELECT run_id FROM run_items GROUP BY run_id HAVING count(*) = 200 LIMIT 4"
            ).fetchall()
        ]
        session = conn.exec_driver_sql(
            "SELECT session_id FROM spans WHERE session_id IS NOT NULL LIMIT 1 OFFSET 5000"
        ).scalar()
    print(f"runs: {max(n_runs, 1000):,}, run items: {items:,}")
    q = urlencode({"q": "model=openai/gpt-4o-mini accuracy>0.6 version>=2", "sort": "accuracy"})
    return {
        "runs table, filter+sort (1k runs)": f"/ui/runs?{q}",
        "runs table, unfiltered": "/ui/runs",
        "matrix 4 runs x 200 items": "/ui/matrix?" + urlencode([("run", r) for r in big]),
        "session page": f"/ui/sessions/{session}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=Path("/tmp/loopstack-bench.db"))
    parser.add_argument("--n", type=int, default=30)
    args = parser.parse_args()
    if not args.db.exists():
        raise SystemExit(f"{args.db} does not exist: run bench/seed_spans.py first")
    store = Store(f"sqlite:///{args.db}")
    with store.read() as conn:
        total = conn.exec_driver_sql("SELECT count(*) FROM spans").scalar()
    from loopstack.monitor.rollups import refresh_rollups

    t = time.perf_counter()
    folded = refresh_rollups(store, store.project_id("default"))
    print(
        f"rollup refresh (first run folds every span in; then only new ones): {folded:,} spans "
        f"in {time.perf_counter() - t:.1f} s"
    )
    client = TestClient(build_app(store))
    first = client.get("/ui/traces")
    cursor = first.text.split('id="next-page" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    pages = {
        "traces list": "/ui/traces",
        "traces list, page 2 (keyset)": cursor,
        "traces filtered (model+error, 7d)": (
            "/ui/traces?since=7d&model=anthropic/claude-3-5-haiku&status=error"
        ),
        "traces filtered (negative feedback)": "/ui/traces?negative=1",
        "traces filtered (session)": "/ui/traces?session=sess-4242",
        "dashboard 24h": "/ui/?range=24h",
        "dashboard 7d": "/ui/?range=7d",
        "dashboard 30d": "/ui/?range=30d",
    }
    pages.update(_workbench_pages(store))
    print(f"spans in store: {total:,}")
    results: dict[str, tuple[float, float]] = {}
    for label, url in pages.items():
        for _ in range(3):
            assert client.get(url).status_code == 200, url
        times = []
        for _ in range(args.n):
            t = time.perf_counter()
            r = client.get(url)
            times.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200, url
        times.sort()
        p50 = statistics.median(times)
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        results[label] = (p50, p95)
        print(f"{label:40s} p50={p50:7.1f} ms  p95={p95:7.1f} ms  {url}")
    # Every measured page is gated: the figure is the worst p95 of them all.
    worst_page = max(results, key=lambda k: results[k][1])
    worst = results[worst_page][1]
    base = results["traces list"][0]
    print(
        "ratios to the unfiltered list (p50): "
        + ", ".join(f"{k}={v[0] / base:.1f}x" for k, v in results.items())
    )
    met = "yes" if worst <= TARGET_MS else "no"
    print(f"slowest page (p95): {worst_page}")
    print(f"BENCH ui_latency p95_ms={worst:.0f} target={TARGET_MS:.0f} met={met}")


if __name__ == "__main__":
    main()
