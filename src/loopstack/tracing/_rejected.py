"""Counts the spans a server refused inside a successful export (OTLP partial success).

A server that rejects one bad span answers 200 with ``partial_success.rejected_spans`` (ours does,
so one bad span never costs a batch). The stock exporter treats that as success; a ``requests``
response hook on the exporter's session reads the count, so ``dropped_spans()`` includes them.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

log = logging.getLogger("loopstack.tracing")


class RejectedSpans:
    """A response hook for the exporter's ``requests.Session`` and the count it keeps."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def hook(self, response: Any, *args: Any, **kwargs: Any) -> None:
        if response.status_code != 200 or not response.content:
            return
        try:
            from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
                ExportTraceServiceResponse,
            )

            reply = ExportTraceServiceResponse.FromString(response.content)
        except Exception:  # noqa: BLE001 - a body we cannot read is not a rejection we can count
            return
        rejected = reply.partial_success.rejected_spans
        if rejected > 0:
            with self._lock:
                self.count += rejected
            log.warning(
                "loopstack: the server rejected %d spans of a batch: %s",
                rejected,
                reply.partial_success.error_message[:300],
            )

    def session(self) -> Any:
        """A ``requests.Session`` that reports each response to this counter."""
        import requests

        session = requests.Session()
        session.hooks["response"].append(self.hook)
        return session
