"""The UI's use of datasets, through the datasets repository: pickers, adding a span, editing an item."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from loopstack.errors import NotFound
from loopstack.store import Store
from loopstack.store.datasets import DatasetItem, DatasetRepository, PushResult


def dataset_names(store: Store, project: str) -> list[str]:
    """Names of the project's datasets, for the "add to dataset" picker."""
    return [d.name for d in DatasetRepository(store, project).list_datasets()]


def span_input(text: str | None) -> dict[str, Any]:
    """A span's input as dataset item variables: a JSON object as is, chat messages as ``messages``."""
    if text:
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if isinstance(value, dict):
            return value
        if isinstance(value, list):
            return {"messages": value}
    return {"input": text or ""}


def add_span_to_dataset(
    store: Store, project: str, dataset: str, span: dict[str, Any], *, expected: str | None = None
) -> PushResult:
    """Add ``span`` to ``dataset`` (created if new) as an item linked to its trace and span."""
    meta = {k: span[k] for k in ("model", "prompt_name", "prompt_version") if span.get(k) is not None}
    item = DatasetItem(
        key=f"span-{span['span_id']}",
        input=span_input(span.get("input")),
        expected=expected if expected is not None else span.get("output"),
        metadata=meta,
        source_trace_id=span["trace_id"],
        source_span_id=span["span_id"],
    )
    return DatasetRepository(store, project).add_items(dataset, [item])


def find_item(store: Store, project: str, dataset: str, key: str) -> DatasetItem:
    """The current revision of item ``key``."""
    for item in DatasetRepository(store, project).items(dataset):
        if item.key == key:
            return item
    raise NotFound(f"dataset {dataset!r} has no current item {key!r}")


def parse_expected(text: str, before: Any) -> Any:
    """The edited expected output: JSON when the old value was structured, else the text itself."""
    if isinstance(before, str) or before is None:
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def set_expected(store: Store, project: str, dataset: str, key: str, expected: Any) -> PushResult:
    """Revise one item's expected output (a new dataset version; the old revision stays readable)."""
    item = find_item(store, project, dataset, key)
    return DatasetRepository(store, project).add_items(dataset, [replace(item, expected=expected)])
