"""Numeric answers within a tolerance, and operational limits: latency, tokens, cost."""

from __future__ import annotations

import math
import re
from typing import Any

from loopstack.evals.scorers._base import Sample, Score, Scorer
from loopstack.evals.scorers._registry import scorer

_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:[eE][-+]?\d+)?")


def parse_number(text: str) -> float:
    """The number in ``text``: the whole text if it is one, else the first number in it
    (thousands separators allowed). Raises ``ValueError`` when there is none."""
    stripped = text.strip().rstrip(".")
    try:
        return float(stripped.replace(",", ""))
    except ValueError:
        pass
    for m in _NUMBER.finditer(text):
        token = m.group(0)
        if any(c.isdigit() for c in token):
            return float(token.replace(",", ""))
    raise ValueError("no number in the output")


@scorer("numeric", version="1")
class NumericMatch(Scorer):
    """The number in the output equals the expected number within ``abs_tol`` or ``rel_tol``."""

    data_type = "boolean"

    def __init__(
        self,
        *,
        abs_tol: float = 0.0,
        rel_tol: float = 0.0,
        alias: str | None = None,
        threshold: float | None = None,
    ) -> None:
        super().__init__(alias=alias, threshold=threshold, abs_tol=abs_tol, rel_tol=rel_tol)
        self._abs, self._rel = abs_tol, rel_tol

    def compute(self, sample: Sample) -> Score:
        want_raw = sample.expected
        if want_raw is None or isinstance(want_raw, bool):
            raise ValueError("no expected number")
        want = float(want_raw) if isinstance(want_raw, int | float) else parse_number(str(want_raw))
        try:
            got = parse_number(sample.output_text)
        except ValueError:
            return self.make_score(False, explanation="no number in the output")
        ok = math.isclose(got, want, rel_tol=self._rel, abs_tol=self._abs)
        return self.make_score(
            ok,
            explanation=None if ok else f"got {got:g}, expected {want:g}",
            metadata={"parsed": got, "abs_error": abs(got - want)},
        )


class _Limit(Scorer):
    """A measured quantity (lower is better); ``passed`` when it is at or under the limit."""

    higher_is_better = False

    def measure(self, sample: Sample) -> float | None:
        raise NotImplementedError

    def compute(self, sample: Sample) -> Any:
        value = self.measure(sample)
        if value is None:
            raise ValueError(f"no {self.name} recorded for this sample")
        return float(value)


@scorer("latency", version="1", higher_is_better=False)
class Latency(_Limit):
    """Latency of the model call in milliseconds; passes at or under ``max_ms``."""

    def __init__(
        self, *, max_ms: float | None = None, alias: str | None = None, threshold: float | None = None
    ) -> None:
        super().__init__(alias=alias, threshold=max_ms if max_ms is not None else threshold)

    def measure(self, sample: Sample) -> float | None:
        return sample.latency_ms


@scorer("tokens", version="1", higher_is_better=False)
class Tokens(_Limit):
    """Tokens used (``which``: output, input or total); passes at or under ``max_tokens``."""

    def __init__(
        self,
        *,
        which: str = "output",
        max_tokens: int | None = None,
        alias: str | None = None,
        threshold: float | None = None,
    ) -> None:
        if which not in ("output", "input", "total"):
            raise ValueError(f"which must be output, input or total, not {which!r}")
        super().__init__(
            alias=alias, threshold=max_tokens if max_tokens is not None else threshold, which=which
        )
        self._which = which

    def measure(self, sample: Sample) -> float | None:
        if self._which == "input":
            return sample.input_tokens
        if self._which == "output":
            return sample.output_tokens
        if sample.input_tokens is None and sample.output_tokens is None:
            return None
        return (sample.input_tokens or 0) + (sample.output_tokens or 0)


@scorer("cost", version="1", higher_is_better=False)
class Cost(_Limit):
    """Cost of the model call in USD; passes at or under ``max_cost``."""

    def __init__(
        self, *, max_cost: float | None = None, alias: str | None = None, threshold: float | None = None
    ) -> None:
        super().__init__(alias=alias, threshold=max_cost if max_cost is not None else threshold)

    def measure(self, sample: Sample) -> float | None:
        return sample.cost
