"""Persistence: tables, migrations and the Store that every other part writes through."""

from loopstack.store._store import Store, get_store, reset_stores
from loopstack.store._types import new_id, utcnow

__all__ = ["Store", "get_store", "new_id", "reset_stores", "utcnow"]
