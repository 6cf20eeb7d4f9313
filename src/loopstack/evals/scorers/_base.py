"""The scorer interface: a ``Sample`` goes in, one or more ``Score`` results come out.

A scorer never raises out of ``Scorer.score``: an exception inside becomes a ``Score`` with ``error``
set, so one bad item (or one flaky judge) never takes down a run.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Literal

DataType = Literal["numeric", "boolean", "categorical", "text"]
ScoreValue = float | bool | str | None

DATA_TYPES: tuple[str, ...] = ("numeric", "boolean", "categorical", "text")


@dataclass
class Sample:
    """One model output to judge, with what produced it and what was expected."""

    input: dict[str, Any] = field(default_factory=dict)
    """The input variables the prompt was rendered with (a dataset item's ``input``)."""
    output: str | None = None
    """The model's output text (``None`` when the call failed)."""
    expected: Any = None
    """The reference value from the dataset item: text, a number, a label or a JSON object."""
    metadata: dict[str, Any] = field(default_factory=dict)
    latency_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost: float | None = None
    item_key: str | None = None
    epoch: int = 0
    error: str | None = None
    """The model call's error, if it failed; output-based scorers then report an errored score."""

    @property
    def output_text(self) -> str:
        """The output as text; raises when there is none, so the scorer's score is errored."""
        if self.output is None:
            raise ValueError(f"no output to score ({self.error})" if self.error else "no output to score")
        return self.output


@dataclass
class Score:
    """The result of one scorer on one sample (or on a whole run, for corpus-level metrics)."""

    name: str
    value: ScoreValue
    data_type: DataType = "numeric"
    passed: bool | None = None
    threshold: float | None = None
    explanation: str | None = None
    error: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    scorer: str | None = None
    """The registry name of the scorer that produced it."""
    scorer_version: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    source: str = "code"
    """``code`` for programmatic scorers, ``llm`` for judges (the ``scores.source`` column)."""

    @property
    def numeric(self) -> float | None:
        """The value as a number for statistics: booleans are 1/0; text, errors and NaN are ``None``."""
        if self.error is not None or self.value is None or isinstance(self.value, str):
            return None
        number = float(self.value)
        return None if math.isnan(number) else number

    def storage_values(self) -> tuple[float | None, str | None]:
        """``(value, string_value)`` as stored in the ``scores`` table."""
        if isinstance(self.value, str):
            return None, self.value
        if self.value is None:
            return None, None
        return float(self.value), None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Score:
        """The inverse of ``to_dict`` (unknown keys are ignored)."""
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


def infer_data_type(value: Any) -> DataType:
    """The data type a raw value implies: bool -> boolean, number -> numeric, str -> categorical."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float) or value is None:
        return "numeric"
    return "categorical"


class Scorer:
    """Base class of every scorer. Subclasses implement ``compute``; callers use ``score``.

    ``compute`` may be sync or async and may return a raw value (bool, number, label), a ``Score`` or a
    list of ``Score`` (for scorers that report several figures, e.g. ROUGE-1/2/L). Every constructor
    accepts ``alias`` (the name the scores are stored under) and ``threshold`` (``passed`` = value at
    or above it, or at or below it when ``higher_is_better`` is false).
    """

    name: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    higher_is_better: ClassVar[bool] = True
    source: ClassVar[str] = "code"
    #: The data type of this scorer's main score, used for an errored score (which has no value).
    data_type: ClassVar[DataType | None] = None

    def __init__(self, *, alias: str | None = None, threshold: float | None = None, **params: Any) -> None:
        self.alias = alias
        self.threshold = threshold
        self.params: dict[str, Any] = dict(params)
        if alias is not None:
            self.params["alias"] = alias
        if threshold is not None:
            self.params["threshold"] = threshold

    @property
    def score_name(self) -> str:
        """The name this scorer's scores are stored under (the alias, else the registry name)."""
        return self.alias or self.name

    def compute(self, sample: Sample) -> Any:
        """Judge one sample. Override in subclasses (sync or ``async def``)."""
        raise NotImplementedError

    async def score(self, sample: Sample) -> list[Score]:
        """Judge one sample: always a non-empty list of scores, never an exception."""
        try:
            raw = self.compute(sample)
            if inspect.isawaitable(raw):
                raw = await raw
            return self._finish(raw)
        except Exception as exc:  # noqa: BLE001 - the contract: a failing scorer yields an errored score
            return [self.error_score(exc)]

    async def score_run(self, samples: Sequence[Sample]) -> list[Score]:
        """Corpus-level scores over a whole run (e.g. corpus BLEU). Default: none."""
        return []

    def error_score(self, exc: BaseException | str) -> Score:
        """An errored score for this scorer."""
        message = exc if isinstance(exc, str) else (f"{type(exc).__name__}: {exc}".rstrip(": "))
        return self.make_score(None, error=message, data_type=self.data_type)

    def make_score(self, value: Any, *, name: str | None = None, **fields: Any) -> Score:
        """A ``Score`` stamped with this scorer's name, version and params, ``passed`` filled in."""
        data_type = fields.pop("data_type", None) or infer_data_type(value)
        if isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        score = Score(
            name=name or self.score_name,
            value=value,
            data_type=data_type,
            scorer=self.name,
            scorer_version=self.version,
            params=dict(self.params),
            source=self.source,
            **fields,
        )
        return self._judge(score)

    def _judge(self, score: Score) -> Score:
        if score.error is not None:
            score.passed = None
            return score
        if score.threshold is None and self.threshold is not None:
            score.threshold = self.threshold
        if score.passed is None:
            if isinstance(score.value, bool):
                score.passed = score.value
            elif score.threshold is not None and score.numeric is not None:
                if self.higher_is_better:
                    score.passed = score.numeric >= score.threshold
                else:
                    score.passed = score.numeric <= score.threshold
        return score

    def _finish(self, raw: Any) -> list[Score]:
        if isinstance(raw, Score):
            return [self._stamp(raw)]
        if isinstance(raw, list) and raw and all(isinstance(s, Score) for s in raw):
            return [self._stamp(s) for s in raw]
        if raw is not None and not isinstance(raw, bool | int | float | str):
            raise TypeError(f"scorer returned {type(raw).__name__}; expected a value, Score or list[Score]")
        return [self.make_score(raw)]

    def _stamp(self, score: Score) -> Score:
        score.scorer = score.scorer or self.name
        score.scorer_version = score.scorer_version or self.version
        if not score.params:
            score.params = dict(self.params)
        if score.source == "code":
            score.source = self.source
        return self._judge(score)

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"<scorer {self.name}@{self.version}({params})>"


class FunctionScorer(Scorer):
    """A scorer made from a plain function ``fn(sample, **params)`` (sync or async)."""

    def __init__(
        self,
        fn: Callable[..., Any],
        name: str,
        version: str,
        *,
        higher_is_better: bool = True,
        alias: str | None = None,
        threshold: float | None = None,
        **params: Any,
    ) -> None:
        super().__init__(alias=alias, threshold=threshold, **params)
        self._fn = fn
        self._fn_params = params
        # Instance attributes shadow the ClassVars: each function scorer has its own identity.
        self.name = name  # type: ignore[misc]
        self.version = version  # type: ignore[misc]
        self.higher_is_better = higher_is_better  # type: ignore[misc]

    def compute(self, sample: Sample) -> Any:
        return self._fn(sample, **self._fn_params)
