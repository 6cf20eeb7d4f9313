"""Comparing two stored runs item by item: the paired statistics and the items that got worse."""

from __future__ import annotations

from dataclasses import dataclass

from loopstack.evals._outcome import RunComparison, compare, score_direction
from loopstack.store.runs import RunItemRecord, RunRepository


@dataclass(frozen=True)
class ItemPair:
    """One item (and epoch) in both runs: each score's two values, and which got worse or better.

    Worse means lower, or higher for a scorer where lower is better; an error where the baseline had a
    score counts as worse, a score where the baseline errored as better.
    """

    item_key: str
    epoch: int
    baseline: RunItemRecord | None
    candidate: RunItemRecord | None
    values: dict[str, tuple[float | None, float | None]]
    regressed: list[str]
    improved: list[str]

    @property
    def changed(self) -> bool:
        out_a = self.baseline.output if self.baseline else None
        out_b = self.candidate.output if self.candidate else None
        return bool(self.regressed or self.improved) or out_a != out_b


@dataclass(frozen=True)
class RegressedItem:
    """An item (and epoch) where the candidate scored worse than the baseline on ``scores``."""

    item_key: str
    epoch: int
    baseline: RunItemRecord | None
    candidate: RunItemRecord | None
    scores: list[str]

    def as_row(self) -> tuple[str, int, RunItemRecord | None, RunItemRecord | None, list[str]]:
        return (self.item_key, self.epoch, self.baseline, self.candidate, self.scores)


def _value(item: RunItemRecord | None, name: str) -> float | None:
    if item is None or item.error is not None:
        return None
    s = item.score(name)
    return None if s is None or s.error is not None else s.value


def _worse(before: float | None, after: float | None, higher_is_better: bool) -> bool:
    if before is None:
        return False
    if after is None:
        return True
    return after < before if higher_is_better else after > before


def pair_items(
    base_items: list[RunItemRecord],
    cand_items: list[RunItemRecord],
    score_names: list[str],
    directions: dict[str, bool] | None = None,
) -> list[ItemPair]:
    """Every item of either run side by side: regressions first, then improvements, other changes."""
    base = {(i.item_key, i.epoch): i for i in base_items}
    cand = {(i.item_key, i.epoch): i for i in cand_items}
    pairs: list[ItemPair] = []
    for key in sorted(base.keys() | cand.keys()):
        b, c = base.get(key), cand.get(key)
        values = {n: (_value(b, n), _value(c, n)) for n in score_names}
        higher = {n: score_direction(n, directions or {}) for n in score_names}
        worse = [n for n, (u, v) in values.items() if _worse(u, v, higher[n])]
        better = [n for n, (u, v) in values.items() if _worse(v, u, higher[n])]
        pairs.append(ItemPair(key[0], key[1], b, c, values, worse, better))
    pairs.sort(key=lambda p: (-len(p.regressed), not p.improved, not p.changed, p.item_key, p.epoch))
    return pairs


def regressed_items(
    base_items: list[RunItemRecord],
    cand_items: list[RunItemRecord],
    score_names: list[str],
    directions: dict[str, bool] | None = None,
) -> list[RegressedItem]:
    """Items both runs have where the candidate scored worse, the most regressed scores first."""
    return _regressed(pair_items(base_items, cand_items, score_names, directions))


def _regressed(pairs: list[ItemPair]) -> list[RegressedItem]:
    return [
        RegressedItem(p.item_key, p.epoch, p.baseline, p.candidate, p.regressed)
        for p in pairs
        if p.regressed and p.baseline is not None and p.candidate is not None
    ]


def compare_stored_pairs(
    repo: RunRepository, baseline_id: str, candidate_id: str
) -> tuple[RunComparison, list[ItemPair]]:
    """The paired comparison of two stored runs and all their items side by side."""
    a, b = repo.get(baseline_id), repo.get(candidate_id)
    a_items, b_items = repo.items(a.id), repo.items(b.id)
    comparison = compare(a, a_items, b, b_items)
    return comparison, pair_items(a_items, b_items, list(comparison.scores), comparison.directions)


def compare_stored_runs(
    repo: RunRepository, baseline_id: str, candidate_id: str
) -> tuple[RunComparison, list[RegressedItem]]:
    """The paired comparison of two stored runs and the items that regressed (baseline first)."""
    comparison, pairs = compare_stored_pairs(repo, baseline_id, candidate_id)
    return comparison, _regressed(pairs)
