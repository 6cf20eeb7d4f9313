"""Migration 0013 adds teacher_labels to a database at 0012 and keeps what was there."""

from __future__ import annotations

from sqlalchemy import inspect

from loopstack.store import Store
from loopstack.store.datasets import DatasetItem, DatasetRepository
from loopstack.store.migrate import head_revision, status, upgrade
from loopstack.store.teacher_labels import TeacherLabel, TeacherLabelRepository


def test_upgrade_from_0012_adds_teacher_labels_and_keeps_datasets(empty_url: str) -> None:
    store = Store(empty_url, migrate=False)
    upgrade(store, "0012")
    with store.read() as conn:
        assert "teacher_labels" not in inspect(conn).get_table_names()
    DatasetRepository(store).push("reviews", [DatasetItem(key="a", input={"review": "ok"})])
    upgrade(store)
    assert status(store)["current"] == head_revision()
    info = DatasetRepository(store).get("reviews")
    assert info.item_count == 1
    labels = TeacherLabelRepository(store, "default", info.id)
    first = TeacherLabel(item_key="a", teacher="mock/t", output="x", prompt_name="p", prompt_version=1)
    assert labels.save([first]) == 1
    assert labels.save([first]) == 0  # the same item, teacher and prompt version: stored once
    assert labels.save([TeacherLabel(item_key="a", teacher="mock/t", output="y")]) == 1  # no prompt: another
    store.close()
