"""The runner's persistence: finished items go to the store as soon as they finish, off the event loop.

One writer task drains everything that finished since its last write and stores it in one transaction,
so under load writes batch themselves (group commit: throughput) while a lone item is written at once
(nothing finished is kept only in memory for long). ``close()`` waits until every queued item is stored.
``BatchWriter`` is the mechanism (the flywheel's teacher labelling stores its labels with it too);
``ItemWriter`` stores eval run items.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, TypeVar

from loopstack.store.runs import ItemResult, RunRepository

T = TypeVar("T")


class BatchWriter(Generic[T]):
    """Queue finished results; a background task stores whatever is waiting with one ``save`` call."""

    def __init__(self, save: Callable[[list[T]], object]) -> None:
        self._save = save
        self._queue: asyncio.Queue[T | None] = asyncio.Queue()
        self._task: asyncio.Task[None] = asyncio.create_task(self._run())
        self.written = 0
        self.batches = 0
        self.error: BaseException | None = None

    def submit(self, item: T) -> None:
        """Hand over a finished result (raises the writer's error, if writing has failed)."""
        if self.error is not None:
            raise self.error
        self._queue.put_nowait(item)

    async def _run(self) -> None:
        closing = False
        while not closing:
            first = await self._queue.get()
            if first is None:
                break
            batch = [first]
            while not self._queue.empty():
                nxt = self._queue.get_nowait()
                if nxt is None:
                    closing = True
                    break
                batch.append(nxt)
            try:
                await asyncio.to_thread(self._save, batch)
            except BaseException as exc:
                self.error = exc
                raise
            self.written += len(batch)
            self.batches += 1

    async def close(self) -> None:
        """Store everything queued, then stop; re-raises a write failure."""
        if not self._task.done():
            self._queue.put_nowait(None)
        # Shielded: an interrupt while flushing must not drop finished items on the floor.
        await asyncio.shield(self._task)
        if self.error is not None:
            raise self.error


class ItemWriter(BatchWriter[tuple[str, ItemResult]]):
    """Eval run items, stored with ``RunRepository.save_batch``."""

    def __init__(self, repo: RunRepository, *, replace: bool = True) -> None:
        self.repo = repo
        self.replace = replace
        super().__init__(lambda batch: repo.save_batch(batch, replace=replace))

    def put(self, run_id: str, item: ItemResult) -> None:
        """Hand over a finished item (raises the writer's error, if writing has failed)."""
        self.submit((run_id, item))
