"""Calls through our models layer emit their own spans; ``init`` makes them land under our spans."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

import loopstack
from loopstack.models import get_model
from loopstack.prompts import PromptMessages

Rows = Callable[[], list[dict[str, Any]]]


@pytest.mark.usefixtures("traced")
def test_a_models_layer_call_is_stored_as_a_child_generation_span(stored_spans: Rows) -> None:
    model = get_model("mock/echo", mapping={"Classify: crashes": "bug"})
    messages = PromptMessages([{"role": "user", "content": "Classify: crashes"}], "triage", 4)

    @loopstack.observe(name="triage-review")
    def triage() -> str:
        return asyncio.run(model.generate(messages)).text

    with loopstack.context(session_id="s-9"):
        assert triage() == "bug"
    rows = {r["name"]: r for r in stored_spans()}
    call = rows["chat echo"]
    assert call["parent_span_id"] == rows["triage-review"]["span_id"]
    assert (call["provider"], call["model"]) == ("mock", "echo")
    assert (call["prompt_name"], call["prompt_version"]) == ("triage", 4)
    assert call["output"] == "bug"
    assert call["input_tokens"] is not None and call["output_tokens"] == 1
    assert call["session_id"] == "s-9"
