"""The runner's progress bar: items done of total, ETA, cost so far and errors (rich, on stderr)."""

from __future__ import annotations

from typing import Any


class RunProgress:
    """A rich progress bar, or nothing when disabled (library use, tests, non-interactive CI logs)."""

    def __init__(self, *, enabled: bool, console: Any = None, description: str = "eval") -> None:
        self.enabled = enabled
        self.console = console
        self.description = description
        self.cost = 0.0
        self.errors = 0
        self.done = 0
        self._progress: Any = None
        self._task: Any = None

    def start(self, total: int) -> None:
        if not self.enabled:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        console = self.console or Console(stderr=True)
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[extra]}"),
            console=console,
            transient=False,
        )
        self._task = self._progress.add_task(self.description, total=total, extra=self._extra())
        self._progress.start()

    def _extra(self) -> str:
        err = f" · [red]{self.errors} errors[/red]" if self.errors else ""
        return f"${self.cost:.4f}{err}"

    def advance(self, cost: float | None, *, failed: bool = False) -> None:
        self.done += 1
        self.cost += cost or 0.0
        self.errors += int(failed)
        if self._progress is not None:
            self._progress.update(self._task, advance=1, extra=self._extra())

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
