"""From a suite to a plan: the dataset items, the prompt x model matrix and the scorers, all checked
before the first model call (a row missing a template variable is reported by its row number)."""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loopstack.errors import InvalidInput
from loopstack.evals.suite import InlinePrompt, PromptRef
from loopstack.prompts import PromptVersion
from loopstack.prompts._content import REQUEST_PARAMS
from loopstack.prompts.prompt import Prompt
from loopstack.store import Store


@dataclass(frozen=True)
class PlanItem:
    """One dataset item to run: its stable key, input variables, reference and where it came from."""

    key: str
    input: dict[str, Any]
    expected: Any = None
    metadata: dict[str, Any] = field(default_factory=dict)
    row: int = 0
    """1-based position in the dataset (the line of a JSONL file), for error messages."""
    dataset_item_id: str | None = None
    cluster: str | None = None


@dataclass(frozen=True)
class DatasetPlan:
    """The items of the run and which stored dataset version (if any) they are."""

    label: str
    """How messages name the dataset: a file name or ``name@version``."""
    items: list[PlanItem]
    dataset_id: str | None = None
    version: int | None = None
    file: str | None = None
    """Absolute path of a file dataset (read again on resume)."""

    def content_hash(self) -> str:
        """SHA-256 of the items as the run sees them (keys, inputs, expected values, metadata), in key
        order (the order rows are read in does not matter; a run pairs items by key).

        Stored with a run so a resume can tell that a dataset file was edited in between.
        """
        blob = json.dumps(
            sorted(
                ([i.key, i.input, i.expected, i.metadata, i.cluster] for i in self.items), key=lambda r: r[0]
            ),
            sort_keys=True,
            ensure_ascii=False,
            default=str,
        )
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def check_unchanged(self, run_id: str, recorded: str | None) -> None:
        """Refuse to resume run ``run_id`` on items that differ from those it started with.

        A resumed run keeps its finished items and runs only the missing ones; had the file changed in
        between, the run would silently mix two versions of the dataset. Runs stored before the hash
        was recorded (``recorded`` is None) resume as before.
        """
        if not recorded:
            return
        now = self.content_hash()
        if now != recorded:
            where = f"dataset file {self.file}" if self.file else f"dataset {self.label}"
            raise InvalidInput(
                f"cannot resume run {run_id}: its {where} changed since the run started "
                f"(content hash {recorded[:12]}, now {now[:12]}); resuming would mix two versions of "
                "the data. Restore the file, or start a new run with `loopstack eval SUITE`."
            )


@dataclass
class PlannedRun:
    """One cell of the matrix: a prompt version on a model with its request parameters."""

    prompt: Prompt
    model: str
    params: dict[str, Any]
    run_id: str | None = None

    @property
    def prompt_ref(self) -> str:
        return f"{self.prompt.name}@{self.prompt.version}"


def request_params(*layers: dict[str, Any]) -> dict[str, Any]:
    """Merge parameter layers (later wins), keeping only what a model request accepts."""
    out: dict[str, Any] = {}
    for layer in layers:
        out.update({k: v for k, v in layer.items() if k in REQUEST_PARAMS})
    return out


def resolve_prompt(entry: PromptRef | InlinePrompt, store: Store, project: str) -> Prompt:
    """The prompt version an entry of ``prompts:`` names (inline prompts are version 0)."""
    if isinstance(entry, InlinePrompt):
        return Prompt(
            name=entry.name,
            version=0,
            messages=[m.model_dump() for m in entry.messages],
            params=dict(entry.params),
        )
    from loopstack.prompts import PromptRegistry

    registry = PromptRegistry(store, project)
    label = entry.label if (entry.label or entry.version is not None) else "latest"
    return _prompt(registry.get(entry.name, label=label, version=entry.version), label)


def resolve_label(name: str, label: str, store: Store, project: str) -> Prompt:
    """The version a label of prompt ``name`` points at (the gate's baseline)."""
    from loopstack.prompts import PromptRegistry

    return _prompt(PromptRegistry(store, project).get(name, label=label), label)


def _prompt(pv: PromptVersion, label: str | None) -> Prompt:
    return Prompt(pv.name, pv.version, list(pv.messages), pv.model, dict(pv.params), label)


def check_variables(prompts: list[Prompt], dataset: DatasetPlan) -> None:
    """Every item has every variable every prompt reads; otherwise name the first bad row."""
    for prompt in prompts:
        needed = prompt.variables
        if not needed:
            continue
        for item in dataset.items:
            missing = sorted(needed - set(item.input))
            if missing:
                names = ", ".join(repr(m) for m in missing)
                noun = "variable" if len(missing) == 1 else "variables"
                raise InvalidInput(
                    f"{dataset.label} row {item.row} (item {item.key!r}): missing template {noun} {names} "
                    f"needed by prompt {prompt.name}@{prompt.version}"
                )


def git_sha(directory: Path) -> str | None:
    """The commit checked out in ``directory``'s repository, or None outside one (best effort)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    sha = out.stdout.strip()
    return sha if out.returncode == 0 and sha else None
