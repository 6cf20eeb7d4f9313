"""Shared set-up for the eval tests: a small dataset, prompt versions in the registry, scripted models."""

from __future__ import annotations

import json
from pathlib import Path

from loopstack.models import ModelRequest, get_model
from loopstack.prompts import PromptRegistry
from loopstack.store import get_store

N_ITEMS = 30


def write_dataset(folder: Path, n: int = N_ITEMS) -> Path:
    rows = [
        {
            "id": f"i{i:02d}",
            "review": "love" if i % 2 else "hate",
            "expected": "positive" if i % 2 else "negative",
        }
        for i in range(n)
    ]
    path = folder / "reviews.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def push_two_versions() -> None:
    """triage@1 (production) answers well; triage@2 (staging) is the candidate prefix 'Candidate:'."""
    reg = PromptRegistry(get_store(), "default")
    reg.push("triage", [{"role": "user", "content": "{{ review }}"}], labels=["production"])
    reg.push("triage", [{"role": "user", "content": "Candidate: {{ review }}"}], labels=["staging"])


def script_model(name: str, *, candidate_breaks: bool) -> None:
    """A mock model that classifies correctly, except candidate prompts when ``candidate_breaks``.

    With ``candidate_breaks`` the candidate answers ``<b>neutral</b><script>x</script>``: wrong, and
    markup that a report must escape.
    """

    def answer(request: ModelRequest) -> str:
        text = request.messages[-1].content
        if candidate_breaks and text.startswith("Candidate"):
            return "<b>neutral</b><script>alert(1)</script>"
        return "positive" if "love" in text else "negative"

    get_model(name, fn=answer)


def write_suite(folder: Path, model: str = "mock/gate", extra: str = "") -> Path:
    write_dataset(folder)
    path = folder / "suite.yaml"
    path.write_text(
        f"name: gate\ndataset: reviews.jsonl\nprompts: [triage@staging]\nmodels: [{model}]\n"
        f"scorers:\n  - scorer: exact_match\n    name: accuracy\n{extra}"
    )
    return path
