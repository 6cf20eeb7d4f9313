"""Output tokens/s of the local provider (SmolLM2-135M) at concurrency 1, 8 and 32.

Concurrent requests are gathered into batched ``generate`` calls, so throughput should grow with
concurrency. Each level runs closed-loop clients (a client sends its next request when the previous
answer arrives) over the same short, realistic prompts with a fixed ``max_tokens``.

    .venv/bin/python bench/local_throughput.py [--max-tokens 32] [--rounds 2]

Target: at concurrency >= 16, at least 4x the single-stream rate.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from loopstack.models import get_model

PROMPTS = [
    "Classify the sentiment of this review as positive or negative: 'The battery died after two days.'",
    "Summarize in one sentence: The meeting was moved to Thursday because the client is travelling.",
    "Translate to French: Where is the train station?",
    "Give a short title for a blog post about saving money on groceries.",
    "What is the capital of Japan?",
    "Write one sentence describing a sunny beach.",
    "Is this review about shipping or quality? 'Arrived a week late and the box was crushed.'",
    "List two benefits of regular exercise.",
    "Reply politely to a customer asking when their refund will arrive.",
    "Explain what a database index is in one sentence.",
    "Suggest a name for a small coffee shop.",
    "Classify the sentiment: 'Absolutely love this app, it saves me hours every week!'",
    "What is 12 times 7?",
    "Rewrite more formally: hey, can u send me the report asap?",
    "Name a fruit that is yellow.",
    "Give one tip for writing a good email subject line.",
]


async def run_level(concurrency: int, requests: int, max_tokens: int) -> tuple[int, float, int]:
    """(output tokens, wall seconds, generate calls) for ``requests`` calls at ``concurrency``."""
    model = get_model("local/smollm2-135m")
    engine = model.provider.engine  # type: ignore[attr-defined]
    batches_before = engine.batches
    todo = iter(range(requests))
    tokens = 0

    async def client() -> None:
        nonlocal tokens
        for i in todo:
            answer = await model.generate(PROMPTS[i % len(PROMPTS)], max_tokens=max_tokens)
            tokens += answer.usage.output_tokens

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return tokens, time.perf_counter() - started, engine.batches - batches_before


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2, help="requests per client at each level")
    args = parser.parse_args()

    model = get_model("local/smollm2-135m")
    load = await model.provider.load()  # type: ignore[attr-defined]
    engine = model.provider.engine  # type: ignore[attr-defined]
    dtype = next(engine.model.parameters()).dtype
    print(f"load time: {load:.1f} s (threads: {__import__('torch').get_num_threads()}, dtype: {dtype})")
    await model.generate(PROMPTS[0], max_tokens=4)  # warm-up

    header = ("concurrency", "requests", "out tokens", "wall s", "tok/s", "vs c=1", "batches")
    print("{:>11} {:>8} {:>10} {:>7} {:>7} {:>7} {:>7}".format(*header))
    rates: dict[int, float] = {}
    for concurrency in (1, 8, 32):
        requests = max(8, concurrency * args.rounds)
        tokens, wall, batches = await run_level(concurrency, requests, args.max_tokens)
        rates[concurrency] = tokens / wall
        print(
            f"{concurrency:>11} {requests:>8} {tokens:>10} {wall:>7.1f} {rates[concurrency]:>7.1f} "
            f"{rates[concurrency] / rates[1]:>6.1f}x {batches:>7}"
        )
    speedup = rates[32] / rates[1]
    print(
        f"BENCH local_throughput speedup_c32={speedup:.1f}x target=>=4x met={'yes' if speedup >= 4 else 'no'}"
    )


if __name__ == "__main__":
    asyncio.run(main())
