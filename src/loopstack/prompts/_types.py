"""Value objects of the prompt registry: versions, label moves, push results, history entries."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

from loopstack.prompts.prompt import Prompt

#: Roles a chat message may have.
ROLES = ("system", "developer", "user", "assistant", "tool")

#: The label a fetch uses when none is given, and the implicit label of the highest version.
DEFAULT_LABEL = "production"
LATEST = "latest"


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: the same content always gives the same text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(messages: list[dict[str, str]], model: str | None, params: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of what a version renders and runs with (not who or why)."""
    payload = {"messages": messages, "model": model, "params": params}
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


@dataclass(frozen=True)
class PromptVersion(Prompt):
    """One immutable stored version of a prompt: the Prompt plus who pushed it, when and why."""

    content_hash: str = ""
    message: str | None = None
    author: str | None = None
    created_at: datetime | None = None
    description: str | None = None
    labels: list[str] = field(default_factory=list)
    """Labels pointing at this version (filled by ``PromptRegistry.versions``)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (timestamps as ISO 8601)."""
        out = asdict(self)
        out["created_at"] = self.created_at.isoformat() if self.created_at else None
        out["rollout"] = self.rollout.to_dict() if self.rollout is not None else None
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PromptVersion:
        """The inverse of ``to_dict`` (what a remote source builds from the REST API's JSON)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        created = values.get("created_at")
        if isinstance(created, str):
            values["created_at"] = datetime.fromisoformat(created)
        values["messages"] = [{"role": m["role"], "content": m["content"]} for m in values["messages"]]
        values["params"] = dict(values.get("params") or {})
        values["labels"] = list(values.get("labels") or [])
        values["rollout"] = rollout_from_json(values.get("rollout"))
        return cls(**values)


def rollout_from_json(data: Any) -> Any:
    """The ``rollout`` of a version's JSON (None when no rollout runs on the label)."""
    if not data:
        return None
    from loopstack.prompts._rollout import RolloutArms

    return RolloutArms.from_dict(dict(data))


@dataclass(frozen=True)
class LabelMove:
    """A label pointed at ``from_version`` (None: it was new) and now points at ``to_version``."""

    name: str
    label: str
    from_version: int | None
    to_version: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PushResult:
    """What a push did: the version the content is stored as, whether it is new, and label moves."""

    name: str
    version: int
    created: bool
    label_moves: list[LabelMove] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "created": self.created,
            "label_moves": [m.to_dict() for m in self.label_moves],
        }


@dataclass(frozen=True)
class HistoryEntry:
    """One line of a prompt's history: a version pushed (``kind='version'``) or a label moved."""

    kind: str
    created_at: datetime
    author: str | None
    message: str | None
    version: int | None = None
    label: str | None = None
    from_version: int | None = None
    to_version: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["created_at"] = self.created_at.isoformat()
        return out


@dataclass(frozen=True)
class PromptSummary:
    """A row of ``prompt list``."""

    name: str
    description: str | None
    latest: int | None
    updated_at: datetime | None
    labels: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["updated_at"] = self.updated_at.isoformat() if self.updated_at else None
        return out


@dataclass(frozen=True)
class PromptSpec:
    """Content to push as a version: what a YAML file or an API body describes (already validated)."""

    name: str
    messages: list[dict[str, str]]
    model: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    description: str | None = None
    message: str | None = None
    labels: tuple[str, ...] = ()
    source: str | None = None
    """Where it was defined (``file:line``), for messages."""

    @property
    def content_hash(self) -> str:
        return content_hash(self.messages, self.model, self.params)
