"""Per-provider concurrency and per-minute budgets: a call over budget waits instead of being sent."""

from __future__ import annotations

import asyncio

import pytest

from loopstack.models import ModelRequest, get_model
from loopstack.models._limits import Limiter


async def test_requests_per_minute_makes_the_next_call_wait() -> None:
    # a burst of 2 (ten seconds' worth), then one every 5 s: the third call waits ~5 s, so the check
    # below holds however slowly this machine ran the burst (anything under 4.8 s)
    model = get_model("mock/rpm", requests_per_minute=12)
    await asyncio.gather(*(model.generate(f"q{i}") for i in range(2)))
    third = asyncio.ensure_future(model.generate("q2"))
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(asyncio.shield(third), 0.2)
    assert model.provider.calls == 2  # type: ignore[attr-defined]
    third.cancel()


async def test_tokens_per_minute_counts_prompt_and_max_tokens_and_refunds_the_rest() -> None:
    # capacity 1000 tokens, refilled at 100/s: each bound below leaves this machine a second or more
    limiter = Limiter(max_concurrency=8, rpm=None, tpm=6000)
    assert limiter.tokens is not None
    async with limiter.acquire(900):
        pass
    assert 100 <= limiter.tokens.level < 200
    limiter.settle(900, 500)  # the call used 500 of the 900 reserved: 400 come back
    assert 500 <= limiter.tokens.level < 600
    blocked = asyncio.ensure_future(limiter.acquire(1000).__aenter__())  # needs ~5 s more
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(asyncio.shield(blocked), 0.1)
    blocked.cancel()


async def test_max_concurrency_bounds_calls_in_flight() -> None:
    in_flight = peak = 0

    async def slow(request: ModelRequest) -> str:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return "ok"

    model = get_model("mock/bounded", fn=slow, max_concurrency=3)
    await asyncio.gather(*(model.generate(str(i)) for i in range(20)))
    assert peak == 3


async def test_params_given_with_a_request_are_validated() -> None:
    from loopstack.errors import InvalidInput

    request = ModelRequest.of("hi", temperature=0)
    with pytest.raises(
        InvalidInput, match="parameter temperature: Input should be greater than or equal to 0"
    ):
        await get_model("mock/v").generate(request, temperature=-2)
    answer = await get_model("mock/v").generate(request, max_tokens=1)
    assert answer.text == "hi"
    with pytest.raises(InvalidInput, match="parameter frequency_penalty: Extra inputs are not permitted"):
        ModelRequest.of("hi", frequency_penalty=1)
