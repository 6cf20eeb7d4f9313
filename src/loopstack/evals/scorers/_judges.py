"""LLM judges on ``loopstack.models``: a pointwise rubric judge and an order-swapped pairwise judge.

Judge models (small ones especially) answer in every format but the one asked for, so the score is
parsed robustly (JSON, "Score: 4", "4/5", a bare number) and a bounded number of follow-up turns ask
again. A judge that still cannot be parsed yields an errored score, never a failed run. The pairwise
judge asks in both orders and counts a win only when both orders agree, cancelling position bias.

Judge calls go through the response cache like any model call (``cache=True`` by default, at
temperature 0): a rerun of a judged suite replays the judge's answers, so it costs no judge request
and gives the same scores. Each follow-up turn is its own cache entry (``epoch`` = attempt number).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from loopstack.evals.scorers._base import Sample, Score, Scorer
from loopstack.evals.scorers._json import extract_json
from loopstack.evals.scorers._registry import scorer

_NUM = r"(-?\d+(?:\.\d+)?)"
_KEYED = re.compile(rf"(?i)\b(?:score|rating|grade|overall)\b\s*(?:is|of)?\s*[:=]?\s*\**\s*{_NUM}")
_FRACTION = re.compile(rf"{_NUM}\s*(?:/|out of)\s*(\d+(?:\.\d+)?)", re.IGNORECASE)
_ALL_NUMBERS = re.compile(_NUM)
_SCORE_KEYS = ("score", "rating", "grade", "value", "result")


class JudgeParseError(ValueError):
    """The judge's answer held no usable verdict."""


def parse_rating(text: str, low: float, high: float) -> tuple[float, str | None]:
    """``(score, reasoning)`` from a judge's answer; ``JudgeParseError`` when none is in range."""

    def ok(value: float) -> bool:
        return low <= value <= high

    reasoning: str | None = None
    try:
        obj = extract_json(text)
    except ValueError:
        obj = None
    if isinstance(obj, dict):
        lowered = {str(k).lower(): v for k, v in obj.items()}
        for key in ("reasoning", "explanation", "rationale", "justification"):
            if isinstance(lowered.get(key), str):
                reasoning = lowered[key]
                break
        for key in _SCORE_KEYS:
            value = lowered.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool) and ok(float(value)):
                return float(value), reasoning
            if isinstance(value, str):
                try:
                    number = float(value.strip().split("/")[0])
                except ValueError:
                    continue
                if ok(number):
                    return number, reasoning
    elif isinstance(obj, int | float) and not isinstance(obj, bool) and ok(float(obj)):
        return float(obj), None
    keyed = [float(m.group(1)) for m in _KEYED.finditer(text)]
    for value in reversed(keyed):  # the final "Score: N" after the reasoning is the verdict
        if ok(value):
            return value, text.strip()
    for m in _FRACTION.finditer(text):
        if float(m.group(2)) == high and ok(float(m.group(1))):
            return float(m.group(1)), text.strip()
    in_range = [float(n) for n in _ALL_NUMBERS.findall(text) if ok(float(n))]
    if len(set(in_range)) == 1:
        return in_range[0], text.strip() if len(text.strip()) > 8 else None
    raise JudgeParseError(f"no score between {low:g} and {high:g} in the judge's answer")


Verdict = Literal["a", "b", "tie"]
_VERDICT = re.compile(
    r"(?i)(?:\[\[\s*(A|B|tie)\s*\]\]|\b(?:winner|verdict|better|answer|choice)\b\s*(?:is)?\s*[:=]?\s*"
    r"\**\s*(?:response|output|assistant)?\s*\(?\s*\b(A|B|tie)\b)"
)


def parse_verdict(text: str) -> Verdict:
    """``a``, ``b`` or ``tie`` from a pairwise judge's answer; raises ``JudgeParseError`` otherwise."""
    try:
        obj = extract_json(text)
    except ValueError:
        obj = None
    if isinstance(obj, dict):
        lowered = {str(k).lower(): v for k, v in obj.items()}
        for key in ("winner", "verdict", "better", "choice", "answer"):
            value = lowered.get(key)
            if isinstance(value, str):
                v = value.strip().strip("[]()*. ").lower()
                v = v.removeprefix("response ").removeprefix("output ").strip()
                if v in ("a", "b", "tie"):
                    return v  # type: ignore[return-value]
    matches = [(m.group(1) or m.group(2)).lower() for m in _VERDICT.finditer(text)]
    if matches:
        return matches[-1]  # type: ignore[return-value]
    bare = text.strip().strip("[]()*.\"' ").lower()
    if bare in ("a", "b", "tie"):
        return bare  # type: ignore[return-value]
    raise JudgeParseError("no verdict (A, B or tie) in the judge's answer")


def _render(template: str, **values: Any) -> str:
    from jinja2 import Environment, StrictUndefined

    return Environment(undefined=StrictUndefined, autoescape=False).from_string(template).render(**values)


def _format_input(variables: dict[str, Any]) -> str:
    if len(variables) == 1:
        return str(next(iter(variables.values())))
    return "\n".join(f"{k}: {v}" for k, v in variables.items())


DEFAULT_RUBRIC = "The response is correct, complete and answers the input; it agrees with the reference."
RUBRIC_SYSTEM = (
    "You are a strict, impartial evaluator. Judge only by the rubric. "
    'Reply with a JSON object: {"reasoning": "<one or two sentences>", "score": <integer>}.'
)
RUBRIC_TEMPLATE = """Rubric: {{ rubric }}

Score from {{ low }} (worst) to {{ high }} (best).

[Input]
{{ input }}
{% if expected is not none %}
[Reference answer]
{{ expected }}
{% endif %}
[Response to judge]
{{ output }}"""

RETRY_MESSAGE = (
    "I could not read a score from that. Reply with only a JSON object like "
    '{"reasoning": "...", "score": N} where N is a number from {low} to {high}.'
)


class _JudgeBase(Scorer):
    source = "llm"

    def __init__(
        self,
        *,
        model: str | None,
        max_retries: int,
        temperature: float,
        max_tokens: int,
        cache: bool,
        alias: str | None,
        threshold: float | None,
        **params: Any,
    ) -> None:
        if not 0 <= max_retries <= 5:
            raise ValueError("max_retries must be between 0 and 5")
        if model is None:
            from loopstack.config import get_settings

            model = get_settings().model
        from loopstack.models import parse_model_string

        parse_model_string(model)  # a malformed model string fails when the judge is built, not per item
        super().__init__(
            alias=alias,
            threshold=threshold,
            model=model,
            max_retries=max_retries,
            temperature=temperature,
            max_tokens=max_tokens,
            **params,
        )
        self.model = model
        self._retries = max_retries
        self._temperature = temperature
        self._max_tokens = max_tokens
        self._cache = cache

    async def _ask(
        self, messages: list[dict[str, str]], parse: Any, retry_text: str
    ) -> tuple[Any, list[str]]:
        """Ask, parse, and ask again in the same conversation up to ``max_retries`` times."""
        from loopstack.models import get_model

        model = get_model(self.model)
        answers: list[str] = []
        convo = list(messages)
        for attempt in range(self._retries + 1):
            response = await model.generate(
                convo,
                cache=self._cache,
                epoch=attempt,
                temperature=self._temperature,
                max_tokens=self._max_tokens,
            )
            answers.append(response.text)
            try:
                return parse(response.text), answers
            except JudgeParseError:
                convo = [
                    *convo,
                    {"role": "assistant", "content": response.text},
                    {"role": "user", "content": retry_text},
                ]
        shown = answers[-1].strip().replace("\n", " ")[:120]
        raise JudgeParseError(f"judge answer unparseable after {len(answers)} attempt(s): {shown!r}")


@scorer("rubric_judge", version="1")
class RubricJudge(_JudgeBase):
    """An LLM grades the output against ``rubric`` on a ``low``..``high`` scale.

    The value is normalised to 0..1 (``normalize=False`` keeps the raw scale); the raw score and the
    judge's reasoning are kept in ``metadata`` and ``explanation``.
    """

    def __init__(
        self,
        *,
        rubric: str = DEFAULT_RUBRIC,
        model: str | None = None,
        low: int = 1,
        high: int = 5,
        normalize: bool = True,
        template: str | None = None,
        system: str | None = None,
        max_retries: int = 2,
        temperature: float = 0.0,
        max_tokens: int = 300,
        cache: bool = True,
        alias: str | None = None,
        threshold: float | None = None,
    ) -> None:
        if high <= low:
            raise ValueError("high must be greater than low")
        extra: dict[str, Any] = {"rubric": rubric, "low": low, "high": high, "normalize": normalize}
        if template is not None:
            extra["template"] = template
        if system is not None:
            extra["system"] = system
        super().__init__(
            model=model,
            max_retries=max_retries,
            temperature=temperature,
            max_tokens=max_tokens,
            cache=cache,
            alias=alias,
            threshold=threshold,
            **extra,
        )
        self.rubric, self.low, self.high, self.normalize = rubric, low, high, normalize
        self.template = template or RUBRIC_TEMPLATE
        self.system = system or RUBRIC_SYSTEM

    def messages(self, sample: Sample) -> list[dict[str, str]]:
        """The judge conversation for one sample."""
        user = _render(
            self.template,
            rubric=self.rubric,
            low=self.low,
            high=self.high,
            input=_format_input(sample.input),
            output=sample.output_text,
            expected=sample.expected,
            **{"vars": sample.input},
        )
        return [{"role": "system", "content": self.system}, {"role": "user", "content": user}]

    async def compute(self, sample: Sample) -> Score:
        retry = RETRY_MESSAGE.replace("{low}", str(self.low)).replace("{high}", str(self.high))
        (raw, reasoning), answers = await self._ask(
            self.messages(sample), lambda t: parse_rating(t, self.low, self.high), retry
        )
        value = (raw - self.low) / (self.high - self.low) if self.normalize else raw
        return self.make_score(
            value,
            explanation=reasoning,
            metadata={"raw": raw, "scale": [self.low, self.high], "attempts": len(answers)},
        )


PAIRWISE_SYSTEM = (
    "You are an impartial judge comparing two responses to the same input. Ignore their order and "
    "length; judge only by the criteria. "
    'Reply with a JSON object: {"reasoning": "...", "winner": "A" | "B" | "tie"}.'
)
PAIRWISE_RETRY = (
    'I could not read a verdict. Reply with only {"winner": "A"}, {"winner": "B"} or {"winner": "tie"}.'
)
PAIRWISE_TEMPLATE = """Criteria: {{ criteria }}

[Input]
{{ input }}

[Response A]
{{ a }}

[Response B]
{{ b }}"""


@dataclass(frozen=True)
class PairwiseResult:
    """The outcome of one order-swapped comparison."""

    winner: Verdict
    """``a``, ``b``, or ``tie`` (including when the two orders disagreed)."""
    consistent: bool
    """Both orders gave the same answer."""
    first: Verdict
    """Verdict with A shown first."""
    second: Verdict
    """Verdict with B shown first, mapped back to a/b."""


@scorer("pairwise_judge", version="1")
class PairwiseJudge(_JudgeBase):
    """An LLM picks the better of two outputs, asked in both orders; only order-consistent wins count.

    As a per-item scorer it compares the output with ``metadata["baseline_output"]`` if present, else
    with the expected value: 1.0 = output wins, 0.5 = tie or inconsistent, 0.0 = output loses.
    ``compare()`` is the direct two-output form (used to compare two runs item by item).
    """

    def __init__(
        self,
        *,
        criteria: str = "Which response answers the input more correctly and helpfully?",
        model: str | None = None,
        template: str | None = None,
        system: str | None = None,
        max_retries: int = 2,
        temperature: float = 0.0,
        max_tokens: int = 300,
        cache: bool = True,
        alias: str | None = None,
        threshold: float | None = None,
    ) -> None:
        extra: dict[str, Any] = {"criteria": criteria}
        if template is not None:
            extra["template"] = template
        if system is not None:
            extra["system"] = system
        super().__init__(
            model=model,
            max_retries=max_retries,
            temperature=temperature,
            max_tokens=max_tokens,
            cache=cache,
            alias=alias,
            threshold=threshold,
            **extra,
        )
        self.criteria = criteria
        self.template = template or PAIRWISE_TEMPLATE
        self.system = system or PAIRWISE_SYSTEM

    def _messages(self, input_text: str, a: str, b: str) -> list[dict[str, str]]:
        user = _render(self.template, criteria=self.criteria, input=input_text, a=a, b=b)
        return [{"role": "system", "content": self.system}, {"role": "user", "content": user}]

    async def compare(self, input: dict[str, Any] | str, output_a: str, output_b: str) -> PairwiseResult:
        """Judge ``output_a`` against ``output_b`` in both orders."""
        text = input if isinstance(input, str) else _format_input(input)
        retry = PAIRWISE_RETRY
        first, _ = await self._ask(self._messages(text, output_a, output_b), parse_verdict, retry)
        swapped, _ = await self._ask(self._messages(text, output_b, output_a), parse_verdict, retry)
        second: Verdict = {"a": "b", "b": "a", "tie": "tie"}[swapped]  # type: ignore[assignment]
        consistent = first == second
        return PairwiseResult(first if consistent else "tie", consistent, first, second)

    async def compute(self, sample: Sample) -> Score:
        other = sample.metadata.get("baseline_output")
        if other is None:
            other = sample.expected
        if other is None:
            raise ValueError("nothing to compare with (no baseline_output in metadata, no expected value)")
        result = await self.compare(sample.input, sample.output_text, str(other))
        value = {"a": 1.0, "b": 0.0, "tie": 0.5}[result.winner]
        outcome = {"a": "win", "b": "loss", "tie": "tie"}[result.winner]
        return self.make_score(
            value,
            explanation=outcome if result.consistent else "tie (the two orders disagreed)",
            metadata={
                "outcome": outcome,
                "consistent": result.consistent,
                "first": result.first,
                "second": result.second,
            },
            passed=result.winner == "a" if self.threshold is None else None,
        )
