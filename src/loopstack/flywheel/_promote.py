"""Promotion: a new prompt version that names the student model and its short prompt, and a label move.

The version's messages are the ones the student was fine-tuned with (from the fine-tuned model
registry), so the app that fetches ``NAME@production`` sends the student exactly what it learned on.
Undo it like any label move: ``loopstack prompt rollback NAME``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from loopstack.errors import InvalidInput
from loopstack.store import Store, get_store

#: Generation parameters of a promoted student: greedy, room for one JSON answer.
STUDENT_PARAMS: dict[str, Any] = {"temperature": 0, "max_tokens": 64}


@dataclass(frozen=True)
class Promotion:
    """What promoting did: the new version and where the label pointed before and after."""

    prompt: str
    version: int
    label: str
    from_version: int | None
    model: str

    def line(self) -> str:
        before = f"v{self.from_version}" if self.from_version is not None else "(unset)"
        return (
            f"{self.prompt}: {self.label} {before} -> v{self.version} ({self.model}); "
            f"undo: loopstack prompt rollback {self.prompt} --label {self.label}"
        )


def promote(
    student: str,
    *,
    prompt: str,
    label: str = "production",
    messages: list[dict[str, str]] | None = None,
    params: dict[str, Any] | None = None,
    message: str | None = None,
    author: str | None = None,
    store: Store | None = None,
    project: str | None = None,
) -> Promotion:
    """Push ``prompt``'s new version (``student`` + its trained prompt) and point ``label`` at it."""
    from loopstack.config import get_settings
    from loopstack.models import get_model
    from loopstack.models._finetuned import finetuned_model
    from loopstack.prompts import PromptRegistry

    get_model(student)  # an unknown model string fails here, before anything is written
    if messages is None:
        tuned = finetuned_model(student.partition("/")[2]) or finetuned_model(student)
        if tuned is None or not tuned.messages:
            raise InvalidInput(
                f"{student} is not a registered fine-tune, so its prompt is unknown: pass its messages"
            )
        messages = tuned.messages
    store = store or get_store()
    registry = PromptRegistry(store, project or get_settings().project)
    before = registry.labels(prompt).get(label) if _exists(registry, prompt) else None
    pushed = registry.push(
        prompt,
        messages,
        model=student,
        params=params if params is not None else STUDENT_PARAMS,
        message=message or f"promote the fine-tuned student {student}",
        author=author,
        labels=[label],
    )
    return Promotion(prompt, pushed.version, label, before, student)


def _exists(registry: Any, name: str) -> bool:
    from loopstack.errors import NotFound

    try:
        registry.versions(name)
    except NotFound:
        return False
    return True
