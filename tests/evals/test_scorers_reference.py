"""BLEU / chrF / TER / ROUGE give exactly what sacrebleu and rouge-score give on the same corpus."""

from __future__ import annotations

import pytest
import sacrebleu
from rouge_score import rouge_scorer

from loopstack.evals.scorers import Sample, get_scorer

HYPS = [
    "The cat sat on the mat.",
    "A quick brown fox jumps over a lazy dog",
    "Paris is the capital city of France.",
    "I have no idea.",
]
REFS = [
    "The cat is sitting on the mat.",
    "The quick brown fox jumps over the lazy dog.",
    "The capital of France is Paris.",
    "The meeting was moved to Tuesday afternoon.",
]
SAMPLES = [Sample(output=h, expected=r) for h, r in zip(HYPS, REFS, strict=True)]


async def test_sentence_bleu_chrf_ter_equal_sacrebleu() -> None:
    for name, direct in (
        ("bleu", lambda h, r: sacrebleu.sentence_bleu(h, [r]).score),
        ("chrf", lambda h, r: sacrebleu.sentence_chrf(h, [r]).score),
        ("ter", lambda h, r: sacrebleu.sentence_ter(h, [r]).score),
    ):
        s = get_scorer(name)
        ours = [(await s.score(x))[0].value for x in SAMPLES]
        assert ours == [direct(h, r) for h, r in zip(HYPS, REFS, strict=True)], name


async def test_corpus_bleu_chrf_ter_equal_sacrebleu_and_differ_from_the_sentence_mean() -> None:
    expected = {
        "bleu": sacrebleu.corpus_bleu(HYPS, [REFS]).score,
        "chrf": sacrebleu.corpus_chrf(HYPS, [REFS]).score,
        "ter": sacrebleu.corpus_ter(HYPS, [REFS]).score,
    }
    for name, value in expected.items():
        (corpus,) = await get_scorer(name).score_run(SAMPLES)
        assert corpus.name == f"{name}.corpus"
        assert corpus.value == value, name
        assert corpus.metadata["segments"] == 4
    sentence = [(await get_scorer("bleu").score(x))[0].numeric or 0.0 for x in SAMPLES]
    assert sum(sentence) / 4 != pytest.approx(expected["bleu"])


async def test_options_reach_sacrebleu_and_multiple_references() -> None:
    (low,) = await get_scorer("bleu", lowercase=True).score_run(
        [Sample(output="THE CAT", expected="the cat")]
    )
    assert low.value == sacrebleu.corpus_bleu(["THE CAT"], [["the cat"]], lowercase=True).score
    (pp,) = await get_scorer("chrf", word_order=2).score(SAMPLES[0])
    assert pp.value == sacrebleu.sentence_chrf(HYPS[0], [REFS[0]], word_order=2).score
    multi = [
        Sample(output="the cat sat", expected=["a cat sat", "the cat sat down"]),
        Sample(output="hi", expected="hello"),
    ]
    (corpus,) = await get_scorer("bleu").score_run(multi)
    direct = sacrebleu.corpus_bleu(
        ["the cat sat", "hi"], [["a cat sat", "hello"], ["the cat sat down", None]]
    )
    assert corpus.value == direct.score


async def test_failed_outputs_count_as_empty_hypotheses_in_the_corpus() -> None:
    samples = [*SAMPLES[:2], Sample(output=None, expected=REFS[2], error="timeout")]
    (corpus,) = await get_scorer("bleu").score_run(samples)
    assert corpus.value == sacrebleu.corpus_bleu([*HYPS[:2], ""], [REFS[:3]]).score


async def test_ter_lower_is_better_threshold() -> None:
    (s,) = await get_scorer("ter", threshold=50).score(SAMPLES[0])
    assert s.passed is (s.numeric is not None and s.numeric <= 50)


async def test_rouge_equals_rouge_score() -> None:
    direct = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"])
    s = get_scorer("rouge")
    for sample, h, r in zip(SAMPLES, HYPS, REFS, strict=True):
        ours = {x.name: x.value for x in await s.score(sample)}
        ref = direct.score(r, h)
        assert ours == {f"rouge.{k}": v.fmeasure for k, v in ref.items()}
    stem = get_scorer("rouge", types=["rougeL"], use_stemmer=True, measure="recall")
    (only,) = await stem.score(SAMPLES[0])
    expected = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True).score(REFS[0], HYPS[0])["rougeL"].recall
    assert (only.name, only.value) == ("rouge.rougeL", expected)
    multi = await get_scorer("rouge", types=["rouge1"]).score(Sample(output=HYPS[0], expected=REFS[:2]))
    assert multi[0].value == direct.score_multi(REFS[:2], HYPS[0])["rouge1"].fmeasure
