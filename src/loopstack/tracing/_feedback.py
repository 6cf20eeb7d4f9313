"""``feedback()``: attach a user's judgement (thumbs, accept, a correction) to a trace from app code.

Like spans, feedback leaves on a background thread and never raises into or blocks the caller. With an
endpoint it is ``POST /api/scores`` on the server (retried while the server is unreachable or answers
5xx/429); without one it is written to the local store through the same scores repository the server
uses. Whatever cannot be delivered (queue full, server down after the retries, key refused, value
rejected) is logged and counted by ``dropped_feedback()``. ``loopstack.flush()`` waits for it (bounded).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

    from loopstack.config import Settings

log = logging.getLogger("loopstack.tracing")

#: Feedback waiting to be delivered; beyond this, new feedback is dropped and counted.
MAX_PENDING = 10_000
#: Tries per item while the server is unreachable or answers 5xx/429, with this first pause (doubling).
ATTEMPTS = 3
RETRY_PAUSE = 0.5
#: Least seconds between two warnings (the rest go to the debug log).
WARN_INTERVAL = 30.0


@dataclass(frozen=True, slots=True)
class _Item:
    endpoint: str | None
    api_key: str | None
    project: str
    database_url: str
    body: dict[str, Any]
    timeout: float

    @classmethod
    def of(cls, settings: Settings, body: dict[str, Any], timeout: float) -> _Item:
        return cls(
            settings.endpoint or None,
            settings.api_key,
            settings.project,
            settings.resolved_database_url,
            body,
            timeout,
        )


class _Rejected(Exception):
    """Delivery failed for good (no retry): the message says why."""


class _Retryable(Exception):
    """Delivery failed for now: the server is unreachable or busy."""


class FeedbackSender:
    """A bounded queue of feedback and the daemon thread that delivers it."""

    def __init__(self) -> None:
        self._items: deque[_Item] = deque()
        self._cond = threading.Condition()
        self._busy = 0
        self._thread: threading.Thread | None = None
        self._http: httpx.Client | None = None
        self._warned_at = float("-inf")
        self._atexit = False
        self.dropped = 0

    def submit(self, item: _Item) -> None:
        with self._cond:
            if len(self._items) + self._busy >= MAX_PENDING:
                self._drop(f"{MAX_PENDING} feedback items are waiting to be sent")
                return
            self._items.append(item)
            self._cond.notify_all()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="loopstack-feedback", daemon=True)
                self._thread.start()
            if not self._atexit:
                from loopstack.config import get_settings

                timeout = get_settings().trace_flush_timeout
                atexit.register(lambda: self.flush(timeout))
                self._atexit = True

    def flush(self, timeout: float) -> bool:
        """Wait at most ``timeout`` seconds for pending feedback; True when all of it was handled."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._items or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def _drop(self, reason: str) -> None:
        """Count one lost item and log why (warnings rate-limited). Call with the lock held."""
        self.dropped += 1
        now = time.monotonic()
        warn = now - self._warned_at >= WARN_INTERVAL
        if warn:
            self._warned_at = now
        (log.warning if warn else log.debug)(
            "loopstack: feedback dropped (%d so far; see dropped_feedback()): %s", self.dropped, reason
        )

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._items:
                    self._cond.wait()
                item = self._items.popleft()
                self._busy += 1
            failure: str | None = None
            try:
                self._deliver(item)
            except Exception as exc:  # noqa: BLE001 - the delivery thread must survive anything
                failure = str(exc) or type(exc).__name__
            with self._cond:
                self._busy -= 1
                if failure is not None:
                    self._drop(failure)
                self._cond.notify_all()

    def _deliver(self, item: _Item) -> None:
        if item.endpoint is None:
            _store_locally(item)
            return
        pause = RETRY_PAUSE
        for attempt in range(ATTEMPTS):
            try:
                self._post(item)
                return
            except _Retryable:
                if attempt == ATTEMPTS - 1:
                    raise
            time.sleep(pause)
            pause *= 2

    def _post(self, item: _Item) -> None:
        import httpx

        if self._http is None:
            self._http = httpx.Client()
        assert item.endpoint is not None
        headers = {"authorization": f"Bearer {item.api_key}"} if item.api_key else {}
        url = item.endpoint.rstrip("/") + "/api/scores"
        try:
            response = self._http.post(url, json=item.body, headers=headers, timeout=item.timeout)
        except httpx.HTTPError as exc:
            raise _Retryable(f"cannot reach the Loopstack server at {item.endpoint}: {exc}") from None
        if response.status_code == 201:
            return
        detail = _detail(response)
        if response.status_code >= 500 or response.status_code == 429:
            raise _Retryable(f"the server at {item.endpoint} answered {response.status_code}: {detail}")
        if response.status_code in (401, 403):
            raise _Rejected(f"the server at {item.endpoint} refused LOOPSTACK_API_KEY: {detail}")
        raise _Rejected(f"feedback {item.body.get('name')!r} refused ({response.status_code}): {detail}")

    def _after_fork(self) -> None:
        # The delivery thread does not survive fork: the child starts its own on first use.
        self._cond = threading.Condition()
        self._thread = None
        self._http = None
        self._busy = 0
        self._items.clear()


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    return str(detail) if detail else response.text[:200]


def _store_locally(item: _Item) -> None:
    from loopstack.store import get_store
    from loopstack.store.scores import ScoreInput, ScoreRepository

    ScoreRepository(get_store(item.database_url), item.project).add_score(ScoreInput(**item.body))


sender = FeedbackSender()
os.register_at_fork(after_in_child=sender._after_fork)


def feedback(
    trace_id: str,
    name: str,
    value: bool | float | str,
    *,
    span_id: str | None = None,
    data_type: str | None = None,
    comment: str | None = None,
    author: str | None = None,
    source: str = "user-feedback",
    metadata: dict[str, Any] | None = None,
    timeout: float = 5.0,
) -> None:
    """Queue a score on ``trace_id`` (or one of its spans) for delivery; returns at once, never raises.

    ``value``: ``"up"``/``"down"``, ``True``/``False`` or ``"accept"``/``"reject"`` (boolean), a number, a
    category, or text with ``data_type="text"`` (a correction). ``timeout`` bounds each HTTP attempt.
    A bad value, a refused key or an unreachable server is logged and counted (``dropped_feedback()``).
    """
    try:
        from loopstack.config import get_settings

        body = {
            "trace_id": trace_id,
            "span_id": span_id,
            "name": name,
            "value": value,
            "data_type": data_type,
            "comment": comment,
            "author": author,
            "source": source,
            "metadata": metadata,
        }
        sender.submit(_Item.of(get_settings(), {k: v for k, v in body.items() if v is not None}, timeout))
    except Exception as exc:  # noqa: BLE001 - feedback must never break the app
        with sender._cond:
            sender._drop(f"{type(exc).__name__}: {exc}")


def dropped_feedback() -> int:
    """How many ``feedback()`` calls were lost in this process (logged each time, see the module doc)."""
    return sender.dropped
