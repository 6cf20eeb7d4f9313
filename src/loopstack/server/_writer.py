"""The ingestion writer: group commit on one thread, so a 2xx means the spans are committed.

Requests hand their rows to ``submit`` and await the future it returns. One writer thread takes
everything queued, inserts it in ONE transaction (idempotent on project+trace+span) and then resolves
every waiting request: many requests share one commit, and SQLite sees a single writer.

A row the database refuses (a data error, not an outage) never fails the rows it shared a commit with:
the group is split and retried until the refused rows are isolated, and each request learns which of
its rows were refused (the server reports them as OTLP partial success). An outage (the database is
unreachable, locked or full) fails the requests with ``StoreUnavailable`` — retryable, nothing was
acknowledged — and is reported by ``state`` until a commit succeeds again.

The row budget: a request reserves its span count (``reserve``) before it is mapped into rows. More
pending than ``max_pending_rows`` is refused at once with ``Overloaded`` (503 + Retry-After: it clears
as the queue drains), and a single request larger than the whole budget with ``TooManySpans`` (413: it
can never fit).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError

from loopstack.errors import LoopstackError, StoreUnavailable
from loopstack.store import Store
from loopstack.store._engine import WRITE_OPTION
from loopstack.store._types import utcnow
from loopstack.store.spans import insert_span_values

log = logging.getLogger("loopstack.server")


class Overloaded(LoopstackError):
    """The writer has more pending rows than it accepts; the client should retry later."""


class TooManySpans(LoopstackError):
    """One request holds more spans than the writer ever accepts at once."""


@dataclass
class Written:
    """What became of one request's rows: how many were stored and which the database refused."""

    stored: int = 0
    #: (index of the row in the request, the database's reason)
    refused: list[tuple[int, str]] = field(default_factory=list)


class _Job:
    __slots__ = ("future", "reserved", "rows")

    def __init__(self, rows: Sequence[tuple[Any, ...]], reserved: int) -> None:
        self.rows = rows
        self.reserved = reserved
        self.future: Future[Written] = Future()


def _outage(exc: BaseException) -> bool:
    """True when ``exc`` says the database cannot write now (retry later), not that a row is bad."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError | DisconnectionError | StoreUnavailable)


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    return f"{type(orig).__name__}: {lines[0] if lines else ''}"[:300]


class IngestWriter:
    """A single writer thread committing the rows of many requests per transaction."""

    def __init__(self, store: Store, *, max_pending_rows: int = 50_000, max_batch_rows: int = 10_000) -> None:
        self.store = store
        self.max_pending_rows = max_pending_rows
        self.max_batch_rows = max_batch_rows
        self.commits = 0
        #: The last outage's message while writes fail, and since when; None once a commit succeeds.
        self.last_error: str | None = None
        self.failing_since: datetime | None = None
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._pending = 0
        #: When ``_pending`` last rose from 0: every row stamped before it is committed (or refused).
        self._busy_since: datetime | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._conn: Connection | None = None

    @property
    def pending(self) -> int:
        """Rows reserved or accepted but not yet committed."""
        return self._pending

    @property
    def full(self) -> bool:
        """True while no more rows are accepted (a request is then refused before it is read)."""
        return self._closed or self._pending >= self.max_pending_rows

    def state(self) -> dict[str, Any]:
        """The writer's health: ``ok``, or ``failing`` with the last error while writes fail."""
        if self.last_error is None:
            return {"state": "ok", "pending_spans": self._pending}
        since = self.failing_since.isoformat() if self.failing_since else None
        return {"state": "failing", "error": self.last_error, "since": since, "pending_spans": self._pending}

    def watermark(self) -> datetime:
        """A time before which every span this writer was handed is committed or refused.

        Rows are stamped (``ingested_at``) after their reservation, and a reservation ends only once its
        rows are committed; so while nothing is pending that is now, and otherwise the moment the
        writer last became busy. The monitoring worker reads spans up to it and never ahead.
        """
        now = utcnow()  # read before the pending count: a row stamped before it is pending or done
        with self._lock:
            return now if self._busy_since is None else self._busy_since

    def reserve(self, count: int) -> int:
        """Reserve room for ``count`` rows before preparing them; hand the result to ``submit``."""
        if count > self.max_pending_rows:
            raise TooManySpans(
                f"the request holds {count} spans; at most {self.max_pending_rows} are accepted per "
                "request: send smaller batches"
            )
        with self._lock:
            if self._closed:
                raise Overloaded("the server is shutting down")
            if self._pending and self._pending + count > self.max_pending_rows:
                raise Overloaded(f"ingestion queue is full ({self._pending} spans pending); retry later")
            if self._pending == 0 and count:
                self._busy_since = utcnow()
            self._pending += count
        return count

    def release(self, reserved: int) -> None:
        """Give back a reservation that will not be submitted."""
        with self._lock:
            self._pending -= reserved
            if self._pending == 0:
                self._busy_since = None

    def submit(self, rows: Sequence[tuple[Any, ...]], reserved: int | None = None) -> Future[Written]:
        """Queue prepared rows (``spans.span_values``); the future resolves once they are committed.

        ``reserved`` is what ``reserve`` returned for them (reserved here when None). The caller
        prepares the rows so this thread spends its time in the database driver (which releases the
        GIL), not in Python competing with the event loop.
        """
        if reserved is None:
            reserved = self.reserve(len(rows))
        job = _Job(rows, reserved)
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="loopstack-ingest-writer", daemon=True)
                self._thread.start()
        self._queue.put(job)
        return job.future

    def close(self, timeout: float = 10.0) -> None:
        """Commit what is queued, then stop the thread."""
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                break
            jobs = [first]
            count = len(first.rows)
            while count < self.max_batch_rows:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stop = True
                    break
                jobs.append(job)
                count += len(job.rows)
            try:
                self._commit(jobs)
            except Exception as exc:  # a bug here must not leave requests waiting or the thread dead
                log.exception("ingest: the writer failed")
                for job in jobs:
                    if not job.future.done():
                        self._finish(job, error=exc)
        self._drop_connection()

    def _finish(self, job: _Job, written: Written | None = None, error: BaseException | None = None) -> None:
        # The reservation is returned before the request hears back, so its answer sees the room.
        with self._lock:
            self._pending -= job.reserved
            if self._pending == 0:
                self._busy_since = None
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(written or Written())

    def _connection(self) -> Connection:
        # One connection kept open for the writer's life: on SQLite, closing the last connection to a
        # WAL database checkpoints it, which would cost a full fsync per commit with a fresh connection.
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            self._conn = self.store.engine.connect().execution_options(**{WRITE_OPTION: True})
        return self._conn

    def _insert(self, rows: Sequence[tuple[Any, ...]]) -> None:
        try:
            conn = self._connection()
            with conn.begin():
                insert_span_values(conn, rows)
        except Exception:
            self._drop_connection()
            raise
        self.commits += 1
        self.last_error = self.failing_since = None

    def _drop_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception as exc:  # noqa: BLE001 - it is being discarded anyway
                log.debug("ingest: closing the writer connection failed: %s", exc)
            self._conn = None

    def _failing(self, exc: BaseException) -> StoreUnavailable:
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        message = f"cannot write to the database: {first[0] if first else type(exc).__name__}"
        if self.last_error is None:
            self.failing_since = utcnow()
        self.last_error = message
        return StoreUnavailable(message)

    def _commit(self, jobs: list[_Job]) -> None:
        try:
            self._insert([row for job in jobs for row in job.rows])
        except Exception as exc:  # noqa: BLE001 - sorted below: an outage, or rows the database refuses
            if _outage(exc):
                log.warning("ingest: could not store %d requests' spans: %s", len(jobs), exc)
                error = self._failing(exc)
                for job in jobs:
                    self._finish(job, error=error)
                return
            for job in jobs:  # isolate: one bad row must not fail the rows it shared a commit with
                self._commit_alone(job)
            return
        for job in jobs:
            self._finish(job, Written(stored=len(job.rows)))

    def _commit_alone(self, job: _Job) -> None:
        written = Written()
        try:
            self._bisect(job.rows, 0, len(job.rows), written)
        except Exception as exc:  # noqa: BLE001 - an outage while isolating: the request may retry
            self._finish(job, error=self._failing(exc))
            return
        if written.refused:
            log.warning(
                "ingest: the database refused %d spans: %s", len(written.refused), written.refused[0][1]
            )
        self._finish(job, written)

    def _bisect(self, rows: Sequence[tuple[Any, ...]], lo: int, hi: int, written: Written) -> None:
        """Store rows[lo:hi], halving around refused rows; re-inserting a stored row is a no-op."""
        try:
            self._insert(rows[lo:hi])
        except Exception as exc:
            if _outage(exc):
                raise
            if hi - lo == 1:
                written.refused.append((lo, _reason(exc)))
                return
            mid = (lo + hi) // 2
            self._bisect(rows, lo, mid, written)
            self._bisect(rows, mid, hi, written)
            return
        written.stored += hi - lo
