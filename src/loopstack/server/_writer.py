"""The ingestion writer: group commit on one thread, so a 2xx means the spans are committed.

Requests hand their rows to ``write`` and await a future. One writer thread takes everything queued,
inserts it in ONE transaction (idempotent on project+trace+span) and then resolves every waiting
request: many requests share one commit, and SQLite sees a single writer. When more rows are pending
than ``max_pending_rows`` the request is refused at once with ``Overloaded`` (the server answers 503
with Retry-After) instead of queueing without bound.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError

from loopstack.errors import LoopstackError, StoreUnavailable
from loopstack.store import Store
from loopstack.store._engine import WRITE_OPTION
from loopstack.store.spans import insert_span_values

log = logging.getLogger("loopstack.server")


class Overloaded(LoopstackError):
    """The writer has more pending rows than it accepts; the client should retry later."""


class _Job:
    __slots__ = ("future", "rows")

    def __init__(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self.rows = rows
        self.future: Future[int] = Future()


class IngestWriter:
    """A single writer thread committing the rows of many requests per transaction."""

    def __init__(self, store: Store, *, max_pending_rows: int = 50_000, max_batch_rows: int = 10_000) -> None:
        self.store = store
        self.max_pending_rows = max_pending_rows
        self.max_batch_rows = max_batch_rows
        self.commits = 0
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._pending = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._conn: Connection | None = None

    @property
    def pending(self) -> int:
        """Rows accepted but not yet committed."""
        return self._pending

    def submit(self, rows: Sequence[tuple[Any, ...]]) -> Future[int]:
        """Queue prepared rows (``spans.span_values``); the future resolves once they are committed.

        The caller prepares them so this thread spends its time in the database driver (which
        releases the GIL), not in Python competing with the event loop.
        """
        job = _Job(rows)
        with self._lock:
            if self._closed:
                raise Overloaded("the server is shutting down")
            if self._pending and self._pending + len(rows) > self.max_pending_rows:
                raise Overloaded(f"ingestion queue is full ({self._pending} spans pending); retry later")
            self._pending += len(rows)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="loopstack-ingest-writer", daemon=True)
                self._thread.start()
        self._queue.put(job)
        return job.future

    async def write(self, rows: Sequence[tuple[Any, ...]]) -> int:
        """Queue ``rows`` and wait until they are committed."""
        if not rows:
            return 0
        return await asyncio.wrap_future(self.submit(rows))

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
            self._commit(jobs)
            with self._lock:
                self._pending -= count
        self._drop_connection()

    def _connection(self) -> Connection:
        # One connection kept open for the writer's life: on SQLite, closing the last connection to a
        # WAL database checkpoints it, which would cost a full fsync per commit with a fresh connection.
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            self._conn = self.store.engine.connect().execution_options(**{WRITE_OPTION: True})
        return self._conn

    def _insert(self, rows: list[tuple[Any, ...]]) -> None:
        conn = self._connection()
        try:
            with conn.begin():
                insert_span_values(conn, rows)
        except Exception:
            self._drop_connection()
            raise

    def _drop_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception as exc:  # noqa: BLE001 - it is being discarded anyway
                log.debug("ingest: closing the writer connection failed: %s", exc)
            self._conn = None

    def _commit(self, jobs: list[_Job]) -> None:
        try:
            self._insert([row for job in jobs for row in job.rows])
        except Exception as exc:  # noqa: BLE001 - isolate: one bad request must not fail the others
            if len(jobs) == 1:
                log.warning("ingest: could not store %d spans: %s", len(jobs[0].rows), exc)
                if isinstance(exc, OperationalError):
                    first = str(exc.orig or exc).strip().splitlines()[0]
                    exc = StoreUnavailable(f"cannot write to the database: {first}")
                jobs[0].future.set_exception(exc)
                return
            for job in jobs:
                self._commit([job])
            return
        self.commits += 1
        for job in jobs:
            job.future.set_result(len(job.rows))
