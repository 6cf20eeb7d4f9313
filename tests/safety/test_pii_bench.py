"""A slice of bench/pii_eval.py: recall >= 0.95 and precision >= 0.9 per entity type, look-alikes kept."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).parents[2] / "bench"
sys.path.insert(0, str(BENCH))

from pii_corpus import PII, generate, luhn_ok  # noqa: E402
from pii_eval import PRECISION_TARGET, RECALL_TARGET, score  # noqa: E402

from loopstack.safety import PiiConfig  # noqa: E402
from loopstack.safety._pii_engine import analyzer_for  # noqa: E402


def test_the_corpus_is_deterministic_and_its_cards_pass_luhn() -> None:
    first, again = generate(60, seed=3), generate(60, seed=3)
    assert [t.text for t in first] == [t.text for t in again]
    cards = [t.text[s:e] for t in first for kind, s, e in t.gold if kind == "CREDIT_CARD"]
    assert cards and all(luhn_ok("".join(c for c in card if c.isdigit())) for card in cards)
    bad = [t.text[s:e] for t in first for kind, s, e in t.lookalikes if kind == "bad_luhn"]
    assert bad and not any(luhn_ok("".join(c for c in b if c.isdigit())) for b in bad)


def test_recall_and_precision_meet_the_targets_on_a_held_out_slice() -> None:
    texts = generate(150, seed=101)  # not the seed the thresholds were tuned on
    tally = score(texts, analyzer_for(PiiConfig()).analyze)
    for entity in PII:
        assert tally.gold[entity] >= 15, entity
        assert tally.recall(entity) >= RECALL_TARGET, (entity, tally.misses[:5])
        assert tally.precision(entity) >= PRECISION_TARGET, (entity, tally.false_hits[:5])
    for kind in ("order", "version", "date", "price", "time"):
        assert tally.lookalike_hits[kind] == 0, (kind, tally.false_hits)
