"""The runner's view of a dataset: a file next to the suite, or a stored dataset pinned to a version."""

from __future__ import annotations

from pathlib import Path

from loopstack.errors import InvalidInput
from loopstack.evals._plan import DatasetPlan, PlanItem
from loopstack.evals.suite import Suite
from loopstack.store import Store
from loopstack.store.datasets import DatasetItem, DatasetRepository
from loopstack.store.runs import RunRecord


def _plan(label: str, items: list[DatasetItem], suite: Suite, **kw: object) -> DatasetPlan:
    """Number rows in dataset order, then apply the suite's split filter and limit."""
    numbered = [(i + 1, it) for i, it in enumerate(items)]
    if suite.split is not None:
        numbered = [(n, it) for n, it in numbered if it.split == suite.split]
        if not numbered:
            splits = sorted({str(it.split) for it in items})
            raise InvalidInput(f"{label}: no items in split {suite.split!r} (splits: {', '.join(splits)})")
    if suite.limit is not None:
        numbered = numbered[: suite.limit]
    plan_items = [
        PlanItem(
            key=it.key,
            input=dict(it.input),
            expected=it.expected,
            metadata=dict(it.metadata or {}),
            row=n,
            dataset_item_id=it.id,
            cluster=it.cluster,
        )
        for n, it in numbered
    ]
    if not plan_items:
        raise InvalidInput(f"{label}: the dataset has no items")
    return DatasetPlan(label=label, items=plan_items, **kw)  # type: ignore[arg-type]


def _file_items(path: Path, suite: Suite) -> list[DatasetItem]:
    from dataclasses import replace

    from loopstack.evals.datasets import Dataset

    cols = suite.columns
    if cols is None:
        return Dataset.load(path).items
    gathered = cols.expected if isinstance(cols.expected, list) else None
    items = Dataset.load(
        path,
        input=cols.input,
        id=cols.id,
        split=cols.split,
        expected="expected" if gathered is not None else str(cols.expected),
    ).items
    if gathered is None:
        return items
    out = []
    for n, it in enumerate(items, start=1):
        meta = dict(it.metadata)
        missing = [c for c in gathered if c not in meta and c not in it.input]
        if missing:
            raise InvalidInput(f"{path.name} row {n}: expected column {missing[0]!r} is missing")
        inputs = dict(it.input)
        expected = {c: meta.pop(c) if c in meta else inputs.pop(c) for c in gathered}
        out.append(replace(it, input=inputs, expected=expected, metadata=meta))
    return out


def load_dataset(suite: Suite, store: Store, project: str) -> DatasetPlan:
    """The items a suite runs on, with the dataset id and version a run records."""
    path = suite.dataset_file()
    if path is not None:
        return _plan(path.name, _file_items(path, suite), suite, file=str(path))
    name, version = suite.dataset_ref()
    repo = DatasetRepository(store, project)
    info = repo.get(name)
    v = version if version is not None else info.version
    return _plan(f"{name}@{v}", repo.items(name, v), suite, dataset_id=info.id, version=v)


def reload_dataset(run: RunRecord, suite: Suite, store: Store, project: str) -> DatasetPlan:
    """The same items a run started with: the pinned stored version, or its file read again."""
    if run.dataset_id is not None and run.dataset_version is not None:
        name, _ = suite.dataset_ref()
        repo = DatasetRepository(store, project)
        items = repo.items(name, run.dataset_version)
        return _plan(
            f"{name}@{run.dataset_version}",
            items,
            suite,
            dataset_id=run.dataset_id,
            version=run.dataset_version,
        )
    file = run.config.get("dataset_file")
    if not file or not Path(file).is_file():
        raise InvalidInput(f"cannot resume run {run.id}: its dataset file {file!r} is gone")
    return _plan(Path(file).name, _file_items(Path(file), suite), suite, file=file)
