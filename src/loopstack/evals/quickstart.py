"""The library side of ``loopstack quickstart``: copy the packaged example project into a folder, push
its dataset and prompt versions into the store, and run its suite.

The example ships inside the package (``loopstack/quickstart/``) so it works from a wheel.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from loopstack.errors import InvalidInput
from loopstack.evals._outcome import EvalResult
from loopstack.store import Store

DATASET_NAME = "app-reviews"
DATA_FILE = "reviews.jsonl"
SUITE_FILE = "suite.yaml"
#: Labels given to the packaged prompt versions, in file order: the baseline and the candidate.
PROMPT_LABELS = ("production", "staging")
GOLD_FIELDS = ("sentiment", "topic", "actionable")
INPUT_COLUMNS = ("app", "review")


@dataclass
class QuickstartSetup:
    """What was copied and pushed."""

    directory: Path
    files: list[Path]
    dataset_version: int
    dataset_items: int
    prompts: list[tuple[str, int, str]]
    """(name, version, label) of each pushed prompt version."""


@dataclass
class QuickstartRun:
    """The set-up, the eval result and how long the eval took."""

    setup: QuickstartSetup
    result: EvalResult
    model: str
    seconds: float


def _package_files() -> list[tuple[str, Any]]:
    root = resources.files("loopstack.quickstart")
    out: list[tuple[str, Any]] = []
    for entry in root.iterdir():
        if entry.name in (DATA_FILE, SUITE_FILE, "README.md"):
            out.append((entry.name, entry))
    prompts = root.joinpath("prompts")
    for entry in prompts.iterdir():
        if entry.name.endswith((".yaml", ".yml")):
            out.append((f"prompts/{entry.name}", entry))
    return sorted(out, key=lambda e: e[0])


def copy_project(directory: str | Path, *, force: bool = False) -> list[Path]:
    """Copy the example project into ``directory``; an existing different file is kept unless ``force``."""
    dest = Path(directory).expanduser()
    written: list[Path] = []
    conflicts: list[str] = []
    for rel, src in _package_files():
        target = dest / rel
        data = src.read_bytes()
        if target.exists() and target.read_bytes() != data and not force:
            conflicts.append(rel)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        written.append(target)
    if conflicts:
        raise InvalidInput(
            f"{dest}: {', '.join(conflicts)} already exist(s) with other content; "
            "use another --dir, or --force to overwrite"
        )
    return written


def _dataset_items(path: Path) -> list[Any]:
    """Reviews as items: input {app, review}, expected {sentiment, topic, actionable}, the split kept."""
    from dataclasses import replace

    from loopstack.evals.datasets import Dataset

    items = []
    for it in Dataset.load(path, input=list(INPUT_COLUMNS)).items:
        meta = dict(it.metadata)
        missing = [f for f in GOLD_FIELDS if f not in meta]
        if missing:
            raise InvalidInput(f"{path.name}: item {it.key!r} has no gold {missing[0]!r}")
        expected = {f: meta.pop(f) for f in GOLD_FIELDS}
        items.append(replace(it, expected=expected, metadata=meta))
    return items


def push_project(directory: str | Path, store: Store, project: str) -> QuickstartSetup:
    """Push the folder's dataset and prompt versions (labelled baseline, candidate) into the store."""
    from loopstack.prompts import PromptRegistry
    from loopstack.prompts.files import load_prompt_files
    from loopstack.store.datasets import DatasetRepository

    dest = Path(directory)
    items = _dataset_items(dest / DATA_FILE)
    datasets = DatasetRepository(store, project)
    datasets.push(DATASET_NAME, items, description="App-store reviews with gold triage labels (quickstart)")
    info = datasets.get(DATASET_NAME)
    specs = load_prompt_files(sorted((dest / "prompts").glob("*.yaml")))
    registry = PromptRegistry(store, project)
    pushed: list[tuple[str, int, str]] = []
    for spec, label in zip(specs, PROMPT_LABELS, strict=False):
        res = registry.push(
            spec.name,
            spec.messages,
            model=spec.model,
            params=spec.params,
            description=spec.description,
            message=spec.message,
            labels=[label],
        )
        pushed.append((spec.name, res.version, label))
    files = [dest / rel for rel, _ in _package_files()]
    return QuickstartSetup(dest, files, info.version, info.item_count, pushed)


def next_steps(run: QuickstartRun, directory: str | Path) -> list[tuple[str, str]]:
    """The "Try next" commands, as ``(command, comment)``, in the order to run them.

    Every command is runnable as printed (a test runs them in order): ``--model`` is added to the
    evals when the quickstart ran on a model the suite does not name, so "again" really replays.
    """
    import shlex

    from loopstack.evals.suite import load_suite

    suite_models = load_suite(Path(directory) / SUITE_FILE).model_names
    m = "" if run.model in suite_models else f" --model {shlex.quote(run.model)}"
    ids = [r.run.id for r in run.result.runs]
    steps = [
        (f"cd {shlex.quote(str(directory))}", ""),
        (f"loopstack eval suite.yaml{m}", "again: answers now replay from the cache"),
        (
            f"loopstack eval suite.yaml{m} --baseline production --fail-on-regression",
            "the CI gate: exit 2 if staging is worse",
        ),
    ]
    if len(ids) >= 2:
        steps.append(
            (f"loopstack eval compare {ids[0][:12]} {ids[1][:12]}", "the items v2 got wrong, side by side")
        )
    steps += [
        (f"loopstack eval suite.yaml{m} --html report.html", "the same tables as a web page"),
        ("loopstack prompt label triage production 2", "promote v2 when it wins"),
        ("cp prompts/triage-v2.yaml prompts/triage-v3.yaml", "then edit triage-v3.yaml: your idea"),
        ("loopstack prompt push prompts/ --label staging", "your edit becomes v3, labelled staging"),
        (f"loopstack eval suite.yaml{m}", "production (v2) against your v3"),
    ]
    return steps


async def run_quickstart(
    directory: str | Path,
    *,
    model: str | None = None,
    store: Store | None = None,
    project: str | None = None,
    force: bool = False,
    progress: bool = False,
    console: Any = None,
) -> QuickstartRun:
    """Copy, push, and run the example suite on ``model`` (default: ``LOOPSTACK_MODEL`` or SmolLM2)."""
    from loopstack.config import get_settings
    from loopstack.evals.runner import run_suite
    from loopstack.store import get_store

    settings = get_settings()
    store = store or get_store()
    project = project or settings.project
    model = model or settings.model
    dest = Path(directory)
    copy_project(dest, force=force)
    setup = push_project(dest, store, project)
    started = time.perf_counter()
    result = await run_suite(
        dest / SUITE_FILE,
        models=[model],
        store=store,
        project=project,
        progress=progress,
        console=console,
    )
    return QuickstartRun(setup, result, model, time.perf_counter() - started)
