"""Teacher labels repository: a teacher model's answer per dataset item, stored apart from human labels.

A label is keyed by (dataset, item key, teacher model, prompt version). Writes insert-or-skip on that
key, so a labelling job that is resumed, repeated, or fed the same Batch results file twice stores each
label exactly once; ``labelled_keys`` is what a resumed job skips.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Insert, func, select

from loopstack.store._repository import ProjectRepository
from loopstack.store._store import Store
from loopstack.store._types import new_id, utcnow
from loopstack.store.tables import teacher_labels


@dataclass(frozen=True)
class TeacherLabel:
    """One teacher answer for one dataset item, with what produced it and what it cost."""

    item_key: str
    teacher: str
    output: str
    value: Any = None
    """The output parsed as JSON when it is JSON, else the text."""
    prompt_name: str | None = None
    prompt_version: int | None = None
    params: dict[str, Any] | None = None
    dataset_item_id: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost: float | None = None
    latency_ms: float | None = None
    source: str = "api"
    """``api`` (called live) or ``batch`` (imported from a Batch API results file)."""
    created_at: datetime | None = None

    @property
    def prompt_ref(self) -> str:
        """``name@version``, or ``""`` for a label made without a registered prompt."""
        return prompt_ref(self.prompt_name, self.prompt_version)


def prompt_ref(name: str | None, version: int | None) -> str:
    """The key part naming the prompt version a label was made with (``""`` for none)."""
    if not name:
        return ""
    return f"{name}@{version}" if version is not None else name


def _insert_ignoring_duplicates(conn: Connection) -> Insert:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(teacher_labels).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(teacher_labels).on_conflict_do_nothing()


def _label(m: Any) -> TeacherLabel:
    return TeacherLabel(
        item_key=m["item_key"],
        teacher=m["teacher"],
        output=m["output"],
        value=m["value"],
        prompt_name=m["prompt_name"],
        prompt_version=m["prompt_version"],
        params=m["params"],
        dataset_item_id=m["dataset_item_id"],
        input_tokens=m["input_tokens"],
        output_tokens=m["output_tokens"],
        cost=m["cost"],
        latency_ms=m["latency_ms"],
        source=m["source"],
        created_at=m["created_at"],
    )


class TeacherLabelRepository(ProjectRepository):
    """Teacher labels of one dataset (by id; ``DatasetRepository.get(name).id`` finds it)."""

    def __init__(self, store: Store, project: str, dataset_id: str) -> None:
        super().__init__(store, project)
        self.dataset_id = dataset_id

    def save(self, labels: Sequence[TeacherLabel]) -> int:
        """Store ``labels`` in one transaction, skipping any already stored; returns how many were new."""
        if not labels:
            return 0
        now = utcnow()
        rows = [
            {
                "id": new_id(),
                "project_id": self.project_id,
                "dataset_id": self.dataset_id,
                "item_key": lb.item_key,
                "dataset_item_id": lb.dataset_item_id,
                "teacher": lb.teacher,
                "prompt_ref": lb.prompt_ref,
                "prompt_name": lb.prompt_name,
                "prompt_version": lb.prompt_version,
                "params": lb.params,
                "output": lb.output,
                "value": lb.value,
                "input_tokens": lb.input_tokens,
                "output_tokens": lb.output_tokens,
                "cost": lb.cost,
                "latency_ms": lb.latency_ms,
                "source": lb.source,
                "created_at": lb.created_at or now,
            }
            for lb in labels
        ]
        with self.store.write() as conn:
            before = self._count(conn)
            conn.execute(_insert_ignoring_duplicates(conn), rows)
            return self._count(conn) - before

    def _count(self, conn: Connection) -> int:
        return int(
            conn.execute(
                select(func.count())
                .select_from(teacher_labels)
                .where(teacher_labels.c.dataset_id == self.dataset_id)
            ).scalar_one()
        )

    def count(self) -> int:
        """How many labels the dataset has (every teacher and prompt)."""
        with self.store.read() as conn:
            return self._count(conn)

    def labelled_keys(self, teacher: str, prompt_name: str | None, prompt_version: int | None) -> set[str]:
        """Item keys that already have a label from ``teacher`` with that prompt version."""
        with self.store.read() as conn:
            found = conn.execute(
                select(teacher_labels.c.item_key).where(
                    teacher_labels.c.dataset_id == self.dataset_id,
                    teacher_labels.c.teacher == teacher,
                    teacher_labels.c.prompt_ref == prompt_ref(prompt_name, prompt_version),
                )
            ).scalars()
            return set(found)

    def labels(self, *, teacher: str | None = None, prompt: str | None = None) -> list[TeacherLabel]:
        """The dataset's labels, oldest first; ``teacher`` and ``prompt`` (``name@version``) narrow them."""
        query = select(teacher_labels).where(teacher_labels.c.dataset_id == self.dataset_id)
        if teacher is not None:
            query = query.where(teacher_labels.c.teacher == teacher)
        if prompt is not None:
            query = query.where(teacher_labels.c.prompt_ref == prompt)
        with self.store.read() as conn:
            rows = conn.execute(query.order_by(teacher_labels.c.created_at, teacher_labels.c.id)).all()
            return [_label(r._mapping) for r in rows]

    def teachers(self) -> list[tuple[str, str, int]]:
        """``(teacher, prompt_ref, labels)`` for each teacher and prompt version that labelled the dataset."""
        with self.store.read() as conn:
            rows = conn.execute(
                select(teacher_labels.c.teacher, teacher_labels.c.prompt_ref, func.count())
                .where(teacher_labels.c.dataset_id == self.dataset_id)
                .group_by(teacher_labels.c.teacher, teacher_labels.c.prompt_ref)
                .order_by(teacher_labels.c.teacher, teacher_labels.c.prompt_ref)
            ).all()
            return [(str(t), str(p), int(n)) for t, p, n in rows]
