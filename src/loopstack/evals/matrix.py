"""The N-run comparison matrix: items × runs, each cell an output with its scores, changed rows first.

A row is one (item key, epoch) found in any of the runs; it is *changed* when the runs disagree on the
output or on any score value (an item missing from a run counts as a disagreement). This is a view for
reading outputs side by side; the statistics of a pair stay in ``compare`` (paired tests).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from loopstack.errors import InvalidInput
from loopstack.store.runs import RunItemRecord, RunRecord, RunRepository

MAX_RUNS = 12


@dataclass(frozen=True)
class Cell:
    output: str | None
    error: str | None
    scores: dict[str, float | str | None]
    latency_ms: float | None
    cost: float | None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached: bool = False


@dataclass
class MatrixRow:
    item_key: str
    epoch: int
    input: dict[str, Any]
    expected: Any
    cells: list[Cell | None]
    changed: bool = False


@dataclass
class Matrix:
    runs: list[RunRecord]
    rows: list[MatrixRow]
    score_names: list[str] = field(default_factory=list)

    @property
    def n_changed(self) -> int:
        return sum(1 for r in self.rows if r.changed)


def _cell(item: RunItemRecord) -> Cell:
    values: dict[str, float | str | None] = {}
    for s in item.scores:
        values[s.name] = None if s.error else (s.value if s.value is not None else s.string_value)
    return Cell(
        item.output,
        item.error,
        values,
        item.latency_ms,
        item.cost,
        item.input_tokens,
        item.output_tokens,
        item.cached,
    )


def _changed(cells: Sequence[Cell | None]) -> bool:
    if any(c is None for c in cells):
        return True
    present = [c for c in cells if c is not None]
    first = present[0]
    return any(
        (c.output, c.error, c.scores) != (first.output, first.error, first.scores) for c in present[1:]
    )


def build_matrix(
    repo: RunRepository, run_ids: Sequence[str], *, min_runs: int = 2, changed_first: bool = True
) -> Matrix:
    """The matrix over ``run_ids`` (ids or unique prefixes, 2 to MAX_RUNS, in the order given)."""
    ids = list(dict.fromkeys(r for r in run_ids if r))
    if not min_runs <= len(ids) <= MAX_RUNS:
        raise InvalidInput(f"compare: pick {min_runs} to {MAX_RUNS} runs (got {len(ids)})")
    runs = [repo.get(r) for r in ids]
    by_run = [{(it.item_key, it.epoch): it for it in repo.items(r.id)} for r in runs]
    keys = sorted({k for items in by_run for k in items})
    rows: list[MatrixRow] = []
    names: set[str] = set()
    for key in keys:
        found = [items.get(key) for items in by_run]
        first = next(it for it in found if it is not None)
        cells = [None if it is None else _cell(it) for it in found]
        for c in cells:
            if c is not None:
                names.update(c.scores)
        rows.append(MatrixRow(key[0], key[1], first.input, first.expected, cells, _changed(cells)))
    if changed_first:
        rows.sort(key=lambda r: not r.changed)  # stable: changed first, then by item key
    return Matrix(runs, rows, sorted(names))
