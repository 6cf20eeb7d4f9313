"""Judge calibration: how well an LLM judge's scores agree with people's on the same targets.

The judge's scores come from a stored run (the latest one that holds the scorer's scores, unless a
run is named). The human labels come from a labelled dataset column (``--human-column``, a second
rater in ``--human2-column``) matched by item key, or from ``human`` scores stored on the run's items
(the annotation queue), one rater per author. The result is stored per project (a project setting,
``judge_calibration:<score name>``) so eval reports, the gate, the UI and the API read one figure,
and none of them imports this module to get it (``loopstack.evals.calibration_notes`` reads it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from loopstack.errors import InvalidInput, NotFound
from loopstack.safety.agreement import Agreement, Interval, Level, agreement, position_bias
from loopstack.store import Store
from loopstack.store.runs import RunItemRecord, RunRecord, RunRepository, ScoreRow

SETTING_PREFIX = "judge_calibration:"


@dataclass
class Calibration:
    """One calibration of a judge: where the labels came from, the agreement, the position bias."""

    scorer: str
    run_id: str
    source: str
    """``dataset:<name>:<column>[,<column2>]`` or ``scores:<human score name>``."""
    raters: list[str]
    agreement: Agreement
    position_bias: Interval | None
    computed_at: str

    @property
    def badge(self) -> str:
        return self.agreement.badge

    def to_dict(self) -> dict[str, Any]:
        return {
            "scorer": self.scorer,
            "run_id": self.run_id,
            "source": self.source,
            "raters": self.raters,
            "badge": self.badge,
            "agreement": self.agreement.to_dict(),
            "position_bias": self.position_bias.to_dict() if self.position_bias else None,
            "computed_at": self.computed_at,
        }


def _judge_value(score: ScoreRow) -> Any:
    """The judge's verdict on its own scale: a rubric judge's raw score (1..5), else the stored value."""
    if score.error is not None:
        return None
    raw = (score.metadata or {}).get("raw")
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return float(raw)
    if score.string_value is not None:
        return score.string_value
    return score.value


def _find_run(repo: RunRepository, scorer: str, run_id: str | None, dataset: str | None) -> RunRecord:
    if run_id is not None:
        return repo.get(run_id)
    for record in repo.list_runs(limit=200):
        if dataset is not None and not _same_dataset(record, dataset):
            continue
        items = repo.items(record.id, content=False)
        if any(it.score(scorer) is not None for it in items):
            return record
    on = f" on dataset {dataset!r}" if dataset else ""
    raise NotFound(f"no stored run{on} has scores named {scorer!r}; run the judge first (loopstack eval)")


def _same_dataset(record: RunRecord, dataset: str) -> bool:
    label = str(record.config.get("dataset") or "")
    file = record.config.get("dataset_file")
    name = dataset.partition("@")[0]
    return label.partition("@")[0] == name or (file is not None and Path(file).name == Path(dataset).name)


def _dataset_column(item: Any, column: str) -> tuple[bool, Any]:
    for source in (item.input, item.metadata, item.expected if isinstance(item.expected, dict) else {}):
        if column in source:
            return True, source[column]
    return False, None


def _dataset_items(store: Store, project: str, dataset: str) -> list[Any]:
    path = Path(dataset)
    if path.suffix.lower() in (".jsonl", ".json", ".csv", ".parquet"):
        if not path.is_file():
            raise InvalidInput(f"dataset file {dataset!r} not found")
        from loopstack.evals.datasets import Dataset

        return list(Dataset.load(path).items)
    from loopstack.store.datasets import DatasetRepository

    name, _, version = dataset.partition("@")
    return DatasetRepository(store, project).items(name, int(version) if version.isdigit() else None)


def _level(values: list[Any]) -> Level:
    present = [v for v in values if v is not None]
    if any(isinstance(v, str) for v in present):
        return "nominal"
    if all(isinstance(v, bool) for v in present):
        return "nominal"
    numbers = {float(v) for v in present}
    if len(numbers) <= 11 and all(float(v).is_integer() for v in numbers):
        return "ordinal"
    return "interval"


def _norm_label(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip().lower()


def _to_number(value: Any, where: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{where}: {value!r} is not a number (the judge's scores are numeric)") from None
    return None if math.isnan(number) else number


def _code(
    judge: list[Any], humans: list[list[Any]], where: list[str]
) -> tuple[Level, list[Any], list[list[Any]], list[str]]:
    """Put judge and human values on one scale: numbers, or label codes 0..K-1 for categories."""
    level = _level(judge + [v for h in humans for v in h])
    if level != "nominal":
        return (
            level,
            [_to_number(v, "judge score") for v in judge],
            [[_to_number(v, where[i]) for v in h] for i, h in enumerate(humans)],
            [],
        )
    labels = sorted({lab for lab in (_norm_label(v) for v in judge + [v for h in humans for v in h]) if lab})
    index = {lab: i for i, lab in enumerate(labels)}

    def code(v: Any) -> int | None:
        lab = _norm_label(v)
        return None if lab is None else index[lab]

    return level, [code(v) for v in judge], [[code(v) for v in h] for h in humans], labels


def _suite_threshold(run: RunRecord, scorer: str) -> float | None:
    for entry in (run.config.get("suite") or {}).get("scorers") or []:
        if entry.get("name") == scorer or (not entry.get("name") and entry.get("scorer") == scorer):
            value = entry.get("threshold")
            return float(value) if isinstance(value, int | float) else None
    return None


def _judge_passed(score: ScoreRow, threshold: float | None) -> bool | None:
    """The judge's pass/fail: as stored, else its value against the suite's threshold."""
    if score.error is not None:
        return None
    passed = (score.metadata or {}).get("passed")
    if isinstance(passed, bool):
        return passed
    if score.value is None or threshold is None:
        raise InvalidInput(
            f"the reviewers gave accept/reject, but judge {score.name!r} has no pass/fail "
            "(give its suite entry a threshold)"
        )
    return score.value >= threshold


def _position_bias(items: list[RunItemRecord], scorer: str) -> Interval | None:
    flags = [
        bool((s.metadata or {})["consistent"])
        for it in items
        if (s := it.score(scorer)) is not None and "consistent" in (s.metadata or {})
    ]
    return position_bias(flags) if flags else None


def _finish(
    scorer: str,
    run: RunRecord,
    items: list[RunItemRecord],
    source: str,
    raters: list[str],
    judge: list[Any],
    humans: list[list[Any]],
    *,
    seed: int,
) -> Calibration:
    level, j, hs, labels = _code(judge, humans, raters)
    result = agreement(j, hs, level=level, labels=labels, seed=seed)
    from loopstack.store._types import utcnow

    stamp: datetime = utcnow()
    return Calibration(
        scorer, run.id, source, raters, result, _position_bias(items, scorer), stamp.isoformat()
    )


def calibrate_from_dataset(
    scorer: str,
    dataset: str,
    human_column: str,
    *,
    human2_column: str | None = None,
    run_id: str | None = None,
    store: Store,
    project: str,
    seed: int = 0,
) -> Calibration:
    """Agreement of the judge's stored scores with the human labels in ``dataset``'s column(s)."""
    repo = RunRepository(store, project)
    run = _find_run(repo, scorer, run_id, dataset)
    items = [it for it in repo.items(run.id) if it.epoch == 0]
    rows = {it.key: it for it in _dataset_items(store, project, dataset)}
    columns = [human_column] + ([human2_column] if human2_column else [])
    for col in columns:
        if not any(_dataset_column(it, col)[0] for it in rows.values()):
            raise InvalidInput(f"dataset {dataset!r} has no column {col!r}")
    judge: list[Any] = []
    humans: list[list[Any]] = [[] for _ in columns]
    for it in items:
        s = it.score(scorer)
        row = rows.get(it.item_key)
        if s is None or row is None:
            continue
        judge.append(_judge_value(s))
        for i, col in enumerate(columns):
            humans[i].append(_dataset_column(row, col)[1])
    if not judge:
        raise InvalidInput(f"run {run.id} and dataset {dataset!r} share no items scored by {scorer!r}")
    source = f"dataset:{dataset}:{','.join(columns)}"
    return _finish(scorer, run, items, source, columns, judge, humans, seed=seed)


def calibrate_from_scores(
    scorer: str,
    *,
    human_score: str | None = None,
    run_id: str | None = None,
    store: Store,
    project: str,
    seed: int = 0,
) -> Calibration:
    """Agreement of the judge with ``human`` scores stored on the same run items (one rater per author)."""
    from loopstack.store.scores import ScoreRepository

    repo = RunRepository(store, project)
    run = _find_run(repo, scorer, run_id, None)
    items = [it for it in repo.items(run.id) if it.epoch == 0]
    name = human_score or scorer
    rows = ScoreRepository(store, project).run_scores(run.id, name, source="human")
    by_author: dict[str, dict[str, Any]] = {}
    for r in rows:  # oldest first: a reviewer's later judgement of an item replaces the earlier one
        value = r["string_value"] if r["string_value"] is not None else r["value"]
        if r["data_type"] == "boolean" and r["value"] is not None:
            value = bool(r["value"])
        by_author.setdefault(r["author"] or "anonymous", {})[r["run_item_id"]] = value
    if not by_author:
        raise InvalidInput(f"run {run.id} has no human scores named {name!r} (annotate it in a queue first)")
    raters = sorted(by_author, key=lambda a: (-len(by_author[a]), a))
    # Reviewers' accept/reject verdicts are compared with the judge's pass/fail at its threshold.
    verdicts = all(isinstance(v, bool) for labels in by_author.values() for v in labels.values())
    threshold = _suite_threshold(run, scorer)
    judge: list[Any] = []
    humans: list[list[Any]] = [[] for _ in raters]
    for it in items:
        s = it.score(scorer)
        if s is None or s.source == "human":
            continue
        judge.append(_judge_passed(s, threshold) if verdicts else _judge_value(s))
        for i, author in enumerate(raters):
            humans[i].append(by_author[author].get(it.id))
    return _finish(scorer, run, items, f"scores:{name}", raters, judge, humans, seed=seed)


def save_calibration(store: Store, project: str, calibration: Calibration) -> None:
    """Store ``calibration`` as the project's current calibration of its judge."""
    from loopstack.store.project_settings import ProjectSettingsRepository

    ProjectSettingsRepository(store, project).set(SETTING_PREFIX + calibration.scorer, calibration.to_dict())


def stored_calibration(store: Store, project: str, scorer: str) -> dict[str, Any] | None:
    """The stored calibration of ``scorer`` (its ``to_dict``), or None if it was never calibrated."""
    from loopstack.store.project_settings import ProjectSettingsRepository

    found = ProjectSettingsRepository(store, project).get(SETTING_PREFIX + scorer)
    return found if isinstance(found, dict) else None


__all__ = [
    "SETTING_PREFIX",
    "Calibration",
    "calibrate_from_dataset",
    "calibrate_from_scores",
    "save_calibration",
    "stored_calibration",
]
