"""Migration 0014 adds the rollouts table to a database at 0013 and keeps what was there."""

from __future__ import annotations

from sqlalchemy import inspect, select, text

from loopstack.prompts import PromptRegistry
from loopstack.store import Store
from loopstack.store.migrate import head_revision, upgrade
from loopstack.store.tables import prompt_labels


def test_upgrade_from_0013_adds_rollouts_and_keeps_labels(empty_url: str) -> None:
    store = Store(empty_url, migrate=False)
    upgrade(store, "0013")
    with store.read() as conn:
        assert "rollouts" not in inspect(conn).get_table_names()
    PromptRegistry(store).push("triage", [{"role": "user", "content": "hi"}], labels=["production"])
    upgrade(store)
    with store.read() as conn:
        assert "rollouts" in inspect(conn).get_table_names()
        assert conn.execute(select(prompt_labels.c.version)).scalar() == 1
        assert conn.execute(text("SELECT count(*) FROM rollouts")).scalar() == 0
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head_revision()
    store.close()
