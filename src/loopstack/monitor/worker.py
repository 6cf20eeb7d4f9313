"""The server's background worker: a small list of periodic jobs on one thread of their own.

Online evaluators, alert rules and alert deliveries are jobs (``add_job(name, interval_s, fn)``); a
rollout checker is added the same way. A job is called with the current time and never runs twice at
once; an exception in one is logged and counted, never fatal. The worker reads spans only behind the
ingest watermark (``watermark()``: the ingest writer's promise that everything stamped before it is
committed), so it never waits on ingest and ingest never waits on it: it has its own connections and
its own thread, and each job bounds the work it does per tick (shedding, and counting, what it cannot
keep up with).

Tests and scripts drive it without a thread: ``run_once(now)`` runs every job once, in order.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from loopstack.store import Store, utcnow

log = logging.getLogger("loopstack.monitor")

JobFn = Callable[[datetime], Any]

#: How far behind now the watermark may fall before it is assumed anyway: a writer that is busy without
#: a pause for this long still has committed everything stamped this long ago (the rollups' grace).
MAX_WATERMARK_DELAY = timedelta(seconds=30)


@dataclass
class Job:
    """One periodic job and what it did last."""

    name: str
    interval_s: float
    fn: JobFn
    runs: int = 0
    errors: int = 0
    last_error: str | None = None
    last_run_at: datetime | None = None
    last_duration_s: float | None = None
    last_result: Any = None
    next_due: float = 0.0
    running: bool = field(default=False, repr=False)

    def status(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "interval_s": self.interval_s,
            "runs": self.runs,
            "errors": self.errors,
            "last_error": self.last_error,
            "last_run_at": self.last_run_at.isoformat() if self.last_run_at else None,
            "last_duration_s": self.last_duration_s,
            "last_result": self.last_result if isinstance(self.last_result, dict | int | float) else None,
        }


class Worker:
    """Periodic jobs over ``store``; see the module docstring."""

    def __init__(self, store: Store, *, ingest_watermark: Callable[[], datetime] | None = None) -> None:
        self.store = store
        self._ingest_watermark = ingest_watermark
        self.jobs: list[Job] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        #: Called once the thread has stopped (to close what the jobs hold).
        self.on_stop: list[Callable[[], None]] = []

    def watermark(self, now: datetime | None = None) -> datetime:
        """The time up to which spans are read: every span stamped before it is committed."""
        now = now or utcnow()
        if self._ingest_watermark is None:
            return now
        return min(now, max(self._ingest_watermark(), now - MAX_WATERMARK_DELAY))

    def add_job(self, name: str, interval_s: float, fn: JobFn) -> Job:
        """Run ``fn(now)`` every ``interval_s`` seconds (first run at the first tick)."""
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        if any(j.name == name for j in self.jobs):
            raise ValueError(f"a job named {name!r} is already registered")
        job = Job(name, interval_s, fn)
        with self._lock:
            self.jobs.append(job)
        return job

    def run_job(self, job: Job, now: datetime | None = None) -> Any:
        """Run one job now (unless it is running already); its result, or None when it failed."""
        with self._lock:
            if job.running:
                return None
            job.running = True
        started = time.perf_counter()
        try:
            job.last_result = job.fn(now or utcnow())
            job.last_error = None
        except Exception as exc:  # noqa: BLE001 - one failing job must not stop the others
            log.exception("monitor: job %s failed", job.name)
            job.errors += 1
            job.last_error = f"{type(exc).__name__}: {exc}"[:500]
            job.last_result = None
        finally:
            job.runs += 1
            job.last_run_at = utcnow()
            job.last_duration_s = time.perf_counter() - started
            job.running = False
        return job.last_result

    def run_once(self, now: datetime | None = None) -> dict[str, Any]:
        """Run every job once, in the order they were added; each job's result by name."""
        return {job.name: self.run_job(job, now) for job in list(self.jobs)}

    def status(self) -> list[dict[str, Any]]:
        return [job.status() for job in self.jobs]

    # -------------------------------------------------------------------------------------- the thread

    def start(self) -> None:
        """Run the jobs on a daemon thread until ``stop``."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="loopstack-monitor", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the thread to stop after the job it is running, and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        for fn in self.on_stop:
            try:
                fn()
            except Exception:  # noqa: BLE001 - closing must not fail the shutdown
                log.exception("monitor: closing failed")

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            due = [j for j in list(self.jobs) if j.next_due <= now]
            for job in due:
                if self._stop.is_set():
                    return
                self.run_job(job)
                job.next_due = time.monotonic() + job.interval_s
            waits = [j.next_due - time.monotonic() for j in self.jobs]
            self._stop.wait(min([1.0, *waits]) if waits else 1.0)


def monitoring_worker(
    store: Store,
    *,
    ingest_watermark: Callable[[], datetime] | None = None,
    evaluate_every_s: float = 1.0,
    alerts_every_s: float = 10.0,
    deliver_every_s: float = 5.0,
    rollouts_every_s: float = 10.0,
) -> Worker:
    """The server's worker with its jobs: ``evaluators`` (live, feedback, backfills), ``alerts`` (rule
    windows), ``rollouts`` (ramp steps, rollbacks, promotions) and ``deliveries`` (webhook, email, log).
    More are added with ``add_job``."""
    from loopstack.monitor._evaluate import EvaluatorRunner
    from loopstack.monitor.alerts import AlertRunner
    from loopstack.monitor.channels import Deliverer
    from loopstack.monitor.rollout_runner import RolloutRunner

    worker = Worker(store, ingest_watermark=ingest_watermark)
    evaluators = EvaluatorRunner(store)
    alerts = AlertRunner(store)
    deliverer = Deliverer(store)
    worker.add_job("evaluators", evaluate_every_s, lambda now: evaluators.tick(now, worker.watermark(now)))
    worker.add_job("alerts", alerts_every_s, alerts.tick)
    worker.add_job("rollouts", rollouts_every_s, RolloutRunner(store).tick)
    worker.add_job("deliveries", deliver_every_s, deliverer.tick)
    worker.on_stop.extend([evaluators.close, deliverer.close])
    return worker
