"""Output tokens/s of the local provider (SmolLM2-135M) at concurrency 1, 8 and 32, greedy and sampled.

Concurrent requests are gathered into batched ``generate`` calls, so throughput should grow with
concurrency. Each level runs closed-loop clients (a client sends its next request when the previous
answer arrives) over the same short, realistic prompts with a fixed ``max_tokens``.

Greedy requests (temperature 0) run on the float32 weights with a near-tie guard, so that their answer
does not depend on their batch-mates; sampled ones (temperature 0.7) run in the ``dtype`` option's
precision (bfloat16 on CPUs with native bf16 math), which is how greedy ones ran before that fix. The
greedy/sampled ratio at each concurrency is therefore the cost of batch-invariant greedy answers
(about 1.0 where ``auto`` means float32 anyway).

    .venv/bin/python bench/local_throughput.py [--max-tokens 32] [--rounds 2]

Target: at concurrency >= 16, at least 4x the single-stream rate (greedy).
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


async def run_level(
    concurrency: int, requests: int, max_tokens: int, temperature: float
) -> tuple[int, float, int]:
    """(output tokens, wall seconds, generate calls) for ``requests`` calls at ``concurrency``."""
    model = get_model("local/smollm2-135m")
    engine = model.provider.engine  # type: ignore[attr-defined]
    batches_before = engine.batches
    todo = iter(range(requests))
    tokens = 0

    async def client() -> None:
        nonlocal tokens
        for i in todo:
            prompt = PROMPTS[i % len(PROMPTS)]
            answer = await model.generate(prompt, max_tokens=max_tokens, temperature=temperature)
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
    greedy_dtype = next(engine.model.parameters()).dtype
    sampled_dtype = next(engine.sampling_model().parameters()).dtype
    threads = __import__("torch").get_num_threads()
    print(f"load time: {load:.1f} s (threads: {threads}, greedy: {greedy_dtype}, sampled: {sampled_dtype})")
    await model.generate(PROMPTS[0], max_tokens=4)  # warm-up
    await model.generate(PROMPTS[0], max_tokens=4, temperature=0.7)

    header = ("mode", "concurrency", "requests", "out tokens", "wall s", "tok/s", "vs c=1", "batches")
    print("{:>7} {:>11} {:>8} {:>10} {:>7} {:>7} {:>7} {:>7}".format(*header))
    rates: dict[tuple[str, int], float] = {}
    reruns = engine.reruns
    for mode, temperature in (("greedy", 0.0), ("sampled", 0.7)):
        for concurrency in (1, 8, 32):
            requests = max(8, concurrency * args.rounds)
            tokens, wall, batches = await run_level(concurrency, requests, args.max_tokens, temperature)
            rate = rates[mode, concurrency] = tokens / wall
            print(
                f"{mode:>7} {concurrency:>11} {requests:>8} {tokens:>10} {wall:>7.1f} {rate:>7.1f} "
                f"{rate / rates[mode, 1]:>6.1f}x {batches:>7}"
            )
        if mode == "greedy":
            reruns = engine.reruns - reruns
    ratios = {c: rates["greedy", c] / rates["sampled", c] for c in (1, 8, 32)}
    print(
        "greedy/sampled tok/s: "
        + ", ".join(f"c={c} {r:.2f}x" for c, r in ratios.items())
        + f"; greedy rows rerun alone after a near-tie: {reruns}"
    )
    speedup = rates["greedy", 32] / rates["greedy", 1]
    met = "yes" if speedup >= 4 else "no"
    print(
        f"BENCH local_throughput speedup_c32={speedup:.1f}x target=>=4x met={met} "
        f"greedy_vs_sampled_c1={ratios[1]:.2f}x greedy_vs_sampled_c32={ratios[32]:.2f}x"
    )


if __name__ == "__main__":
    asyncio.run(main())
