"""Data out, streamed: spans and run items read in chunks through a server-side cursor and written to
Parquet (one row group per chunk), CSV or JSONL as they arrive, so a million rows never sit in memory.

``span_chunks`` / ``run_item_chunks`` yield lists of flat dicts (the columns fixed up front, so every
chunk of one export has the same schema); ``write_rows`` writes any such stream to a file;
``to_dataframe`` gathers one into pandas for the in-memory SDK calls.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, and_, select

from loopstack.errors import InvalidInput
from loopstack.store._store import Store
from loopstack.store.runs import RunRepository
from loopstack.store.tables import run_items, scores, spans

FORMATS = ("parquet", "csv", "jsonl")
CHUNK = 20_000

#: span columns exported, with their Parquet type
SPAN_COLUMNS: dict[str, str] = {
    "trace_id": "string",
    "span_id": "string",
    "parent_span_id": "string",
    "name": "string",
    "kind": "string",
    "start_time": "timestamp",
    "end_time": "timestamp",
    "duration_ms": "float",
    "status_code": "string",
    "status_message": "string",
    "service_name": "string",
    "environment": "string",
    "model": "string",
    "provider": "string",
    "input_tokens": "int",
    "output_tokens": "int",
    "cost": "float",
    "prompt_name": "string",
    "prompt_version": "int",
    "session_id": "string",
    "user_id": "string",
    "input": "string",
    "output": "string",
    "attributes": "json",
}
#: run item columns exported (scores follow, one column each), with the run's parameters first
RUN_ITEM_COLUMNS: dict[str, str] = {
    "run_id": "string",
    "prompt": "string",
    "version": "int",
    "model": "string",
    "dataset_version": "int",
    "item_key": "string",
    "epoch": "int",
    "input": "json",
    "expected": "json",
    "output": "string",
    "error": "string",
    "latency_ms": "float",
    "input_tokens": "int",
    "output_tokens": "int",
    "cost": "float",
    "cached": "bool",
    "trace_id": "string",
}


@dataclass(frozen=True)
class SpanExportFilters:
    """Which spans to export; every field optional (all spans of the project)."""

    start: datetime | None = None
    end: datetime | None = None
    model: str | None = None
    prompt: str | None = None
    prompt_version: int | None = None
    session: str | None = None
    user: str | None = None
    environment: str | None = None
    errors_only: bool = False


def _span_where(project_id: str, f: SpanExportFilters) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [spans.c.project_id == project_id]
    if f.start is not None:
        where.append(spans.c.start_time >= f.start)
    if f.end is not None:
        where.append(spans.c.start_time < f.end)
    for column, value in (
        (spans.c.model, f.model),
        (spans.c.prompt_name, f.prompt),
        (spans.c.prompt_version, f.prompt_version),
        (spans.c.session_id, f.session),
        (spans.c.user_id, f.user),
        (spans.c.environment, f.environment),
    ):
        if value is not None:
            where.append(column == value)
    if f.errors_only:
        where.append(spans.c.status_code == "ERROR")
    return where


def span_chunks(
    store: Store, project: str, filters: SpanExportFilters | None = None, *, chunk: int = CHUNK
) -> Iterator[list[dict[str, Any]]]:
    """The project's spans (oldest first), ``chunk`` rows at a time, through a streaming cursor."""
    where = _span_where(store.project_id(project), filters or SpanExportFilters())
    query = select(*(spans.c[c] for c in SPAN_COLUMNS)).where(*where).order_by(spans.c.start_time, spans.c.id)
    with store.read() as conn:
        result = conn.execution_options(stream_results=True, yield_per=chunk).execute(query)
        for part in result.partitions():
            yield [dict(r._mapping) for r in part]


def count_spans(store: Store, project: str, filters: SpanExportFilters | None = None) -> int:
    from sqlalchemy import func

    where = _span_where(store.project_id(project), filters or SpanExportFilters())
    with store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(spans).where(*where)).scalar_one())


def run_score_names(store: Store, run_ids: Sequence[str]) -> list[str]:
    """Every score name on the items of these runs (the export's score columns)."""
    with store.read() as conn:
        rows = conn.execute(
            select(scores.c.name)
            .where(scores.c.run_id.in_(list(run_ids)), scores.c.target_type == "run_item")
            .distinct()
        ).all()
    return sorted(r[0] for r in rows)


def run_item_chunks(
    store: Store, project: str, run_ids: Sequence[str], *, chunk: int = CHUNK
) -> Iterator[list[dict[str, Any]]]:
    """One row per item of each run (its parameters, the item, one column per score), chunked."""
    repo = RunRepository(store, project)
    records = [repo.get(r) for r in run_ids]
    if not records:
        raise InvalidInput("runs export: give at least one run id")
    names = run_score_names(store, [r.id for r in records])
    item_cols = [c for c in RUN_ITEM_COLUMNS if c in run_items.c]
    for record in records:
        query = (
            select(run_items.c.id, *(run_items.c[c] for c in item_cols if c != "run_id"))
            .where(run_items.c.run_id == record.id)
            .order_by(run_items.c.item_key, run_items.c.epoch)
        )
        with store.read() as conn:
            result = conn.execution_options(stream_results=True, yield_per=chunk).execute(query)
            for part in result.partitions():
                rows = [dict(r._mapping) for r in part]
                by_item = _scores_for(conn, record.id, [r["id"] for r in rows])
                out = []
                for r in rows:
                    values = by_item.get(r.pop("id"), {})
                    out.append(
                        {
                            "run_id": record.id,
                            "prompt": record.prompt_name,
                            "version": record.prompt_version,
                            "model": record.model,
                            "dataset_version": record.dataset_version,
                            **r,
                            **{n: values.get(n) for n in names},
                        }
                    )
                yield out


def _scores_for(conn: Any, run_id: str, item_ids: list[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for i in range(0, len(item_ids), 900):  # SQLite's bound-parameter limit
        part = item_ids[i : i + 900]
        for row in conn.execute(
            select(scores.c.run_item_id, scores.c.name, scores.c.value, scores.c.string_value).where(
                and_(scores.c.run_id == run_id, scores.c.run_item_id.in_(part))
            )
        ):
            value = row.value if row.value is not None else row.string_value
            out.setdefault(row.run_item_id, {})[row.name] = value
    return out


def _schema(columns: dict[str, str], extra: Sequence[str]) -> Any:
    import pyarrow as pa

    types = {
        "string": pa.string(),
        "json": pa.string(),
        "int": pa.int64(),
        "float": pa.float64(),
        "bool": pa.bool_(),
        "timestamp": pa.timestamp("us", tz="UTC"),
    }
    fields = [pa.field(n, types[t]) for n, t in columns.items()]
    fields += [pa.field(n, pa.float64()) for n in extra]
    return pa.schema(fields)


def _json_cell(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _prepare(rows: list[dict[str, Any]], columns: dict[str, str]) -> list[dict[str, Any]]:
    json_cols = [n for n, t in columns.items() if t == "json"]
    for r in rows:
        for n in json_cols:
            r[n] = _json_cell(r.get(n))
    return rows


def write_rows(
    chunks: Iterator[list[dict[str, Any]]],
    out: Path,
    fmt: str,
    columns: dict[str, str],
    score_columns: Sequence[str] = (),
) -> int:
    """Write a chunk stream to ``out`` as ``fmt``; the number of rows written. Score columns are
    numeric in Parquet (a categorical score's label goes to CSV/JSONL only)."""
    if fmt not in FORMATS:
        raise InvalidInput(f"format {fmt!r}: choose one of {', '.join(FORMATS)}")
    names = [*columns, *score_columns]
    n = 0
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = _schema(columns, score_columns)
        with pq.ParquetWriter(str(out), schema) as writer:
            for rows in chunks:
                for r in _prepare(rows, columns):
                    for s in score_columns:
                        value = r.get(s)
                        r[s] = float(value) if isinstance(value, int | float) else None
                writer.write_table(pa.Table.from_pylist(rows, schema=schema))
                n += len(rows)
        return n
    with out.open("w", encoding="utf-8", newline="") as fh:
        if fmt == "csv":
            writer_csv = csv.DictWriter(fh, fieldnames=names, extrasaction="ignore")
            writer_csv.writeheader()
            for rows in chunks:
                writer_csv.writerows(_prepare(rows, columns))
                n += len(rows)
        else:
            for rows in chunks:
                for r in rows:
                    fh.write(json.dumps({k: r.get(k) for k in names}, ensure_ascii=False, default=str) + "\n")
                n += len(rows)
    return n


def to_dataframe(chunks: Iterator[list[dict[str, Any]]], columns: Sequence[str]) -> Any:
    """The rows of a chunk stream as one pandas DataFrame (with ``columns`` even when empty)."""
    import pandas as pd

    frames = [pd.DataFrame(rows, columns=list(columns)) for rows in chunks if rows]
    if not frames:
        return pd.DataFrame(columns=list(columns))
    return pd.concat(frames, ignore_index=True)
