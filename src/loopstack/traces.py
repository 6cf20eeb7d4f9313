"""Traces as data: ``loopstack.traces.to_pandas(model=..., start=...)`` and the streamed file export.

import loopstack
df = loopstack.traces.to_pandas(model="openai/gpt-4o-mini", errors_only=True)
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from loopstack.store import Store

__all__ = ["export", "to_pandas"]


def _filters(**given: Any) -> Any:
    from loopstack.store.exports import SpanExportFilters

    return SpanExportFilters(**given)


def _where(store: Store | None, project: str | None) -> tuple[Store, str]:
    from loopstack.config import get_settings
    from loopstack.store import get_store

    return store or get_store(), project or get_settings().project


def to_pandas(
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    model: str | None = None,
    prompt: str | None = None,
    prompt_version: int | None = None,
    session: str | None = None,
    user: str | None = None,
    environment: str | None = None,
    errors_only: bool = False,
    store: Store | None = None,
    project: str | None = None,
) -> Any:
    """The project's spans (one row each, oldest first) matching the filters, as a DataFrame."""
    from loopstack.store.exports import SPAN_COLUMNS, span_chunks, to_dataframe

    s, p = _where(store, project)
    f = _filters(
        start=start,
        end=end,
        model=model,
        prompt=prompt,
        prompt_version=prompt_version,
        session=session,
        user=user,
        environment=environment,
        errors_only=errors_only,
    )
    return to_dataframe(span_chunks(s, p, f), list(SPAN_COLUMNS))


def export(
    out: str | Path,
    fmt: str = "parquet",
    *,
    store: Store | None = None,
    project: str | None = None,
    **filters: Any,
) -> int:
    """Stream the matching spans to ``out`` (parquet, csv or jsonl); how many rows were written."""
    from loopstack.store.exports import SPAN_COLUMNS, span_chunks, write_rows

    s, p = _where(store, project)
    return write_rows(span_chunks(s, p, _filters(**filters)), Path(out), fmt, SPAN_COLUMNS)
