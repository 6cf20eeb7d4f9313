"""Training examples from dataset items: the student's prompt rendered, the expected output as the answer.

The student is trained on exactly the messages it will be served with (``student_messages``): a short
system prompt and a user template of the item's input variables, no few-shot examples. Each example is
TRL's conversational prompt-completion shape, so the loss falls on the assistant's tokens only.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from loopstack.errors import InvalidInput
from loopstack.store.datasets import DatasetItem

DEFAULT_SYSTEM_PROMPT = "Answer with one line of JSON and nothing else."
#: Splits whose items are trained on, and held out to measure validation loss.
TRAIN_SPLITS = ("train",)
VALIDATION_SPLITS = ("validation", "val", "dev")


@dataclass(frozen=True)
class Examples:
    """Training and validation examples, and what was left out and why."""

    train: list[dict[str, Any]]
    validation: list[dict[str, Any]]
    skipped: dict[str, int]
    """Reason -> number of items left out (no expected output, a test item, ...)."""
    validation_source: str
    """``validation split`` or ``held out from train (10%)``."""


def student_messages(system_prompt: str | None, input_keys: Sequence[str]) -> list[dict[str, str]]:
    """The student's prompt: the system prompt, then one ``key: {{ key }}`` line per input variable."""
    user = "\n".join(f"{k}: {{{{ {k} }}}}" for k in input_keys)
    return [
        {"role": "system", "content": system_prompt or DEFAULT_SYSTEM_PROMPT},
        {"role": "user", "content": user},
    ]


def answer_text(expected: Any) -> str:
    """The assistant's answer for an expected output: an object as one line of JSON, text as is."""
    if isinstance(expected, str):
        return expected
    return json.dumps(expected, ensure_ascii=False)


def input_keys(items: Sequence[DatasetItem]) -> list[str]:
    """The input variables the items share, in the first item's order."""
    if not items:
        return []
    keys = list(items[0].input)
    return [k for k in keys if all(k in it.input for it in items)]


def render(messages: list[dict[str, str]], variables: dict[str, Any]) -> list[dict[str, str]]:
    from loopstack.prompts.prompt import Prompt

    return list(Prompt(name="student", version=0, messages=messages).render(**variables))


def build_examples(
    items: Sequence[DatasetItem], messages: list[dict[str, str]], *, seed: int = 0, dataset: str = "dataset"
) -> Examples:
    """Examples from ``items``: the train split (or every item without a split) is trained on; the
    validation split measures validation loss (or, without one, 10% of train held out by ``seed``).
    Test items are never used. No usable item is an error, raised before any training."""
    skipped: dict[str, int] = {}
    train: list[dict[str, Any]] = []
    validation: list[dict[str, Any]] = []

    def skip(reason: str) -> None:
        skipped[reason] = skipped.get(reason, 0) + 1

    for it in items:
        if it.split is not None and it.split not in TRAIN_SPLITS + VALIDATION_SPLITS:
            skip(f"{it.split} split")
            continue
        if it.expected is None or it.expected == "" or it.expected == {}:
            skip("no expected output")
            continue
        try:
            prompt = render(messages, it.input)
        except Exception:  # noqa: BLE001 - an item missing a variable is left out and counted
            skip("input lacks a prompt variable")
            continue
        example = {
            "prompt": prompt,
            "completion": [{"role": "assistant", "content": answer_text(it.expected)}],
            "key": it.key,
        }
        (validation if it.split in VALIDATION_SPLITS else train).append(example)
    if not train:
        why = ", ".join(f"{n} {r}" for r, n in sorted(skipped.items())) or "it has no items"
        raise InvalidInput(f"dataset {dataset!r}: no valid training examples ({why})")
    source = "validation split"
    if not validation and len(train) >= 10:
        rng = random.Random(seed)
        order = list(range(len(train)))
        rng.shuffle(order)
        held = set(order[: max(1, len(train) // 10)])
        validation = [e for i, e in enumerate(train) if i in held]
        train = [e for i, e in enumerate(train) if i not in held]
        source = "held out from train (10%)"
    elif not validation:
        source = "none (fewer than 10 examples)"
    return Examples(train, validation, skipped, source)
