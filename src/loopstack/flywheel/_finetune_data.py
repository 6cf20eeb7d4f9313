"""Training examples from dataset items: the student's prompt rendered, the expected output as the answer.

The student is trained on exactly the messages it will be served with (``student_messages``): a short
system prompt and a user template of the item's input variables, no few-shot examples. Each example is
TRL's conversational prompt-completion shape, so the loss falls on the assistant's tokens only.

With ``teacher_fields`` (the JSON fields a teacher is trusted on, ``flywheel.trust``), a teacher-labelled
example keeps its whole answer as the text the student sees, but the values of the other fields are
marked (``masked_spans``: character ranges of the answer) so that no loss falls on them; a teacher
label with no trusted field is left out. Human answers are always trained on whole.
"""

from __future__ import annotations

import json
import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loopstack.errors import InvalidInput
from loopstack.store.datasets import DatasetItem

if TYPE_CHECKING:
    from loopstack.flywheel.export import LabelSource

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
    """The student's prompt: the system prompt, then the input as ``flywheel.chat.render_user`` writes
    it (one variable: its text; several: one ``key: value`` line each), as a template to register."""
    keys = list(input_keys)
    user = f"{{{{ {keys[0]} }}}}" if len(keys) == 1 else "\n".join(f"{k}: {{{{ {k} }}}}" for k in keys)
    return [
        {"role": "system", "content": system_prompt or DEFAULT_SYSTEM_PROMPT},
        {"role": "user", "content": user},
    ]


def input_keys(items: Sequence[DatasetItem]) -> list[str]:
    """The input variables the items share, in the first item's order."""
    if not items:
        return []
    keys = list(items[0].input)
    return [k for k in keys if all(k in it.input for it in items)]


def field_value_spans(text: str) -> dict[str, tuple[int, int]] | None:
    """The character range of each top-level field's value in ``text``, a JSON object (and nothing
    else but white space); None when it is not one."""
    decoder = json.JSONDecoder()
    spans: dict[str, tuple[int, int]] = {}

    def skip(i: int) -> int:
        while i < len(text) and text[i] in " \t\r\n":
            i += 1
        return i

    i = skip(0)
    if i >= len(text) or text[i] != "{":
        return None
    i = skip(i + 1)
    if i < len(text) and text[i] == "}":
        return spans if skip(i + 1) == len(text) else None
    try:
        while True:
            key, i = decoder.raw_decode(text, i)
            i = skip(i)
            if not isinstance(key, str) or text[i] != ":":
                return None
            start = skip(i + 1)
            _, end = decoder.raw_decode(text, start)
            spans[key] = (start, end)
            i = skip(end)
            if text[i] == "}":
                return spans if skip(i + 1) == len(text) else None
            if text[i] != ",":
                return None
            i = skip(i + 1)
    except (ValueError, IndexError):
        return None


def _trusted_part(answer: str, trusted: Collection[str]) -> list[tuple[int, int]] | None:
    """The spans of ``answer`` to leave out of the loss (the untrusted fields' values), or None when
    nothing of it may be trained on (not a JSON object, or no trusted field in it)."""
    spans = field_value_spans(answer)
    if not spans or not any(f in trusted for f in spans):
        return None
    return [span for f, span in spans.items() if f not in trusted]


def student_prompt(messages: list[dict[str, str]]) -> Any:
    from loopstack.prompts.prompt import Prompt

    return Prompt(name="student", version=0, messages=messages)


def build_examples(
    dataset: str,
    messages: list[dict[str, str]],
    *,
    seed: int = 0,
    store: Any = None,
    project: str | None = None,
    version: int | None = None,
    labels: LabelSource = "expected-then-teacher",
    teacher_fields: Collection[str] | None = None,
) -> Examples:
    """Examples of ``dataset`` rendered by ``flywheel.training_set`` with the student's prompt (the
    human expected output, else the teacher's label, is the answer). The train split (or every item
    without a split) is trained on; the validation split measures validation loss (without one, 10% of
    train held out by ``seed``). Test items are never used. No usable item is an error, raised here.

    ``teacher_fields``: train on teacher labels' values of these JSON fields only (module docstring);
    None trains on teacher labels whole."""
    from loopstack.flywheel.export import training_set

    tset = training_set(
        dataset,
        version=version,
        prompt=student_prompt(messages),
        labels=labels,
        store=store,
        project=project,
    )
    skipped: dict[str, int] = {}
    if tset.skipped:
        why = {"expected": "no expected output", "teacher": "no teacher label"}.get(
            labels, "no expected output or teacher label"
        )
        skipped[why] = tset.skipped
    train: list[dict[str, Any]] = []
    validation: list[dict[str, Any]] = []
    for ex in tset.examples:
        if ex.split is not None and ex.split not in TRAIN_SPLITS + VALIDATION_SPLITS:
            skipped[f"{ex.split} split"] = skipped.get(f"{ex.split} split", 0) + 1
            continue
        example: dict[str, Any] = {"prompt": ex.messages[:-1], "completion": ex.messages[-1:], "key": ex.key}
        if teacher_fields is not None and ex.answer_from == "teacher":
            masked = _trusted_part(ex.messages[-1]["content"], teacher_fields)
            if masked is None:
                why = "teacher label with no trusted field"
                skipped[why] = skipped.get(why, 0) + 1
                continue
            if masked:
                example["masked_spans"] = masked
        (validation if ex.split in VALIDATION_SPLITS else train).append(example)
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
