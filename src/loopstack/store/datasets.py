"""Dataset repository: named datasets whose items are versioned by ``valid_from``/``valid_to``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class DatasetItem:
    """One test case: the input variables, the expected output, and where it belongs.

    ``key`` is stable across revisions of the item (from an id column, else a content hash), so two
    runs on different dataset versions can still be paired item by item.
    """

    key: str
    input: dict[str, Any]
    expected: Any = None
    metadata: dict[str, Any] = field(default_factory=dict)
    split: str | None = None
    cluster: str | None = None
    id: str | None = None
    """Row id of this revision in ``dataset_items`` (``None`` for an item not stored yet)."""
    source_trace_id: str | None = None
    source_span_id: str | None = None
    valid_from: int | None = None
    valid_to: int | None = None
