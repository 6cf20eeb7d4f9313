"""The registry of fine-tuned models: ``local/triage-student`` resolves to the folder a fine-tune wrote.

One JSON file, ``$LOOPSTACK_HOME/models/finetuned.json``, beside the weights it points at (they live
under the same home), so a model string means the same thing to the CLI, the server and the SDK of one
home. An entry is written only after its training finished and the model loaded (the flywheel checks),
and the file is replaced atomically, so a reader never sees half an entry.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from loopstack.errors import InvalidInput

_lock = threading.Lock()


@dataclass(frozen=True)
class FinetunedModel:
    """A registered fine-tune: its name, the model string it is called by, where it came from."""

    name: str
    """``triage-student``; ``local/triage-student`` resolves to ``path``."""
    model: str
    """The model string to call: ``local/triage-student`` or ``openai/ft:gpt-4o-mini:…``."""
    backend: str
    """``local`` (TRL + PEFT here) or ``openai`` (an OpenAI fine-tuning job)."""
    base: str
    dataset: str | None = None
    path: str | None = None
    """The merged transformers folder (local backend)."""
    adapter: str | None = None
    """The LoRA adapter folder (local backend), for ``PeftModel.from_pretrained`` on the base."""
    messages: list[dict[str, str]] = field(default_factory=list)
    """The prompt the student was trained with (system prompt + user template): serve it the same way."""
    created_at: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    """Training figures: losses per epoch, seed, steps, seconds, the loss-curve file."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def registry_file() -> Path:
    from loopstack.config import get_settings

    return get_settings().home / "models" / "finetuned.json"


def _read(path: Path) -> dict[str, dict[str, Any]]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"{path}: not a readable fine-tuned model registry ({exc})") from None
    return data if isinstance(data, dict) else {}


def finetuned_models() -> list[FinetunedModel]:
    """Every registered fine-tune, by name."""
    known = {f for f in FinetunedModel.__dataclass_fields__}
    rows = _read(registry_file())
    return [FinetunedModel(**{k: v for k, v in rows[n].items() if k in known}) for n in sorted(rows)]


def finetuned_model(name: str) -> FinetunedModel | None:
    """The fine-tune registered as ``name`` (``triage-student``, or its full model string), or None."""
    for entry in finetuned_models():
        if name in (entry.name, entry.model):
            return entry
    return None


def register_finetuned(entry: FinetunedModel) -> None:
    """Add or replace ``entry`` (by name); the file is swapped in whole."""
    path = registry_file()
    with _lock:
        rows = _read(path)
        rows[entry.name] = entry.to_dict()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(rows, indent=2, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
