"""Online evaluators: which production spans to judge, how many, with which scorers.

An evaluator is a filter (``SpanFilter``: prompt name/version, model, span kind and name, status,
environment, attributes, tags) + a sample rate + scorers (any registered scorer: code, reference, LLM
judge) + ``on_feedback`` (every thumbs-down or correction is judged whatever the rate), at span or trace
level (a trace-level judge sees every span of the trace). Sampling is by a hash of the trace id alone,
so two evaluators at 10% judge the same traces and a rerun judges the same ones again.

Definitions are checked here, once, for the API, the CLI and the UI alike: an unknown scorer, a
scorer parameter it does not take or a filter on an unknown field is an ``InvalidInput`` naming it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from loopstack.errors import InvalidInput, LoopstackError
from loopstack.store import Store
from loopstack.store.monitor_spans import SpanMatch
from loopstack.store.monitoring import EvaluatorRepository

_MAX_TEXT = 200


class SpanFilter(BaseModel):
    """Which spans a rule looks at. Every field is optional; all given must hold."""

    model_config = ConfigDict(extra="forbid")

    prompt_name: str | None = Field(default=None, max_length=_MAX_TEXT)
    prompt_version: int | None = Field(default=None, ge=0, le=2**31 - 1)
    model: str | None = Field(default=None, max_length=300)
    kind: str | None = Field(default=None, max_length=30, description="span kind, e.g. CLIENT, INTERNAL")
    name: str | None = Field(default=None, max_length=500, description="span name")
    status: Literal["OK", "ERROR", "UNSET"] | None = None
    environment: str | None = Field(
        default=None, max_length=50, description="default: every environment but eval; 'all' for all"
    )
    attributes: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="attribute name -> value it must equal"
    )
    tags: list[str] = Field(default_factory=list, max_length=20, description="tags the span must carry")

    def match(self) -> SpanMatch:
        """The store's form of this filter."""
        return SpanMatch(
            prompt_name=self.prompt_name,
            prompt_version=self.prompt_version,
            model=self.model,
            kind=self.kind,
            name=self.name,
            status=self.status,
            environment=self.environment,
            attributes=dict(self.attributes),
            tags=tuple(self.tags),
        )


FILTER_FIELDS = tuple(SpanFilter.model_fields)


class ScorerRef(BaseModel):
    """A registered scorer by name, with its parameters (as in a suite file)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    params: dict[str, Any] = Field(default_factory=dict)


class EvaluatorSpec(BaseModel):
    """The definition of an online evaluator."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    level: Literal["span", "trace"] = "span"
    filter: SpanFilter = Field(default_factory=SpanFilter)
    sample_rate: float = Field(default=0.1, ge=0.0, le=1.0)
    scorers: list[ScorerRef] = Field(min_length=1, max_length=20)
    on_feedback: bool = False
    enabled: bool = True


def pydantic_message(exc: ValidationError, what: str) -> str:
    """One line naming the first problem of a validation error."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        parent = err["loc"][:-1]
        if parent == ("filter",) or what == "filter":
            return f"{what}: unknown filter field {where!r} (known: {', '.join(FILTER_FIELDS)})"
        return f"{what}: unknown field {where!r}"
    return f"{what}: {where}: {err['msg']}" if where else f"{what}: {err['msg']}"


def parse_filter(data: Mapping[str, Any] | None) -> SpanFilter:
    """A filter from a mapping; ``InvalidInput`` names an unknown field and lists the known ones."""
    try:
        return SpanFilter.model_validate(dict(data or {}))
    except ValidationError as exc:
        raise InvalidInput(pydantic_message(exc, "filter")) from None


def build_scorers(refs: list[ScorerRef]) -> list[Any]:
    """The configured scorer instances; an unknown scorer or parameter is an ``InvalidInput``."""
    from loopstack.evals.scorers import get_scorer

    built = []
    for ref in refs:
        try:
            built.append(get_scorer(ref.name, **ref.params))
        except LoopstackError as exc:
            raise InvalidInput(f"scorers: {exc}") from None
    return built


def parse_spec(data: Mapping[str, Any]) -> EvaluatorSpec:
    """A checked evaluator definition (its scorers are built once to prove they can be)."""
    try:
        spec = EvaluatorSpec.model_validate(dict(data))
    except ValidationError as exc:
        raise InvalidInput(pydantic_message(exc, "evaluator")) from None
    build_scorers(spec.scorers)
    return spec


def sampled(trace_id: str, rate: float) -> bool:
    """Whether a trace falls in a ``rate`` sample: the first 8 bytes of SHA-256 of its id, as a fraction.

    Not salted per evaluator on purpose: every evaluator at 10% judges the same 10% of traces, so their
    scores can be compared trace by trace, and a lower rate's sample is inside a higher rate's."""
    if rate >= 1.0:
        return True
    if rate <= 0.0:
        return False
    digest = hashlib.sha256(trace_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


def create_evaluator(
    store: Store, project: str, data: Mapping[str, Any], *, start_at: datetime | None = None
) -> dict[str, Any]:
    """Check and store a new evaluator; it judges spans ingested from ``start_at`` (default now) on."""
    spec = parse_spec(data)
    return EvaluatorRepository(store, project).create(
        name=spec.name,
        level=spec.level,
        filter=spec.filter.model_dump(exclude_defaults=True),
        sample_rate=spec.sample_rate,
        scorers=[s.model_dump() for s in spec.scorers],
        on_feedback=spec.on_feedback,
        enabled=spec.enabled,
        start_at=start_at,
    )


def update_evaluator(store: Store, project: str, key: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """Change an evaluator (its version goes up); fields not given keep their value."""
    repo = EvaluatorRepository(store, project)
    current = repo.get(key)
    merged = {
        "name": current["name"],
        "level": current["level"],
        "filter": current["filter"],
        "sample_rate": current["sample_rate"],
        "scorers": current["scorers"],
        "on_feedback": current["on_feedback"],
        "enabled": current["enabled"],
        **{k: v for k, v in data.items() if v is not None},
    }
    if merged["name"] != current["name"]:
        raise InvalidInput("an evaluator cannot be renamed; create a new one")
    spec = parse_spec(merged)
    return repo.update(
        current["id"],
        level=spec.level,
        filter=spec.filter.model_dump(exclude_defaults=True),
        sample_rate=spec.sample_rate,
        scorers=[s.model_dump() for s in spec.scorers],
        on_feedback=spec.on_feedback,
        enabled=spec.enabled,
    )


def health(row: Mapping[str, Any]) -> dict[str, Any]:
    """What an evaluator has done: evaluated, skipped (not sampled or already judged), errored (by
    reason), shed (dropped when the worker fell behind) and its lag behind ingest in seconds."""
    reasons = dict(row.get("error_reasons") or {})
    return {
        "evaluated": row["evaluated"],
        "skipped": row["skipped"],
        "errored": row["errored"],
        "shed": row["shed"],
        "errors_by_reason": dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
        "last_error": row.get("last_error"),
        "lag_s": row.get("lag_s"),
        "cursor_at": row["cursor_at"].isoformat() if row.get("cursor_at") else None,
        "backfill": row.get("backfill"),
    }
