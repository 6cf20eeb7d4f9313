"""Recall and precision of Loopstack's offline PII detection, per entity type, on a synthetic corpus.

    PYTHONPATH=src python bench/pii_eval.py [--n 300] [--seed 13] [--threshold 0.4]

The corpus (``bench/pii_corpus.py``, deterministic) mixes emails, phones in several national formats,
Luhn-valid cards, checksum-valid IBANs, IPv4/IPv6 addresses and URLs with look-alikes that must stay
unmasked. A finding is a true positive when it has the gold span's type and covers at least half of
it (and is not more than twice as long); anything else it finds is a false positive of its type —
look-alikes included, which are also counted per kind. Recall = TP / gold, precision = TP / found,
each with a Wilson 95% interval. Targets: recall >= 0.95 and precision >= 0.9 for every type.
The last line is ``BENCH pii worst_recall=... target=0.95 met=yes|no worst_precision=... precision_target=0.9
precision_met=yes|no``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from pii_corpus import PII, Text, generate  # noqa: E402

RECALL_TARGET = 0.95
PRECISION_TARGET = 0.90


@dataclass
class Tally:
    """Counts per entity type, and false positives per look-alike kind."""

    tp: Counter[str] = field(default_factory=Counter)
    gold: Counter[str] = field(default_factory=Counter)
    found: Counter[str] = field(default_factory=Counter)
    lookalike_hits: Counter[str] = field(default_factory=Counter)
    lookalikes: Counter[str] = field(default_factory=Counter)
    misses: list[tuple[str, str, str]] = field(default_factory=list)
    false_hits: list[tuple[str, str, str]] = field(default_factory=list)

    def recall(self, entity: str) -> float:
        return self.tp[entity] / self.gold[entity] if self.gold[entity] else 1.0

    def precision(self, entity: str) -> float:
        return self.tp[entity] / self.found[entity] if self.found[entity] else 1.0


def _matches(found: tuple[int, int], gold: tuple[int, int]) -> bool:
    overlap = min(found[1], gold[1]) - max(found[0], gold[0])
    length = gold[1] - gold[0]
    return overlap >= 0.5 * length and (found[1] - found[0]) <= 2 * length


def score(texts: list[Text], analyze: Any) -> Tally:
    """Compare ``analyze(text) -> findings`` (``.entity``, ``.start``, ``.end``) with the gold spans."""
    tally = Tally()
    for t in texts:
        findings = analyze(t.text)
        used: set[int] = set()
        for entity, start, end in t.gold:
            tally.gold[entity] += 1
            hit = next(
                (
                    i
                    for i, f in enumerate(findings)
                    if i not in used and f.entity == entity and _matches((f.start, f.end), (start, end))
                ),
                None,
            )
            if hit is None:
                tally.misses.append((entity, t.text[start:end], t.text))
            else:
                used.add(hit)
                tally.tp[entity] += 1
        for kind, _, _ in t.lookalikes:
            tally.lookalikes[kind] += 1
        for i, f in enumerate(findings):
            tally.found[f.entity] += 1
            if i in used:
                continue
            kind = next((k for k, s, e in t.lookalikes if min(f.end, e) > max(f.start, s)), None)
            if kind is not None:
                tally.lookalike_hits[kind] += 1
            tally.false_hits.append((f.entity, t.text[f.start : f.end], kind or "-"))
    return tally


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval for k successes of n."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def report(tally: Tally, entities: list[str]) -> tuple[float, float]:
    """Print the per-type table and the look-alike counts; returns (worst recall, worst precision)."""
    print(
        f"{'entity':<15}{'gold':>6}{'found':>7}{'TP':>6}  {'recall [95% CI]':<24}{'precision [95% CI]':<24}"
    )
    for e in entities:
        r_lo, r_hi = wilson(tally.tp[e], tally.gold[e])
        p_lo, p_hi = wilson(tally.tp[e], tally.found[e])
        recall = f"{tally.recall(e):.3f} [{r_lo:.3f}, {r_hi:.3f}]"
        precision = f"{tally.precision(e):.3f} [{p_lo:.3f}, {p_hi:.3f}]"
        print(f"{e:<15}{tally.gold[e]:>6}{tally.found[e]:>7}{tally.tp[e]:>6}  {recall:<24}{precision:<24}")
    print(
        "look-alikes masked (must be 0): "
        + ", ".join(f"{k} {tally.lookalike_hits[k]}/{tally.lookalikes[k]}" for k in sorted(tally.lookalikes))
    )
    other = sorted(set(tally.found) - set(entities))
    if other:
        print("found of other types: " + ", ".join(f"{e} {tally.found[e]}" for e in other))
    return min(tally.recall(e) for e in entities), min(tally.precision(e) for e in entities)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--threshold", type=float, default=None, help="score_threshold (default: the config's)"
    )
    parser.add_argument("--show", type=int, default=10, help="misses and false hits to print")
    args = parser.parse_args()

    from loopstack.safety import PiiConfig
    from loopstack.safety._pii_engine import analyzer_for

    config = PiiConfig() if args.threshold is None else PiiConfig(score_threshold=args.threshold)
    texts = generate(args.n, args.seed)
    started = time.perf_counter()
    analyzer = analyzer_for(config)
    built = time.perf_counter() - started
    started = time.perf_counter()
    tally = score(texts, analyzer.analyze)
    elapsed = time.perf_counter() - started
    entities = sorted(PII)
    print(
        f"{len(texts)} texts, seed {args.seed}, score_threshold {config.score_threshold}; analyzer built in "
        f"{built:.1f} s, {1000 * elapsed / len(texts):.1f} ms per text"
    )
    worst_recall, worst_precision = report(tally, entities)
    for entity, value, text in tally.misses[: args.show]:
        print(f"  missed {entity}: {value!r}  in {text!r}")
    for entity, value, kind in tally.false_hits[: args.show]:
        print(f"  false {entity}: {value!r}  (look-alike: {kind})")
    met_recall = worst_recall >= RECALL_TARGET
    met_precision = worst_precision >= PRECISION_TARGET
    print(
        f"BENCH pii worst_recall={worst_recall:.3f} target={RECALL_TARGET} "
        f"met={'yes' if met_recall else 'no'} "
        f"worst_precision={worst_precision:.3f} precision_target={PRECISION_TARGET} "
        f"precision_met={'yes' if met_precision else 'no'}"
    )


if __name__ == "__main__":
    main()
