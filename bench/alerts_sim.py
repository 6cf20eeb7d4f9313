"""Alert rules on simulated traffic, through the server's own code: an error spike, and A/A noise.

Spans are written to a throwaway SQLite store (as ingest writes them) at 2 requests/s with a 2% error
rate, and the server's ``AlertRunner`` decides each window on a simulated clock:

1. Spike: the error rate jumps to 25% for 10 minutes. Threshold rule: 5-minute windows every 100 s,
   fire at 8%, resolve at 4%, ``sustained: 3``. It must fire within one window (300 s) of the onset
   and resolve after the spike ends.
2. A/A: 100 windows at the same 2% with the same rule, and a baseline rule (Fisher's test against the
   previous 7 days, alpha 0.01, ``sustained: 3``): both must fire 0 alerts.
3. The same decision function (``monitor.decide``) on 1,000 simulated A/A runs of 100 windows each
   (binomial counts, no database): the fraction of runs with any false alert, for both rules.

Run: .venv/bin/python bench/alerts_sim.py
"""

from __future__ import annotations

import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

RATE = 2.0  # requests per second
BASE_ERRORS = 0.02
SPIKE_ERRORS = 0.25
STEP = 100
WINDOW = 300
T0 = datetime(2026, 11, 1, tzinfo=UTC)

THRESHOLD = {
    "metric": "error_rate",
    "fire": 0.08,
    "resolve": 0.04,
    "window_s": WINDOW,
    "step_s": STEP,
    "min_samples": 100,
    "sustained": 3,
    "delay_s": 0,
    "channels": [{"type": "log"}],
}
BASELINE = {
    "metric": "error_rate",
    "baseline": True,
    "alpha": 0.01,
    "window_s": WINDOW,
    "step_s": STEP,
    "min_samples": 100,
    "sustained": 3,
    "delay_s": 0,
}


def write_traffic(store, project: str, start: datetime, seconds: int, error_rate, rng) -> None:  # type: ignore[no-untyped-def]
    """``seconds`` of model-call spans at RATE/s; ``error_rate(t)`` gives the error chance at offset t."""
    from loopstack import semconv as sc
    from loopstack.store.spans import SpanRecord, write_spans

    records = []
    n = int(seconds * RATE)
    offsets = np.sort(rng.uniform(0, seconds, n))
    for off in offsets:
        t = start + timedelta(seconds=float(off))
        ns = int(t.timestamp() * 1e9)
        error = rng.random() < error_rate(float(off))
        records.append(
            SpanRecord(
                uuid.uuid4().hex,
                uuid.uuid4().hex[:16],
                "chat gpt-4o-mini",
                ns,
                ns + 80_000_000,
                kind="CLIENT",
                attributes={sc.GEN_AI_REQUEST_MODEL: "gpt-4o-mini"},
                status_code="ERROR" if error else "OK",
            )
        )
        if len(records) >= 5000:
            write_spans(store, store.project_id(project), records)
            records = []
    if records:
        write_spans(store, store.project_id(project), records)


def run_clock(store, start: datetime, windows: int):  # type: ignore[no-untyped-def]
    from loopstack.monitor.alerts import AlertRunner

    runner = AlertRunner(store)
    for i in range(1, windows + 1):
        runner.tick(start + timedelta(seconds=WINDOW + i * STEP))


def spike(store) -> tuple[float | None, float | None]:  # type: ignore[no-untyped-def]
    from loopstack.monitor import create_rule
    from loopstack.store.monitoring import AlertRepository

    rng = np.random.default_rng(1)
    onset, length, total = 1500, 600, 3600
    create_rule(store, "spike", {"name": "errors", **THRESHOLD}, start_at=T0 + timedelta(seconds=WINDOW))
    write_traffic(
        store, "spike", T0, total, lambda t: SPIKE_ERRORS if onset <= t < onset + length else BASE_ERRORS, rng
    )
    run_clock(store, T0, (total - WINDOW) // STEP)
    events = list(reversed(AlertRepository(store, "spike").list_events()))
    print("spike events:", [(e["kind"], (e["window_end"] - T0).total_seconds()) for e in events])
    fired = next((e for e in events if e["kind"] == "fired"), None)
    resolved = next((e for e in events if e["kind"] == "resolved"), None)
    fire_after = (fired["window_end"] - T0).total_seconds() - onset if fired else None
    resolve_after = (resolved["window_end"] - T0).total_seconds() - (onset + length) if resolved else None
    return fire_after, resolve_after


def aa(store) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    from loopstack.monitor import create_rule
    from loopstack.store.monitoring import AlertRepository

    rng = np.random.default_rng(2)
    windows = 100
    seconds = WINDOW + windows * STEP
    # The baseline week: 20,000 requests at the same 2%, spread over the 7 days before the test.
    write_traffic_spread(store, "aa", T0 - timedelta(days=7), 7 * 86400, 20_000, rng)
    create_rule(store, "aa", {"name": "threshold", **THRESHOLD}, start_at=T0 + timedelta(seconds=WINDOW))
    create_rule(store, "aa", {"name": "baseline", **BASELINE}, start_at=T0 + timedelta(seconds=WINDOW))
    write_traffic(store, "aa", T0, seconds, lambda t: BASE_ERRORS, rng)
    run_clock(store, T0, windows)
    repo = AlertRepository(store, "aa")
    decided = {r["name"]: r["last_window_end"] for r in repo.list_rules()}
    print("A/A rules decided up to:", {k: str(v) for k, v in decided.items()})
    events = repo.list_events(limit=1000)
    return (sum(e["rule"] == "threshold" for e in events), sum(e["rule"] == "baseline" for e in events))


def write_traffic_spread(store, project: str, start: datetime, seconds: int, n: int, rng) -> None:  # type: ignore[no-untyped-def]
    write_traffic(store, project, start, seconds, lambda t: BASE_ERRORS, _Thin(rng, n / (seconds * RATE)))


class _Thin:
    """An rng whose uniform draws keep only a fraction of the requests (a thinner baseline week)."""

    def __init__(self, rng: np.random.Generator, keep: float) -> None:
        self.rng, self.keep = rng, keep

    def uniform(self, lo: float, hi: float, n: int) -> np.ndarray:
        return self.rng.uniform(lo, hi, int(n * self.keep))

    def random(self) -> float:
        return float(self.rng.random())


def monte_carlo(runs: int = 1000, windows: int = 100) -> tuple[float, float]:
    """Fraction of A/A runs with any false alert, through ``decide`` on binomial window counts."""
    from loopstack.monitor import Measure, RuleState, decide, parse_rule

    rng = np.random.default_rng(3)
    threshold, baseline = parse_rule({"name": "t", **THRESHOLD}), parse_rule({"name": "b", **BASELINE})
    per_step = int(STEP * RATE)
    n0 = 20_000
    any_t = any_b = 0
    for _ in range(runs):
        steps = rng.binomial(per_step, BASE_ERRORS, windows + 2)
        k0 = int(rng.binomial(n0, BASE_ERRORS))
        st_t, st_b = RuleState(), RuleState()
        fired_t = fired_b = False
        for w in range(windows):
            k = int(steps[w : w + 3].sum())
            m = Measure(k / (3 * per_step), 3 * per_step, events=k)
            d = decide(threshold, st_t, m)
            st_t, fired_t = d.state, fired_t or d.transition == "fired"
            d = decide(baseline, st_b, m, Measure(k0 / n0, n0, events=k0))
            st_b, fired_b = d.state, fired_b or d.transition == "fired"
        any_t += fired_t
        any_b += fired_b
    return any_t / runs, any_b / runs


def main() -> int:
    from loopstack.store import Store

    home = Path(tempfile.mkdtemp(prefix="loopstack-bench-alerts-"))
    store = Store(f"sqlite:///{home / 'alerts.db'}")
    t = time.perf_counter()
    fire_after, resolve_after = spike(store)
    print(
        f"spike: onset at +1500 s; fired {fire_after} s after onset (window {WINDOW} s, "
        f"sustained 3 x {STEP} s); resolved {resolve_after} s after the spike ended"
    )
    false_t, false_b = aa(store)
    print(
        f"A/A over 100 windows, sustained 3: threshold rule {false_t} alerts, "
        f"baseline (Fisher, alpha 0.01) rule {false_b} alerts"
    )
    mc_t, mc_b = monte_carlo()
    print(
        f"decide() on 1,000 simulated A/A runs x 100 overlapping windows: runs with any false alert: "
        f"threshold {mc_t:.3f}, baseline {mc_b:.3f}"
    )
    print(f"elapsed {time.perf_counter() - t:.1f} s")
    store.close()
    ok = (
        fire_after is not None
        and fire_after <= WINDOW
        and resolve_after is not None
        and false_t == 0
        and false_b == 0
    )
    print(f"BENCH alerts_sim aa_false_alerts={false_t + false_b} target=0 met={'yes' if ok else 'no'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
