"""Comparing two stored runs item by item: the paired statistics and the items that got worse."""

from __future__ import annotations

from dataclasses import dataclass

from loopstack.evals._outcome import RunComparison, compare, score_direction
from loopstack.store.runs import RunItemRecord, RunRepository


@dataclass(frozen=True)
class RegressedItem:
    """An item (and epoch) where the candidate scored lower than the baseline on ``scores``."""

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


def regressed_items(
    base_items: list[RunItemRecord],
    cand_items: list[RunItemRecord],
    score_names: list[str],
    directions: dict[str, bool] | None = None,
) -> list[RegressedItem]:
    """Items the candidate scored worse on: lower, or higher where lower is better (``directions``);
    an error where the baseline had a score counts as worse."""
    base = {(i.item_key, i.epoch): i for i in base_items}
    cand = {(i.item_key, i.epoch): i for i in cand_items}
    out: list[RegressedItem] = []
    for key in sorted(base.keys() & cand.keys()):
        b, c = base[key], cand[key]
        worse = []
        for name in score_names:
            bv, cv = _value(b, name), _value(c, name)
            higher = score_direction(name, directions or {})
            if bv is not None and (cv is None or (cv < bv if higher else cv > bv)):
                worse.append(name)
        if worse:
            out.append(RegressedItem(key[0], key[1], b, c, worse))
    out.sort(key=lambda r: (-len(r.scores), r.item_key, r.epoch))
    return out


def compare_stored_runs(
    repo: RunRepository, baseline_id: str, candidate_id: str
) -> tuple[RunComparison, list[RegressedItem]]:
    """The paired comparison of two stored runs and the items that regressed (baseline first)."""
    a, b = repo.get(baseline_id), repo.get(candidate_id)
    a_items, b_items = repo.items(a.id), repo.items(b.id)
    comparison = compare(a, a_items, b, b_items)
    return comparison, regressed_items(a_items, b_items, list(comparison.scores), comparison.directions)
