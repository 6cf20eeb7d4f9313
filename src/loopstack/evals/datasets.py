"""``Dataset``: test cases loaded from a file, a DataFrame or the store, pinned to a version.

ds = Dataset.load("reviews.jsonl", split="split")    # or a DataFrame, an HF dataset, a list of dicts
ds.push("reviews")                                    # -> version 1, 2, ... only when content changes
Dataset.pull("reviews", version=1)                    # exactly what a run at version 1 saw
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, overload

from loopstack.evals._dataset_io import (
    ColumnMapping,
    Row,
    item_record,
    read_rows,
    records_from,
    rows_to_items,
    write_items,
)
from loopstack.store import Store, get_store
from loopstack.store.datasets import DatasetItem, DatasetPushResult, DatasetRepository


def _repository(store: Store | None, project: str | None) -> DatasetRepository:
    from loopstack.config import get_settings

    return DatasetRepository(store or get_store(), project or get_settings().project)


class Dataset:
    """An ordered list of ``DatasetItem`` with an optional name and version (when it came from the store)."""

    def __init__(
        self,
        items: Sequence[DatasetItem],
        *,
        name: str | None = None,
        version: int | None = None,
        source: str | None = None,
    ) -> None:
        self.items: list[DatasetItem] = list(items)
        self.name = name
        self.version = version
        self.source = source
        """Where the items came from (a file name), for messages."""

    # -- loading ---------------------------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        data: str | Path | Any,
        *,
        name: str | None = None,
        expected: str = "expected",
        id: str = "id",
        split: str = "split",
        cluster: str = "cluster",
        metadata: str = "metadata",
        input: Sequence[str] | None = None,
        format: str | None = None,
    ) -> Dataset:
        """Items from a file (JSONL, JSON, CSV, TSV, Parquet), a pandas DataFrame, anything with
        ``.to_pandas()`` (a Hugging Face dataset) or an iterable of dicts.

        The column options say which column holds the expected output, the stable id, the split and
        the cluster key; every other column is an input variable (or only ``input`` columns, if given).
        Items without an id are keyed by a hash of their input and expected value.
        """
        mapping = ColumnMapping(
            expected=expected,
            id=id,
            split=split,
            cluster=cluster,
            metadata=metadata,
            input=tuple(input) if input is not None else None,
        )
        rows: list[Row]
        if isinstance(data, str | Path):
            path = Path(data)
            rows = read_rows(path, format)
            source = path.name
        else:
            rows = records_from(data)
            source = type(data).__name__
        return cls(rows_to_items(rows, mapping, source=source), name=name or _stem(data), source=source)

    @classmethod
    def pull(
        cls,
        name: str,
        version: int | None = None,
        *,
        split: str | None = None,
        store: Store | None = None,
        project: str | None = None,
    ) -> Dataset:
        """A stored dataset exactly as it was at ``version`` (default: the current one)."""
        repo = _repository(store, project)
        v = version if version is not None else repo.get(name).version
        return cls(repo.items(name, v, split=split), name=name, version=v, source=f"{name}@{v}")

    # -- storing ---------------------------------------------------------------------------------------

    def push(
        self,
        name: str | None = None,
        *,
        description: str | None = None,
        store: Store | None = None,
        project: str | None = None,
    ) -> DatasetPushResult:
        """Store these items as dataset ``name``: a new version when anything changed (items missing
        from this dataset are removed from the new version; older versions stay readable)."""
        target = name or self.name
        if not target:
            from loopstack.errors import InvalidInput

            raise InvalidInput("give the dataset a name to push it under")
        result = _repository(store, project).push(target, self.items, description=description)
        self.name, self.version = target, result.version
        return result

    # -- views -----------------------------------------------------------------------------------------

    def filter(self, *, split: str | None = None, limit: int | None = None) -> Dataset:
        """The items of one split and/or the first ``limit`` items."""
        items = [i for i in self.items if split is None or i.split == split]
        if limit is not None:
            items = items[:limit]
        return Dataset(items, name=self.name, version=self.version, source=self.source)

    @property
    def splits(self) -> list[str]:
        """The split names present, in first-seen order."""
        return list(dict.fromkeys(i.split for i in self.items if i.split is not None))

    def to_records(self) -> list[dict[str, Any]]:
        """One flat dict per item (id, input variables, expected, split, cluster, metadata)."""
        return [item_record(i) for i in self.items]

    def to_pandas(self) -> Any:
        """A pandas DataFrame of ``to_records()``."""
        import pandas as pd

        return pd.DataFrame(self.to_records())

    def export(
        self,
        path: str | Path,
        *,
        format: str | None = None,
        transform: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None,
    ) -> Path:
        """Write the items as JSONL, JSON, CSV, TSV or Parquet (by suffix, or ``format``).

        ``transform`` rewrites the records first: ``transform=loopstack.safety.mask_records`` masks PII.
        """
        return write_items(self.items, path, format, transform=transform)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[DatasetItem]:
        return iter(self.items)

    @overload
    def __getitem__(self, index: int) -> DatasetItem: ...
    @overload
    def __getitem__(self, index: slice) -> list[DatasetItem]: ...
    def __getitem__(self, index: int | slice) -> DatasetItem | list[DatasetItem]:
        return self.items[index]

    def __repr__(self) -> str:
        where = (
            f" {self.name}" + (f"@{self.version}" if self.version is not None else "") if self.name else ""
        )
        return f"<Dataset{where}: {len(self.items)} items>"


def _stem(data: Any) -> str | None:
    if isinstance(data, str | Path):
        return Path(data).stem
    return None


def load_dataset(data: str | Path | Any, **options: Any) -> Dataset:
    """Shorthand for ``Dataset.load``."""
    return Dataset.load(data, **options)


__all__ = ["ColumnMapping", "Dataset", "DatasetItem", "DatasetPushResult", "load_dataset"]
