"""The UI's use of datasets, through the datasets repository: pickers, adding a span, editing an item."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from loopstack.errors import NotFound

# One mapping from a span to item variables, shared with curation (``loopstack dataset from-traces``).
from loopstack.flywheel._items import prompt_variables, span_input
from loopstack.store import Store
from loopstack.store.datasets import DatasetItem, DatasetPushResult, DatasetRepository
from loopstack.store.scores import ScoreRepository


def dataset_names(store: Store, project: str) -> list[str]:
    """Names of the project's datasets, for the "add to dataset" picker."""
    return [d.name for d in DatasetRepository(store, project).list_datasets()]


@dataclass(frozen=True)
class AddedSpan:
    """What "add to dataset" stored: where the item's input and expected output came from."""

    result: DatasetPushResult
    input_from: str  # "variables" (the prompt's template variables) | "input" (the span's own input)
    expected_from: str  # "given" | "correction" (a human correction) | "output" (the span's output)


def human_correction(store: Store, project: str, span: dict[str, Any]) -> str | None:
    """The newest human correction of this span, else of its trace as a whole."""
    found = ScoreRepository(store, project).list_scores(
        trace_id=span["trace_id"], name="correction", data_type="text"
    )
    for wanted in (span["span_id"], None):
        for row in found:  # newest first
            if row["span_id"] == wanted and row["string_value"] and row["source"] == "human":
                return str(row["string_value"])
    return None


def add_span_to_dataset(
    store: Store, project: str, dataset: str, span: dict[str, Any], *, expected: str | None = None
) -> AddedSpan:
    """Add ``span`` to ``dataset`` (created if new) as an item linked to its trace and span.

    The item's input is the prompt's template variables when the call recorded them (else the span's
    input: its JSON object, or its chat messages as ``messages``); its expected output is ``expected``
    when given, else the newest human correction, else the span's output.
    """
    repo = DatasetRepository(store, project)
    meta = {k: span[k] for k in ("model", "prompt_name", "prompt_version") if span.get(k) is not None}
    variables = prompt_variables(span)
    correction = None if expected is not None else human_correction(store, project, span)
    item = DatasetItem(
        key=f"span-{span['span_id']}",
        input=variables if variables is not None else span_input(span.get("input")),
        expected=expected
        if expected is not None
        else correction
        if correction is not None
        else span.get("output"),
        metadata=meta,
        source_trace_id=span["trace_id"],
        source_span_id=span["span_id"],
    )
    return AddedSpan(
        result=repo.add_items(dataset, [item]),
        input_from="variables" if variables is not None else "input",
        expected_from="given"
        if expected is not None
        else "correction"
        if correction is not None
        else "output",
    )


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


def set_expected(store: Store, project: str, dataset: str, key: str, expected: Any) -> DatasetPushResult:
    """Revise one item's expected output (a new dataset version; the old revision stays readable)."""
    item = find_item(store, project, dataset, key)
    return DatasetRepository(store, project).add_items(dataset, [replace(item, expected=expected)])
