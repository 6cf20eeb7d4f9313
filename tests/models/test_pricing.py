"""Cost from the versioned price table and the user's override file."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from loopstack.config import get_settings
from loopstack.errors import InvalidInput
from loopstack.models import Usage, cost_for, get_model, price_for

MILLION = Usage(input_tokens=1_000_000, output_tokens=1_000_000)


def test_a_price_change_keeps_old_calls_at_the_old_price() -> None:
    assert cost_for("openai/gpt-4o", MILLION, at=date(2024, 6, 1)) == pytest.approx(5.0 + 15.0)
    assert cost_for("openai/gpt-4o", MILLION, at=datetime(2024, 10, 2, tzinfo=UTC)) == pytest.approx(
        2.5 + 10.0
    )
    assert cost_for("openai/gpt-4o", MILLION, at=date(2024, 1, 1)) is None  # before any known price


def test_specific_patterns_and_dated_snapshots() -> None:
    assert cost_for("openai/gpt-4o-mini-2024-07-18", MILLION) == pytest.approx(0.75)
    assert cost_for("anthropic/claude-3-5-haiku-20241022", MILLION) == pytest.approx(4.8)


def test_bare_names_with_or_without_provider_and_mappings() -> None:
    usage = {"input_tokens": 1_000_000, "cached_input_tokens": 1_000_000, "output_tokens": 0}
    assert cost_for("gpt-4o-mini", usage) == pytest.approx(0.075)
    assert cost_for("claude-3-haiku-20240307", MILLION, provider="anthropic") == pytest.approx(1.5)
    assert cost_for("smollm2-135m", MILLION, provider="local") == 0.0


def test_reasoning_tokens_use_their_own_price_when_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prices = tmp_path / "prices.yaml"
    prices.write_text(
        "prices:\n"
        "  - {match: 'openai/gpt-4o-mini', since: 2020-01-01, input: 1, output: 2, reasoning: 10}\n"
        "  - {match: 'myco/.*', since: 2020-01-01, input: 3, output: 4}\n"
    )
    monkeypatch.setenv("LOOPSTACK_PRICE_FILE", str(prices))
    get_settings.cache_clear()
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000, reasoning_tokens=500_000)
    assert cost_for("openai/gpt-4o-mini", usage) == pytest.approx(1 + 0.5 * 2 + 0.5 * 10)
    assert cost_for("myco/anything", MILLION) == pytest.approx(7.0)
    price = price_for("myco/x")
    assert price is not None and price.source == str(prices)


def test_unknown_model_has_no_cost_and_free_providers_cost_zero() -> None:
    assert cost_for("openai-compatible/llama3", MILLION) is None
    assert cost_for("mock/x", MILLION) == 0.0
    assert get_model("mock/x").provider.capabilities.free


def test_broken_override_file_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prices = tmp_path / "prices.yaml"
    prices.write_text("prices:\n  - {match: 'x', since: 2020-01-01, input: -1, output: 2}\n")
    monkeypatch.setenv("LOOPSTACK_PRICE_FILE", str(prices))
    get_settings.cache_clear()
    with pytest.raises(
        InvalidInput, match=r"prices.yaml: prices.0.input: Input should be greater than or equal to 0"
    ):
        cost_for("x", MILLION)
    monkeypatch.setenv("LOOPSTACK_PRICE_FILE", str(tmp_path / "missing.yaml"))
    get_settings.cache_clear()
    with pytest.raises(InvalidInput, match="missing.yaml .LOOPSTACK_PRICE_FILE. does not exist"):
        cost_for("x", MILLION)
