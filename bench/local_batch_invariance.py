"""Do greedy answers of the local provider depend on their batch-mates? Measured, not assumed.

1. The raw model, per precision: each prompt alone vs in batches of 3..32 (different batch-mates,
   orders and left-padding), greedy, no guard: how many rows change and how far a logit moves.
2. The provider (float32 greedy + near-tie guard): the same compositions through ``get_model``; every
   batched answer must equal the prompt's solo answer.

    .venv/bin/python bench/local_batch_invariance.py [--max-tokens 16]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from local_throughput import PROMPTS  # noqa: E402

from loopstack.models import get_model  # noqa: E402

EXTRA = ["Name three colors.", "Say hello.", "What is the capital of France?"]


def compositions(n: int) -> list[list[int]]:
    rnd = random.Random(1)
    everything = list(range(n))
    return [
        everything,
        (everything * 2)[:32],
        rnd.sample(everything, 5),
        rnd.sample(everything, 9),
        [n - 1, 3, 8],
    ]


def raw(engine: Any, model: Any, prompts: list[str], max_tokens: int) -> tuple[int, int, float]:
    """(rows that differ from solo, rows, largest logit change before any divergence), no guard."""
    import torch
    from transformers import LogitsProcessor

    tok = engine.tokenizer

    class Record(LogitsProcessor):
        def __init__(self) -> None:
            self.steps: list[Any] = []

        def __call__(self, input_ids: Any, scores: Any) -> Any:
            self.steps.append(scores.clone())
            return scores

    def run(batch: list[str]) -> tuple[list[list[int]], list[Any]]:
        texts = [engine._prompt_text(_request(p)) for p in batch]
        enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        record = Record()
        with torch.inference_mode():
            out = model.generate(
                **enc, max_new_tokens=max_tokens, do_sample=False, temperature=None, top_p=None, top_k=None,
                pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, logits_processor=[record],
            )  # fmt: skip
        width = enc["input_ids"].shape[1]
        rows = []
        for i in range(len(batch)):
            ids = out[i, width:].tolist()
            rows.append(ids[: ids.index(tok.eos_token_id)] if tok.eos_token_id in ids else ids)
        return rows, record.steps

    solo = [run([p]) for p in prompts]
    differ = total = 0
    moved = 0.0
    for composition in compositions(len(prompts)):
        rows, steps = run([prompts[i] for i in composition])
        for r, i in enumerate(composition):
            (alone,), alone_steps = solo[i]
            total += 1
            differ += rows[r] != alone
            same = next(
                (k for k, (a, b) in enumerate(zip(alone, rows[r], strict=False)) if a != b), len(alone)
            )
            for s in range(min(same + 1, len(steps), len(alone_steps))):
                moved = max(moved, float((alone_steps[s][0] - steps[s][r]).abs().max()))
    return differ, total, moved


def _request(prompt: str) -> Any:
    from loopstack.models import ModelRequest

    return ModelRequest.of(prompt)


async def provider_check(prompts: list[str], max_tokens: int) -> tuple[int, int, int]:
    """(batched answers that differ from solo, answers, rows rerun alone) through the provider."""
    model = get_model("local/smollm2-135m")
    engine = model.provider.engine  # type: ignore[attr-defined]
    solo = [(await model.generate(p, max_tokens=max_tokens)).text for p in prompts]
    reruns = engine.reruns
    differ = total = 0
    for composition in compositions(len(prompts)):
        answers = await asyncio.gather(
            *(model.generate(prompts[i], max_tokens=max_tokens) for i in composition)
        )
        for answer, i in zip(answers, composition, strict=True):
            total += 1
            differ += answer.text != solo[i]
    return differ, total, engine.reruns - reruns


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-tokens", type=int, default=16)
    args = parser.parse_args()
    prompts = PROMPTS + EXTRA
    model = get_model("local/smollm2-135m")
    await model.provider.load()  # type: ignore[attr-defined]
    engine = model.provider.engine  # type: ignore[attr-defined]
    import torch

    bf16 = engine.sampling_model() if engine.sampling_dtype == "bfloat16" else None
    if bf16 is None:
        import copy

        bf16 = copy.deepcopy(engine.model).to(torch.bfloat16).eval()
    started = time.perf_counter()
    results = {}
    for name, weights in (("float32", engine.model), ("bfloat16", bf16)):
        differ, total, moved = raw(engine, weights, prompts, args.max_tokens)
        results[name] = differ
        print(
            f"raw {name:>8}, no guard: {differ}/{total} batched rows differ from solo; "
            f"max logit change {moved:.1e}"
        )
    differ, total, reruns = await provider_check(prompts, args.max_tokens)
    print(
        f"provider (float32 + guard): {differ}/{total} batched answers differ from solo; "
        f"{reruns} rows rerun alone"
    )
    print(
        f"BENCH local_batch_invariance provider_differ={differ} raw_float32_differ={results['float32']} "
        f"raw_bfloat16_differ={results['bfloat16']} seconds={time.perf_counter() - started:.0f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
