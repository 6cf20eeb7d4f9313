"""Dataset repository: named datasets whose items are versioned by ``valid_from``/``valid_to``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from loopstack.errors import InvalidInput, NotFound
from loopstack.store._repository import ProjectRepository
from loopstack.store._types import json_default, new_id, utcnow
from loopstack.store.tables import dataset_items, datasets


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


@dataclass(frozen=True)
class DatasetInfo:
    """A stored dataset: its current version and how many items that version holds."""

    id: str
    name: str
    description: str | None
    version: int
    item_count: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class DatasetPushResult:
    """What a push changed. ``version`` is unchanged when the content was identical."""

    name: str
    version: int
    added: int
    changed: int
    removed: int
    unchanged: int

    @property
    def created_version(self) -> bool:
        """The push made a new dataset version."""
        return bool(self.added or self.changed or self.removed)

    @property
    def total(self) -> int:
        return self.added + self.changed + self.unchanged


def _content(item: DatasetItem) -> tuple[Any, ...]:
    """The fields whose change makes a new revision of an item."""
    return (
        _canonical(item.input),
        _canonical(item.expected),
        _canonical(item.metadata or {}),
        item.split,
        item.cluster,
        item.source_trace_id,
        item.source_span_id,
    )


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=json_default)


def _row_id(version: int, position: int) -> str:
    """A row id that sorts by (version first seen, position in that push): ``ORDER BY id`` is file order."""
    return f"{version:06d}{position:08d}{new_id()[:18]}"


def _item(row: Row[Any]) -> DatasetItem:
    m = row._mapping
    return DatasetItem(
        key=m["item_key"],
        input=dict(m["input"] or {}),
        expected=m["expected"],
        metadata=dict(m["metadata"] or {}),
        split=m["split"],
        cluster=m["cluster"],
        id=m["id"],
        source_trace_id=m["source_trace_id"],
        source_span_id=m["source_span_id"],
        valid_from=m["valid_from"],
        valid_to=m["valid_to"],
    )


def _at_version(version: int) -> ColumnElement[bool]:
    return and_(
        dataset_items.c.valid_from <= version,
        or_(dataset_items.c.valid_to.is_(None), dataset_items.c.valid_to > version),
    )


class DatasetRepository(ProjectRepository):
    """Datasets of one project. Every push that changes content makes a new integer version; item rows
    are revisions valid in ``[valid_from, valid_to)``, so any past version can be read back exactly."""

    # -- reading ---------------------------------------------------------------------------------------

    def _row(self, conn: Connection, name: str) -> Row[Any]:
        row = conn.execute(
            select(datasets).where(datasets.c.project_id == self.project_id, datasets.c.name == name)
        ).first()
        if row is None:
            known = conn.execute(
                select(datasets.c.name).where(datasets.c.project_id == self.project_id).order_by("name")
            ).scalars()
            names = ", ".join(known) or "none yet; push one with `loopstack dataset push FILE --name NAME`"
            raise NotFound(f"no dataset named {name!r} in project {self.project!r} (known: {names})")
        return row

    def _info(self, conn: Connection, row: Row[Any]) -> DatasetInfo:
        m = row._mapping
        count = conn.execute(
            select(func.count())
            .select_from(dataset_items)
            .where(dataset_items.c.dataset_id == m["id"], dataset_items.c.valid_to.is_(None))
        ).scalar_one()
        return DatasetInfo(
            id=m["id"],
            name=m["name"],
            description=m["description"],
            version=m["version"],
            item_count=int(count),
            created_at=m["created_at"],
            updated_at=m["updated_at"],
        )

    def get(self, name: str) -> DatasetInfo:
        """The dataset called ``name`` (``NotFound`` lists the known ones)."""
        with self.store.read() as conn:
            return self._info(conn, self._row(conn, name))

    def exists(self, name: str) -> bool:
        with self.store.read() as conn:
            return (
                conn.execute(
                    select(datasets.c.id).where(
                        datasets.c.project_id == self.project_id, datasets.c.name == name
                    )
                ).first()
                is not None
            )

    def list_datasets(self) -> list[DatasetInfo]:
        """Every dataset of the project, by name."""
        with self.store.read() as conn:
            rows = conn.execute(
                select(datasets).where(datasets.c.project_id == self.project_id).order_by(datasets.c.name)
            ).all()
            return [self._info(conn, r) for r in rows]

    def items(self, name: str, version: int | None = None, *, split: str | None = None) -> list[DatasetItem]:
        """The items of ``name`` exactly as they were at ``version`` (default: the current version)."""
        with self.store.read() as conn:
            row = self._row(conn, name)
            current = int(row._mapping["version"])
            v = current if version is None else version
            if v < 1 or v > current:
                raise NotFound(
                    f"dataset {name!r} has no version {v} (versions: 1..{current})"
                    if current
                    else f"dataset {name!r} has no items yet"
                )
            query = select(dataset_items).where(
                dataset_items.c.dataset_id == row._mapping["id"], _at_version(v)
            )
            if split is not None:
                query = query.where(dataset_items.c.split == split)
            return [_item(r) for r in conn.execute(query.order_by(dataset_items.c.id)).all()]

    def history(self, name: str, key: str) -> list[DatasetItem]:
        """Every revision of one item, oldest first."""
        with self.store.read() as conn:
            row = self._row(conn, name)
            rows = conn.execute(
                select(dataset_items)
                .where(dataset_items.c.dataset_id == row._mapping["id"], dataset_items.c.item_key == key)
                .order_by(dataset_items.c.valid_from)
            ).all()
            return [_item(r) for r in rows]

    # -- writing ---------------------------------------------------------------------------------------

    def push(
        self,
        name: str,
        items: Sequence[DatasetItem],
        *,
        description: str | None = None,
        replace: bool = True,
    ) -> DatasetPushResult:
        """Make ``items`` the content of ``name`` (creating it), as a new version if anything changed.

        With ``replace`` (a file push) items absent from ``items`` are removed from the new version;
        without it (adding curated traces) only the given items are added or revised.
        """
        seen: dict[str, int] = {}
        for i, item in enumerate(items):
            if item.key in seen:
                raise InvalidInput(
                    f"dataset {name!r}: item {i + 1} repeats key {item.key!r} (item {seen[item.key] + 1})"
                )
            seen[item.key] = i
        try:
            return self._push(name, items, seen, description, replace)
        except IntegrityError:  # another process created the dataset first: push onto theirs
            return self._push(name, items, seen, description, replace)

    def _push(
        self,
        name: str,
        items: Sequence[DatasetItem],
        seen: dict[str, int],
        description: str | None,
        replace: bool,
    ) -> DatasetPushResult:
        now = utcnow()
        with self.store.write() as conn:
            # FOR UPDATE serialises concurrent pushes to one dataset on PostgreSQL (SQLite's write
            # transaction already does), so two pushes never both create version N+1.
            row = conn.execute(
                select(datasets)
                .where(datasets.c.project_id == self.project_id, datasets.c.name == name)
                .with_for_update()
            ).first()
            if row is None:
                dataset_id = new_id()
                conn.execute(
                    insert(datasets).values(
                        id=dataset_id,
                        project_id=self.project_id,
                        name=name,
                        description=description,
                        version=0,
                        created_at=now,
                        updated_at=now,
                    )
                )
                current = 0
            else:
                dataset_id, current = row._mapping["id"], int(row._mapping["version"])
            live = {
                r._mapping["item_key"]: r
                for r in conn.execute(
                    select(dataset_items).where(
                        dataset_items.c.dataset_id == dataset_id, dataset_items.c.valid_to.is_(None)
                    )
                ).all()
            }
            new_version = current + 1
            inserts: list[dict[str, Any]] = []
            closed: list[str] = []
            added = changed = unchanged = 0
            for position, item in enumerate(items):
                old = live.get(item.key)
                if old is not None and _content(_item(old)) == _content(item):
                    unchanged += 1
                    continue
                if old is None:
                    added += 1
                    row_id = _row_id(new_version, position)
                else:
                    changed += 1
                    closed.append(old._mapping["id"])
                    row_id = str(old._mapping["id"])[:14] + new_id()[:18]  # keeps its place in the order
                inserts.append(
                    {
                        "id": row_id,
                        "dataset_id": dataset_id,
                        "item_key": item.key,
                        "input": item.input,
                        "expected": item.expected,
                        "metadata": item.metadata or None,
                        "split": item.split,
                        "cluster": item.cluster,
                        "source_trace_id": item.source_trace_id,
                        "source_span_id": item.source_span_id,
                        "valid_from": new_version,
                        "valid_to": None,
                        "created_at": now,
                    }
                )
            removed_ids = [r._mapping["id"] for k, r in live.items() if k not in seen] if replace else []
            closed.extend(removed_ids)
            if not inserts and not closed:
                if description is not None and row is not None:
                    conn.execute(
                        update(datasets).where(datasets.c.id == dataset_id).values(description=description)
                    )
                return DatasetPushResult(name, current, 0, 0, 0, unchanged)
            for start in range(0, len(closed), 500):
                conn.execute(
                    update(dataset_items)
                    .where(dataset_items.c.id.in_(closed[start : start + 500]))
                    .values(valid_to=new_version)
                )
            if inserts:
                conn.execute(insert(dataset_items), inserts)
            values: dict[str, Any] = {"version": new_version, "updated_at": now}
            if description is not None:
                values["description"] = description
            conn.execute(update(datasets).where(datasets.c.id == dataset_id).values(**values))
            return DatasetPushResult(name, new_version, added, changed, len(removed_ids), unchanged)

    def add_items(self, name: str, items: Sequence[DatasetItem]) -> DatasetPushResult:
        """Add or revise ``items`` in ``name`` (creating it), keeping every other item."""
        return self.push(name, items, replace=False)

    def delete(self, name: str) -> None:
        """Delete a dataset and all its revisions (runs keep their rows; their dataset link is cleared)."""
        with self.store.write() as conn:
            row = self._row(conn, name)
            conn.execute(delete(dataset_items).where(dataset_items.c.dataset_id == row._mapping["id"]))
            conn.execute(delete(datasets).where(datasets.c.id == row._mapping["id"]))
