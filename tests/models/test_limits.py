"""Per-provider concurrency and per-minute budgets: a call over budget waits instead of being sent."""

from __future__ import annotations

import asyncio

import pytest

from loopstack.models import ModelRequest, get_model
from loopstack.models._limits import Limiter


async def test_requests_per_minute_makes_the_next_call_wait() -> None:
    model = get_model("mock/rpm", requests_per_minute=60)  # a burst of 10 (ten seconds' worth), then 1/s
    await asyncio.gather(*(model.generate(f"q{i}") for i in range(10)))
    eleventh = asyncio.ensure_future(model.generate("q10"))
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(asyncio.shield(eleventh), 0.2)
    assert model.provider.calls == 10  # type: ignore[attr-defined]
    eleventh.cancel()


async def test_tokens_per_minute_counts_prompt_and_max_tokens_and_refunds_the_rest() -> None:
    limiter = Limiter(max_concurrency=8, rpm=None, tpm=6000)  # capacity 1000 tokens
    assert limiter.tokens is not None
    async with limiter.acquire(900):
        pass
    assert limiter.tokens.level < 101
    limiter.settle(900, 100)  # the call used 100 of the 900 reserved
    assert limiter.tokens.level >= 900
    blocked = asyncio.ensure_future(limiter.acquire(1000).__aenter__())
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
