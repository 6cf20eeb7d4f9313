"""The UI's use of datasets: names for pickers, and adding a production span as a dataset item."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from loopstack.errors import LoopstackError
from loopstack.store import Store
from loopstack.store.tables import datasets


def dataset_names(store: Store, project_id: str) -> list[str]:
    """Names of the project's datasets, for the "add to dataset" picker."""
    with store.read() as conn:
        return [
            str(n)
            for n in conn.execute(
                select(datasets.c.name).where(datasets.c.project_id == project_id).order_by(datasets.c.name)
            ).scalars()
        ]


def add_span_to_dataset(
    store: Store, project_id: str, dataset: str, span: dict[str, Any], *, expected: str | None = None
) -> None:
    """Add ``span`` to ``dataset`` as an item linked to its trace and span (via the datasets repository)."""
    raise LoopstackError("adding to a dataset needs the datasets repository, which is not available yet")
