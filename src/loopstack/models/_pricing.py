"""Cost of a call from the versioned price table (``models/prices.yaml``) plus the user's overrides."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from loopstack.errors import InvalidInput
from loopstack.models._types import Usage

#: Providers tried when a model name comes without one (e.g. ``gpt-4o-mini`` from an instrumented client).
_BARE_NAME_PROVIDERS = ("openai", "anthropic")


class Price(BaseModel):
    """One row of the price table, in USD per million tokens."""

    model_config = ConfigDict(extra="forbid")

    match: str
    since: date
    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(default=None, ge=0)
    reasoning: float | None = Field(default=None, ge=0)
    source: str = "built-in"

    def cost(self, usage: Usage) -> float:
        """USD for ``usage`` at this price."""
        cached = min(usage.cached_input_tokens, usage.input_tokens)
        reasoning = min(usage.reasoning_tokens, usage.output_tokens)
        cached_price = self.input if self.cached_input is None else self.cached_input
        reasoning_price = self.output if self.reasoning is None else self.reasoning
        micro = (
            (usage.input_tokens - cached) * self.input
            + cached * cached_price
            + (usage.output_tokens - reasoning) * self.output
            + reasoning * reasoning_price
        )
        return micro / 1_000_000


class _PriceFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = 1
    unit: str = "usd_per_million_tokens"
    prices: list[Price]


def _load(text: str, source: str) -> list[Price]:
    try:
        data = yaml.safe_load(text) or {}
        parsed = _PriceFile.model_validate(data)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{source}: not valid YAML ({exc})") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise InvalidInput(f"{source}: {where}: {err['msg']}") from None
    if parsed.unit != "usd_per_million_tokens":
        raise InvalidInput(f"{source}: unit must be usd_per_million_tokens, not {parsed.unit!r}")
    for price in parsed.prices:
        try:
            re.compile(price.match)
        except re.error as exc:
            raise InvalidInput(f"{source}: bad pattern {price.match!r}: {exc}") from None
        price.source = source
    return parsed.prices


class _Table:
    """Patterns in rank order, each with its dated prices, and a memo of model -> price rows."""

    def __init__(self, rows: list[Price]) -> None:
        groups: dict[str, list[Price]] = {}
        for row in rows:  # first appearance of a pattern decides its rank; dates order within it
            groups.setdefault(row.match, []).append(row)
        self.groups = [(re.compile(p), sorted(prices, key=lambda x: x.since)) for p, prices in groups.items()]
        self._memo: dict[str, list[Price] | None] = {}

    def rows_for(self, model: str) -> list[Price] | None:
        """The dated price rows of the first pattern matching ``model`` (memoised: a hot path per call)."""
        if model in self._memo:
            return self._memo[model]
        candidates = [model] if "/" in model else [f"{p}/{model}" for p in _BARE_NAME_PROVIDERS]
        found = next(
            (prices for pattern, prices in self.groups if any(pattern.fullmatch(c) for c in candidates)), None
        )
        if len(self._memo) < 10_000:
            self._memo[model] = found
        return found


@lru_cache(maxsize=8)
def _table(override: str | None, _mtime: float) -> _Table:
    builtin = resources.files("loopstack.models").joinpath("prices.yaml").read_text(encoding="utf-8")
    rows = _load(builtin, "loopstack/models/prices.yaml")
    if override:
        rows = _load(Path(override).read_text(encoding="utf-8"), override) + rows
    return _Table(rows)


def price_table() -> _Table:
    """The table in force: the user's price file (setting ``price_file``) first, then the built-in one."""
    from loopstack.config import get_settings

    override = get_settings().price_file
    if override is None:
        return _table(None, 0.0)
    path = Path(override).expanduser()
    if not path.is_file():
        raise InvalidInput(f"price file {path} (LOOPSTACK_PRICE_FILE) does not exist")
    return _table(str(path), path.stat().st_mtime)


def price_for(model: str, at: date | datetime | None = None) -> Price | None:
    """The price row that applies to ``model`` on ``at`` (default: today), or None if none matches."""
    rows = price_table().rows_for(model)
    if not rows:
        return None
    day = _day(at)
    valid = [p for p in rows if p.since <= day]
    return valid[-1] if valid else None


def cost_for(
    model: str,
    usage: Usage | Mapping[str, Any],
    at: date | datetime | None = None,
    provider: str | None = None,
) -> float | None:
    """USD cost of ``usage`` on ``model`` at time ``at`` (default now), or None when the price is unknown.

    ``model`` is a model string (``openai/gpt-4o-mini``), or a bare name as spans carry it
    (``gen_ai.request.model``) with ``provider`` (``gen_ai.provider.name``); a bare name without a
    provider is tried as OpenAI, then Anthropic. ``usage`` is a :class:`Usage` or a mapping with its
    field names (``input_tokens``, ``output_tokens``, ``cached_input_tokens``, ``reasoning_tokens``).
    """
    if provider and not model.startswith(f"{provider}/"):
        model = f"{provider}/{model}"
    price = price_for(model, at)
    if price is None:
        return None
    if not isinstance(usage, Usage):
        usage = Usage(**{k: int(usage.get(k) or 0) for k in Usage.model_fields})
    return price.cost(usage)


def _day(at: date | datetime | None) -> date:
    if at is None:
        return datetime.now(UTC).date()
    if isinstance(at, datetime):
        return (at.astimezone(UTC) if at.tzinfo else at).date()
    return at
