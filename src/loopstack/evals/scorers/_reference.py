"""Reference-based text metrics from the reference libraries: BLEU, chrF, TER (sacrebleu) and ROUGE
(rouge-score). Values are exactly what those libraries return, on their usual scales (sacrebleu's
0-100; ROUGE F-measure 0-1), so they compare with published numbers.

BLEU, chrF and TER are reported per item (sentence-level) and for the whole run (corpus-level,
``score_run``), because corpus BLEU is not the mean of sentence BLEU. A failed call is scored as an
empty hypothesis at corpus level: dropping it would flatter the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from loopstack.evals.scorers._base import Sample, Score, Scorer
from loopstack.evals.scorers._registry import scorer


def references(sample: Sample) -> list[str]:
    """The reference texts of a sample: its expected value, or each entry of a list of them."""
    ref = sample.expected
    if ref is None:
        raise ValueError("no expected text to compare with")
    if isinstance(ref, list | tuple):
        refs = [str(r) for r in ref if r is not None]
        if not refs:
            raise ValueError("the expected list is empty")
        return refs
    return [str(ref)]


def reference_streams(samples: Sequence[Sample]) -> tuple[list[str], list[list[str | None]]]:
    """Hypotheses and sacrebleu reference streams (padded with ``None`` where an item has fewer refs)."""
    hyps: list[str] = []
    per_item: list[list[str]] = []
    for s in samples:
        hyps.append(s.output if s.output is not None else "")
        per_item.append(references(s))
    width = max((len(r) for r in per_item), default=0)
    streams: list[list[str | None]] = [
        [refs[i] if i < len(refs) else None for refs in per_item] for i in range(width)
    ]
    return hyps, streams


class _SacreMetric(Scorer):
    """Shared body of the sacrebleu metrics: one configured metric object, sentence and corpus level."""

    _kind: ClassVar[str] = ""

    def __init__(self, *, alias: str | None = None, threshold: float | None = None, **options: Any) -> None:
        super().__init__(alias=alias, threshold=threshold, **options)
        self._options = options
        self._metrics: dict[bool, Any] = {}
        self._metric()  # invalid options fail when the scorer is built

    def _metric(self, *, sentence: bool = False) -> Any:
        metric = self._metrics.get(sentence)
        if metric is None:
            metric = self._metrics[sentence] = self._build(sentence)
        return metric

    def _build(self, sentence: bool) -> Any:
        options = dict(self._options)
        if self._kind == "bleu":
            if sentence:
                options.setdefault("effective_order", True)  # as sacrebleu.sentence_bleu does
            from sacrebleu.metrics.bleu import BLEU

            return BLEU(**options)
        if self._kind == "chrf":
            from sacrebleu.metrics.chrf import CHRF

            return CHRF(**options)
        from sacrebleu.metrics.ter import TER

        return TER(**options)

    def compute(self, sample: Sample) -> Score:
        result = self._metric(sentence=True).sentence_score(sample.output_text, references(sample))
        return self.make_score(float(result.score))

    def _signature(self) -> str:
        return str(self._metric().get_signature())

    async def score_run(self, samples: Sequence[Sample]) -> list[Score]:
        usable = [s for s in samples if s.expected is not None]
        if not usable:
            return []
        hyps, streams = reference_streams(usable)
        result = self._metric().corpus_score(hyps, streams)
        return [
            self.make_score(
                float(result.score),
                name=f"{self.score_name}.corpus",
                explanation=str(result),
                metadata={"signature": self._signature(), "segments": len(hyps)},
            )
        ]


@scorer("bleu", version="sacrebleu-2")
class Bleu(_SacreMetric):
    """BLEU (0-100): sentence BLEU per item (effective order), corpus BLEU for the run."""

    _kind = "bleu"

    def __init__(
        self,
        *,
        lowercase: bool = False,
        tokenize: str | None = None,
        smooth_method: str = "exp",
        alias: str | None = None,
        threshold: float | None = None,
    ) -> None:
        options: dict[str, Any] = {"lowercase": lowercase, "smooth_method": smooth_method}
        if tokenize is not None:
            options["tokenize"] = tokenize
        super().__init__(alias=alias, threshold=threshold, **options)


@scorer("chrf", version="sacrebleu-2")
class Chrf(_SacreMetric):
    """chrF (0-100; ``word_order=2`` gives chrF++), per item and for the run."""

    _kind = "chrf"

    def __init__(
        self,
        *,
        word_order: int = 0,
        char_order: int = 6,
        lowercase: bool = False,
        alias: str | None = None,
        threshold: float | None = None,
    ) -> None:
        super().__init__(
            alias=alias,
            threshold=threshold,
            word_order=word_order,
            char_order=char_order,
            lowercase=lowercase,
        )


@scorer("ter", version="sacrebleu-2", higher_is_better=False)
class Ter(_SacreMetric):
    """Translation edit rate (0-100+, lower is better), per item and for the run."""

    _kind = "ter"

    def __init__(
        self,
        *,
        case_sensitive: bool = False,
        normalized: bool = False,
        alias: str | None = None,
        threshold: float | None = None,
    ) -> None:
        super().__init__(
            alias=alias, threshold=threshold, case_sensitive=case_sensitive, normalized=normalized
        )


ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")


@scorer("rouge", version="rouge-score-0.1")
class Rouge(Scorer):
    """ROUGE F-measures (0-1) per item: ``<name>.rouge1``, ``.rouge2``, ``.rougeL``, ``.rougeLsum``.

    ``rougeLsum`` splits summaries into sentences on newlines, as rouge-score does. With several
    references the best-matching one counts (rouge-score's ``score_multi``).
    """

    def __init__(
        self,
        *,
        types: list[str] | None = None,
        use_stemmer: bool = False,
        measure: str = "fmeasure",
        alias: str | None = None,
        threshold: float | None = None,
    ) -> None:
        chosen = list(types) if types is not None else list(ROUGE_TYPES)
        unknown = [
            t for t in chosen if t not in ROUGE_TYPES and not (t.startswith("rouge") and t[5:].isdigit())
        ]
        if unknown:
            raise ValueError(f"unknown ROUGE type {unknown[0]!r} (use {', '.join(ROUGE_TYPES)} or rougeN)")
        if measure not in ("fmeasure", "precision", "recall"):
            raise ValueError(f"measure must be fmeasure, precision or recall, not {measure!r}")
        super().__init__(
            alias=alias, threshold=threshold, types=chosen, use_stemmer=use_stemmer, measure=measure
        )
        self._types = chosen
        self._stemmer = use_stemmer
        self._measure = measure
        self._scorer: Any = None

    def _rouge(self) -> Any:
        if self._scorer is None:
            from rouge_score import rouge_scorer

            self._scorer = rouge_scorer.RougeScorer(self._types, use_stemmer=self._stemmer)
        return self._scorer

    def compute(self, sample: Sample) -> list[Score]:
        refs = references(sample)
        output = sample.output_text
        rouge = self._rouge()
        result = rouge.score(refs[0], output) if len(refs) == 1 else rouge.score_multi(refs, output)
        return [
            self.make_score(float(getattr(result[t], self._measure)), name=f"{self.score_name}.{t}")
            for t in self._types
        ]
