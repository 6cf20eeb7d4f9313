"""Persistent response cache in the ``model_cache`` table, so a rerun with temperature 0 is a replay.

The key is a hash of provider, model, messages, generation parameters and epoch. Every hit is counted
(``hits``, ``last_hit_at``) and the replayed response says ``cached=True``.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from loopstack.models._types import ModelRequest, ModelResponse
from loopstack.store import Store, utcnow
from loopstack.store.tables import model_cache


def cache_key(provider: str, model: str, request: ModelRequest) -> str:
    """Stable hex digest of everything that determines the answer (not the prompt attribution)."""
    payload: dict[str, Any] = {
        "provider": provider,
        "model": model,
        "messages": [[m.role, m.content] for m in request.messages],
        "params": request.params(),
        "epoch": request.epoch,
    }
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()


class ResponseCache:
    """Read and write cached responses through one Store (synchronous; call it off the event loop)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def peek(self, key: str) -> bool:
        """Whether ``key`` is cached (no hit counted)."""
        with self.store.read() as conn:
            return conn.execute(select(model_cache.c.key).where(model_cache.c.key == key)).first() is not None

    def get(self, key: str) -> ModelResponse | None:
        """The cached response for ``key`` (hit counted), or None."""
        with self.store.read() as conn:
            row = conn.execute(select(model_cache.c.response).where(model_cache.c.key == key)).first()
        if row is None:
            return None
        try:
            response = ModelResponse.model_validate(row[0])
        except ValidationError:  # written by an incompatible version: a miss, replaced by the next put
            with self.store.write() as conn:
                conn.execute(delete(model_cache).where(model_cache.c.key == key))
            return None
        with self.store.write() as conn:
            conn.execute(
                update(model_cache)
                .where(model_cache.c.key == key)
                .values(hits=model_cache.c.hits + 1, last_hit_at=utcnow())
            )
        response.cached = True
        return response

    def put(self, key: str, model: str, request: ModelRequest, response: ModelResponse) -> None:
        """Store ``response`` under ``key``; a concurrent writer of the same key wins silently."""
        record = response.model_dump(mode="json", exclude={"cached"})
        req = {"messages": [m.model_dump() for m in request.messages], **request.params()}
        req["epoch"] = request.epoch
        try:
            with self.store.write() as conn:
                conn.execute(
                    insert(model_cache).values(
                        key=key, model=model, request=req, response=record, hits=0, created_at=utcnow()
                    )
                )
        except IntegrityError:
            pass

    def stats(self) -> dict[str, int]:
        """Entries and total hits (for ``loopstack models`` and tests)."""
        from sqlalchemy import func

        with self.store.read() as conn:
            entries, hits = conn.execute(
                select(func.count(), func.coalesce(func.sum(model_cache.c.hits), 0))
            ).one()
        return {"entries": int(entries), "hits": int(hits)}
