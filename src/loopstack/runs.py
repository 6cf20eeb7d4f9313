"""Runs as data: ``loopstack.runs.to_pandas([run_id, ...])`` — one row per item, scores as columns —
and the streamed file export.

    import loopstack
    df = loopstack.runs.to_pandas(["3f2a9c", "77be01"])
    df.groupby("model")["accuracy"].mean()
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loopstack.store import Store

__all__ = ["export", "to_pandas"]


def _where(store: Store | None, project: str | None) -> tuple[Store, str]:
    from loopstack.config import get_settings
    from loopstack.store import get_store

    return store or get_store(), project or get_settings().project


def _resolved(s: Store, p: str, run_ids: Sequence[str]) -> list[str]:
    from loopstack.store.runs import RunRepository

    repo = RunRepository(s, p)
    return [repo.get(r).id for r in run_ids]


def to_pandas(run_ids: Sequence[str], *, store: Store | None = None, project: str | None = None) -> Any:
    """The items of these runs (ids or unique prefixes) as a DataFrame: the run's parameters, the item,
    and one column per scorer."""
    from loopstack.store.exports import RUN_ITEM_COLUMNS, run_item_chunks, run_score_names, to_dataframe

    s, p = _where(store, project)
    ids = _resolved(s, p, [run_ids] if isinstance(run_ids, str) else run_ids)
    columns = [*RUN_ITEM_COLUMNS, *run_score_names(s, ids)]
    return to_dataframe(run_item_chunks(s, p, ids), columns)


def export(
    run_ids: Sequence[str],
    out: str | Path,
    fmt: str = "parquet",
    *,
    store: Store | None = None,
    project: str | None = None,
) -> int:
    """Stream the runs' items to ``out`` (parquet, csv or jsonl); how many rows were written."""
    from loopstack.store.exports import RUN_ITEM_COLUMNS, run_item_chunks, run_score_names, write_rows

    s, p = _where(store, project)
    ids = _resolved(s, p, run_ids)
    names = run_score_names(s, ids)
    return write_rows(run_item_chunks(s, p, ids), Path(out), fmt, RUN_ITEM_COLUMNS, names)
