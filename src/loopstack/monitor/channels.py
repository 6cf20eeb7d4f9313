"""Alert delivery: webhook (JSON POST), email (SMTP) and log, each retried with backoff.

Deliveries are rows (``alert_deliveries``) written with the event, so nothing is lost when a receiver
is down or the server restarts: each tick the worker tries the due ones, every attempt bounded by
``timeout_s`` and the whole tick's attempts running concurrently, so a receiver that hangs costs one
timeout, never a stalled worker. A failed attempt is retried after 10 s, 20 s, 40 s … up to
``max_attempts``; then the delivery is kept as ``failed`` with its last error.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from loopstack.config import get_settings
from loopstack.store import Store
from loopstack.store.monitoring import due_deliveries, record_attempt

log = logging.getLogger("loopstack.alerts")

RETRY_BASE_S = 10.0
MAX_ATTEMPTS = 5


def payload(d: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON a webhook receives (and the text of an email): the event, its rule and project."""
    return {
        "rule": d["rule"],
        "project": d["project"],
        "kind": d["kind"],
        "message": d["message"],
        "value": d["value"],
        "samples": d["samples"],
        "window_start": d["window_start"].isoformat(),
        "window_end": d["window_end"].isoformat(),
        "metric": (d.get("spec") or {}).get("metric"),
        "details": d.get("details") or {},
    }


class Deliverer:
    """Sends due deliveries; see the module docstring."""

    def __init__(self, store: Store, *, timeout_s: float = 5.0, max_attempts: int = MAX_ATTEMPTS) -> None:
        self.store = store
        self.timeout_s = timeout_s
        self.max_attempts = max_attempts
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="loopstack-alert-send")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def tick(self, now: datetime) -> dict[str, int]:
        """Attempt every due delivery once; how many were delivered, retried later, failed for good."""
        due = due_deliveries(self.store, now)
        counts = {"delivered": 0, "retrying": 0, "failed": 0}
        futures = [(d, self._pool.submit(self.send, d)) for d in due]
        for d, future in futures:
            try:
                error = future.result(timeout=self.timeout_s * 3)
            except Exception as exc:  # noqa: BLE001 - a hung or broken send is a failed attempt
                error = f"{type(exc).__name__}: {exc}"[:500] or type(exc).__name__
            attempts = d["attempts"] + 1
            if error is None:
                record_attempt(
                    self.store, d["id"], ok=True, error=None, next_attempt_at=None, attempts=attempts
                )
                counts["delivered"] += 1
                continue
            retry = attempts < self.max_attempts
            later = now + timedelta(seconds=RETRY_BASE_S * 2 ** (attempts - 1)) if retry else None
            record_attempt(
                self.store, d["id"], ok=False, error=error, next_attempt_at=later, attempts=attempts
            )
            counts["retrying" if retry else "failed"] += 1
            log.warning(
                "alerts: delivery to %s %s failed (attempt %d): %s",
                d["channel"],
                d["target"],
                attempts,
                error,
            )
        return counts

    def send(self, d: Mapping[str, Any]) -> str | None:
        """One attempt; None when delivered, else the reason."""
        try:
            if d["channel"] == "webhook":
                return self._webhook(d)
            if d["channel"] == "email":
                return self._email(d)
            log.warning("alert %s: %s", d["kind"], d["message"])
            return None
        except Exception as exc:  # noqa: BLE001 - every failure is recorded as the attempt's error
            return (f"{type(exc).__name__}: {exc}")[:500]

    def _webhook(self, d: Mapping[str, Any]) -> str | None:
        import httpx

        response = httpx.post(d["target"], json=payload(d), timeout=self.timeout_s)
        if response.status_code >= 300:
            return f"HTTP {response.status_code}: {response.text[:200]}"
        return None

    def _email(self, d: Mapping[str, Any]) -> str | None:
        settings = get_settings()
        channel: dict[str, Any] = next(
            (c for c in (d.get("spec") or {}).get("channels", []) if c.get("type") == "email"), {}
        )
        host = channel.get("smtp_host") or settings.smtp_host
        port = int(channel.get("smtp_port") or settings.smtp_port)
        body = payload(d)
        msg = EmailMessage()
        msg["Subject"] = f"[loopstack] {d['rule']} {d['kind']}"
        msg["From"] = settings.smtp_from
        msg["To"] = d["target"]
        lines = [d["message"], "", *(f"{k}: {v}" for k, v in body.items() if k != "message")]
        msg.set_content("\n".join(lines))
        with smtplib.SMTP(host, port, timeout=self.timeout_s) as smtp:
            smtp.send_message(msg)
        return None
