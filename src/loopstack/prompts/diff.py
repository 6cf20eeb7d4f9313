"""Differences between two prompt versions: a unified text diff per message and config key changes."""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, field
from typing import Any

from loopstack.prompts._types import PromptVersion

_MISSING = "<unset>"


@dataclass(frozen=True)
class MessageDiff:
    """How message ``index`` changed: ``added``, ``removed``, ``changed`` or ``unchanged``."""

    index: int
    status: str
    role_before: str | None
    role_after: str | None
    diff: list[str]


@dataclass(frozen=True)
class ConfigChange:
    """A config key (``model`` or ``params.<name>``) whose value differs; None means unset."""

    key: str
    before: Any
    after: Any


@dataclass(frozen=True)
class PromptDiff:
    """Everything that differs between version ``before`` and ``after`` of one prompt."""

    name: str
    before: int
    after: int
    messages: list[MessageDiff] = field(default_factory=list)
    config: list[ConfigChange] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        """True when the two versions render and run the same."""
        return not self.config and all(m.status == "unchanged" for m in self.messages)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "identical": self.identical}

    def text(self) -> str:
        """The whole diff as plain text (unified diffs, then config changes)."""
        lines: list[str] = []
        for m in self.messages:
            if m.status != "unchanged":
                lines.extend(m.diff)
        for c in self.config:
            lines.append(f"~ {c.key}: {_show(c.before)} -> {_show(c.after)}")
        return "\n".join(lines) if lines else f"{self.name}@{self.before} and @{self.after} are identical"


def _show(value: Any) -> str:
    return _MISSING if value is None else repr(value)


def diff_versions(a: PromptVersion, b: PromptVersion) -> PromptDiff:
    """What changes going from ``a`` to ``b``."""
    messages: list[MessageDiff] = []
    for i in range(max(len(a.messages), len(b.messages))):
        ma = a.messages[i] if i < len(a.messages) else None
        mb = b.messages[i] if i < len(b.messages) else None
        before = _label(a, i, ma)
        after = _label(b, i, mb)
        text_a = _message_text(ma)
        text_b = _message_text(mb)
        lines = [
            line.rstrip("\n")
            for line in difflib.unified_diff(
                text_a.splitlines(keepends=True), text_b.splitlines(keepends=True), before, after
            )
        ]
        if ma is None:
            status = "added"
        elif mb is None:
            status = "removed"
        else:
            status = "unchanged" if ma == mb else "changed"
        messages.append(MessageDiff(i, status, ma["role"] if ma else None, mb["role"] if mb else None, lines))
    return PromptDiff(a.name, a.version, b.version, messages, _config_changes(a, b))


def _label(pv: PromptVersion, i: int, m: dict[str, str] | None) -> str:
    role = m["role"] if m else "absent"
    return f"{pv.ref} messages[{i}] ({role})"


def _message_text(m: dict[str, str] | None) -> str:
    if m is None:
        return ""
    # The role is part of the text so a role change shows up in the diff.
    return f"role: {m['role']}\n{m['content']}" + ("" if m["content"].endswith("\n") else "\n")


def _config_changes(a: PromptVersion, b: PromptVersion) -> list[ConfigChange]:
    changes: list[ConfigChange] = []
    if a.model != b.model:
        changes.append(ConfigChange("model", a.model, b.model))
    for key in sorted(set(a.params) | set(b.params)):
        va, vb = a.params.get(key), b.params.get(key)
        if va != vb or (key in a.params) != (key in b.params):
            changes.append(ConfigChange(f"params.{key}", va, vb))
    return changes
