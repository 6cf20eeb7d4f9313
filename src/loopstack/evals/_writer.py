"""The runner's persistence: finished items go to the store as soon as they finish, off the event loop.

One writer task drains everything that finished since its last write and stores it in one transaction,
so under load writes batch themselves (throughput) while a lone item is written at once (nothing
finished is kept only in memory for long). ``close()`` waits until every queued item is stored.
"""

from __future__ import annotations

import asyncio

from loopstack.store.runs import ItemResult, RunRepository


class ItemWriter:
    """Queue finished items; a background task writes them in batches of whatever is waiting."""

    def __init__(self, repo: RunRepository, *, replace: bool = True) -> None:
        self.repo = repo
        self.replace = replace
        self._queue: asyncio.Queue[tuple[str, ItemResult] | None] = asyncio.Queue()
        self._task: asyncio.Task[None] = asyncio.create_task(self._run())
        self.written = 0
        self.error: BaseException | None = None

    def put(self, run_id: str, item: ItemResult) -> None:
        """Hand over a finished item (raises the writer's error, if writing has failed)."""
        if self.error is not None:
            raise self.error
        self._queue.put_nowait((run_id, item))

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
                await asyncio.to_thread(self.repo.save_batch, batch, replace=self.replace)
            except BaseException as exc:
                self.error = exc
                raise
            self.written += len(batch)

    async def close(self) -> None:
        """Store everything queued, then stop; re-raises a write failure."""
        if not self._task.done():
            self._queue.put_nowait(None)
        # Shielded: an interrupt while flushing must not drop finished items on the floor.
        await asyncio.shield(self._task)
        if self.error is not None:
            raise self.error
