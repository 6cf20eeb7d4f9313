"""Frozen, seeded, stratified train/validation/test splits.

A split is assigned once, when an item enters the dataset, and never changed by later curation runs
(re-running ``curate`` adds new items; it does not reshuffle the old ones, so a test item never leaks
into training). New items fill each split towards its target share *of the whole dataset*, per
stratum (the value of the label field, when one is given): within a stratum the split furthest
below its share takes the next item, in a seeded random order.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from loopstack.errors import InvalidInput

DEFAULT_SPLITS: dict[str, float] = {"train": 0.8, "validation": 0.1, "test": 0.1}


def parse_splits(text: str) -> dict[str, float]:
    """``train=0.8,validation=0.1,test=0.1`` (or ``0.8,0.1,0.1`` for those three names) as shares."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    out: dict[str, float] = {}
    names = list(DEFAULT_SPLITS)
    for i, part in enumerate(parts):
        name, sep, share = part.rpartition("=")
        if not sep:
            if len(parts) != 3:
                raise InvalidInput(
                    f"--splits {text!r}: name the splits (train=0.8,test=0.2) or give 3 shares"
                )
            name, share = names[i], part
        try:
            out[name.strip()] = float(share)
        except ValueError:
            raise InvalidInput(f"--splits {text!r}: {share!r} is not a number") from None
    return check_splits(out)


def check_splits(splits: Mapping[str, float]) -> dict[str, float]:
    """The shares, checked: positive, summing to 1 (within rounding)."""
    if not splits or any(v < 0 for v in splits.values()) or abs(sum(splits.values()) - 1) > 1e-6:
        shown = ", ".join(f"{k}={v:g}" for k, v in splits.items())
        raise InvalidInput(f"split shares must be non-negative and sum to 1, not {shown or 'none'}")
    return dict(splits)


def label_of(item_input: Mapping[str, Any], expected: Any, field: str) -> str | None:
    """The stratum of an item: ``field`` of its expected output (an object), else of its input."""
    if isinstance(expected, Mapping) and field in expected:
        value = expected[field]
    elif field in item_input:
        value = item_input[field]
    else:
        return None
    return None if value is None else str(value)


def _order(key: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()


def assign_splits(
    new: Sequence[tuple[str, str | None]],
    existing: Sequence[tuple[str | None, str | None]],
    splits: Mapping[str, float],
    *,
    seed: int = 0,
) -> dict[str, str]:
    """A split per new item key, given ``new`` as ``(key, stratum)`` and ``existing`` items as
    ``(split, stratum)`` (their splits stay as they are)."""
    shares = check_splits(splits)
    strata: dict[str | None, list[str]] = {}
    for key, stratum in new:
        strata.setdefault(stratum, []).append(key)
    have: dict[str | None, Counter[str]] = {}
    for split, stratum in existing:
        if split is not None:
            have.setdefault(stratum, Counter())[split] += 1
    out: dict[str, str] = {}
    names = sorted(shares, key=lambda s: (-shares[s], s))  # ties go to the larger split
    for stratum in sorted(strata, key=lambda s: (s is None, s or "")):
        keys = sorted(strata[stratum], key=lambda k: _order(k, seed))
        counts = Counter(have.get(stratum, Counter()))
        total = sum(counts.values())
        for key in keys:
            total += 1
            # the split furthest below its share of the stratum once this item is in
            best = max(names, key=lambda s: shares[s] * total - counts[s])
            counts[best] += 1
            out[key] = best
    return out
