"""Curate: production model calls with their feedback → dataset items with source links and frozen splits.

The pipeline, in order (``--dry-run`` prints the count after each step):

1. span filters (store/curation.py): model calls in a time window, prompt name/version, model,
   session, user, text, feedback, score range;
2. items: the input is the prompt's template variables when the call recorded them (else the span's
   input), the expected output is the newest human correction, else the output when it was accepted
   (thumbs-up / accept and never rejected), else nothing (left for a teacher to label);
3. items already in the dataset (same source span) and exact duplicates of an input already kept or
   already in the dataset are dropped — an item with a correction is preferred over an accepted one,
   then the newest;
4. sampling: a seeded share of what is left (by a hash of the span id, so it is stable);
5. near duplicates (all-MiniLM-L6-v2 cosine ≥ the threshold) of an item kept or in the dataset are
   dropped, walking items with a correction first, then accepted ones, then the rest (each group in a
   seeded random order) until ``limit`` items are kept — so a limit takes labelled items first;
6. the new items get frozen splits (``_splits``) and are added as one new dataset version.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from loopstack._inputs import parse_time
from loopstack.errors import InvalidInput
from loopstack.flywheel._dedupe import exact_key, near_unique, without_exact
from loopstack.flywheel._items import span_item
from loopstack.flywheel._splits import DEFAULT_SPLITS, assign_splits, check_splits, label_of
from loopstack.flywheel.chat import render_user
from loopstack.store import Store, get_store
from loopstack.store.curation import CurationRepository, SpanCriteria
from loopstack.store.datasets import DatasetItem, DatasetRepository
from loopstack.store.tracelist import TraceFilters

#: Default cosine similarity at or above which two inputs are near duplicates.
DEFAULT_DEDUPE_THRESHOLD = 0.95


@dataclass
class CurationReport:
    """What a curation did (or, in a dry run, would do): counts per step and the new items."""

    dataset: str
    steps: list[tuple[str, int]]
    """``(step, items left after it)`` in pipeline order."""
    items: list[DatasetItem]
    """The new items (with their splits), as added or as they would be added."""
    dry_run: bool
    version: int | None = None
    """The dataset version the items were added in (None in a dry run or when nothing was new)."""
    splits: dict[str, int] = field(default_factory=dict)
    """New items per split."""
    expected_from: dict[str, int] = field(default_factory=dict)
    """New items per source of the expected output: correction, accepted, none."""

    @property
    def added(self) -> int:
        return len(self.items)


def _when(value: datetime | str | None, name: str) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    try:
        return parse_time(value, name)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


def span_criteria(
    *,
    start: datetime | str | None = None,
    end: datetime | str | None = None,
    prompt: str | None = None,
    model: str | None = None,
    session: str | None = None,
    user: str | None = None,
    text: str | None = None,
    feedback: str | None = None,
    score: str | None = None,
    score_min: float | None = None,
    score_max: float | None = None,
    environment: str | None = None,
    status: str | None = None,
) -> SpanCriteria:
    """The span filters of ``curate`` checked and parsed (``prompt`` is ``name`` or ``name@version``)."""
    from loopstack.store.curation import FEEDBACK_FILTERS
    from loopstack.store.environments import check_environment

    name, version = None, None
    if prompt:
        name, _, v = prompt.partition("@")
        if v:
            digits = v[1:] if v[:1] in ("v", "V") else v
            if not digits.isdigit():
                raise InvalidInput(f"prompt filter {prompt!r}: the part after @ is a version number")
            version = int(digits)
    if feedback is not None and feedback not in FEEDBACK_FILTERS:
        raise InvalidInput(f"feedback filter {feedback!r}: use one of {', '.join(FEEDBACK_FILTERS)}")
    if score_min is not None and score_max is not None and score_min > score_max:
        raise InvalidInput(f"score range: the minimum {score_min:g} is above the maximum {score_max:g}")
    env = check_environment(environment)
    if status not in (None, "error", "ok"):
        raise InvalidInput(f"status filter {status!r}: use error or ok")
    return SpanCriteria(
        start=_when(start, "start"),
        end=_when(end, "end"),
        prompt_name=name or None,
        prompt_version=version,
        model=model,
        session_id=session,
        user_id=user,
        text=text,
        feedback=feedback,  # type: ignore[arg-type]
        score_name=score,
        score_min=score_min,
        score_max=score_max,
        environment=env,
        status=status,
    )


def criteria_from_trace_filters(filters: TraceFilters) -> SpanCriteria:
    """The curation filter for what the UI's trace list shows: the same time window, model, prompt,
    session, user, status, text and environment, applied to the model calls themselves; "negative
    feedback" is ``feedback="negative"`` and "score below x" a score range up to x."""
    name, _, version = (filters.prompt or "").partition("@")
    return SpanCriteria(
        start=filters.start,
        end=filters.end,
        prompt_name=name or None,
        prompt_version=int(version) if version.isdigit() else None,
        model=filters.model,
        session_id=filters.session,
        user_id=filters.user,
        text=filters.text,
        feedback="negative" if filters.negative else None,
        score_name=filters.score_name if filters.score_below is not None else None,
        score_max=filters.score_below,
        environment=filters.environment,
        status=filters.status,
    )


def _hash(seed: int, key: str) -> float:
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


_PREFERENCE = {"correction": 0, "accepted": 1, "none": 2}


def curate(
    dataset: str,
    *,
    criteria: SpanCriteria | None = None,
    sample: float | None = None,
    limit: int | None = None,
    seed: int = 0,
    dedupe_threshold: float | None = DEFAULT_DEDUPE_THRESHOLD,
    splits: Mapping[str, float] | None = DEFAULT_SPLITS,
    stratify: str | None = None,
    dry_run: bool = False,
    description: str | None = None,
    store: Store | None = None,
    project: str | None = None,
) -> CurationReport:
    """Add the production model calls ``criteria`` selects to dataset ``dataset`` (created if new).

    ``criteria`` comes from :func:`span_criteria` (time, prompt, model, feedback, score range, text,
    session, user). ``sample`` keeps that seeded share of the candidates; ``limit`` adds at most that
    many (those with a human answer first); ``dedupe_threshold`` is the cosine similarity of near
    duplicates (None: exact duplicates only); ``splits`` the target shares (None: no splits) and
    ``stratify`` the label field they are stratified by (in the expected output, else the input).
    Each item keeps its source trace and span; items already in the dataset keep their splits.
    ``dry_run`` computes everything and writes nothing. An empty filter result is an error that says
    where the count fell to 0.
    """
    from loopstack.config import get_settings

    store = store or get_store()
    project = project or get_settings().project
    criteria = criteria or SpanCriteria()
    if sample is not None and not 0 < sample <= 1:
        raise InvalidInput(f"--sample {sample:g}: give a share in (0, 1]")
    if limit is not None and limit < 1:
        raise InvalidInput(f"--limit {limit}: give a positive number")
    if dedupe_threshold is not None and not 0 < dedupe_threshold <= 1:
        raise InvalidInput(f"--dedupe-threshold {dedupe_threshold:g}: give a cosine similarity in (0, 1]")
    shares = check_splits(splits) if splits is not None else None

    repo = CurationRepository(store, project)
    steps = repo.step_counts(criteria)
    if steps[-1][1] == 0:
        trail = " → ".join(f"{label} {n}" for label, n in steps)
        raise InvalidInput(f"no spans match these filters ({trail}); widen them")

    datasets = DatasetRepository(store, project)
    existing = datasets.items(dataset) if datasets.exists(dataset) and datasets.get(dataset).version else []
    existing_keys = {i.key for i in existing}
    candidates = [span_item(row) for row in repo.spans(criteria)]
    fresh = [c for c in candidates if c.item.key not in existing_keys]
    steps.append(("not already in the dataset", len(fresh)))

    fresh.sort(key=lambda c: (_PREFERENCE[c.expected_from], -c.started.timestamp()))
    seen = {exact_key(i.input) for i in existing}
    fresh = list(without_exact(fresh, lambda c: exact_key(c.item.input), seen))
    steps.append(("without exact duplicates", len(fresh)))

    if sample is not None:
        fresh = [c for c in fresh if _hash(seed, c.item.key) < sample]
        steps.append((f"sampled {sample:.0%} (seed {seed})", len(fresh)))

    # Items with a human answer first (a correction, then an accepted output), each group in a seeded
    # random order: of near duplicates the labelled one is kept, and a limit takes labelled items first.
    fresh.sort(key=lambda c: (_PREFERENCE[c.expected_from], _hash(seed + 1, c.item.key)))
    if dedupe_threshold is not None and fresh:
        fresh, _ = near_unique(
            fresh,
            lambda c: render_user(c.item.input),
            threshold=dedupe_threshold,
            existing=[render_user(i.input) for i in existing],
            limit=limit,
        )
        steps.append((f"without near duplicates (cosine ≥ {dedupe_threshold:g})", len(fresh)))
    if limit is not None and len(fresh) > limit:
        fresh = fresh[:limit]
    if limit is not None:
        steps.append((f"limit {limit}", len(fresh)))

    items = [c.item for c in sorted(fresh, key=lambda c: (c.started, c.item.key))]
    if shares is not None and items:
        chosen = assign_splits(
            [(i.key, label_of(i.input, i.expected, stratify) if stratify else None) for i in items],
            [(i.split, label_of(i.input, i.expected, stratify) if stratify else None) for i in existing],
            shares,
            seed=seed,
        )
        items = [replace(i, split=chosen[i.key]) for i in items]
    report = CurationReport(dataset=dataset, steps=steps, items=items, dry_run=dry_run)
    for c in fresh:
        report.expected_from[c.expected_from] = report.expected_from.get(c.expected_from, 0) + 1
    for i in items:
        if i.split is not None:
            report.splits[i.split] = report.splits.get(i.split, 0) + 1
    if not dry_run and items:
        report.version = datasets.push(dataset, items, description=description, replace=False).version
    return report


def format_report(report: CurationReport) -> list[str]:
    """The report as lines for a terminal: counts per step, then what was (or would be) added."""
    width = max(len(label) for label, _ in report.steps)
    lines = [f"  {label:<{width}}  {n:>8,}" for label, n in report.steps]
    verb = "would add" if report.dry_run else "added"
    where = f" (v{report.version})" if report.version is not None else ""
    detail = ", ".join(f"{k} {v}" for k, v in sorted(report.splits.items()))
    sources = ", ".join(f"{k} {v}" for k, v in sorted(report.expected_from.items()))
    lines.append(
        f"{report.dataset}{where}: {verb} {report.added} items"
        + (f"; splits: {detail}" if detail else "")
        + (f"; expected output from: {sources}" if sources else "")
    )
    return lines


__all__ = [
    "DEFAULT_DEDUPE_THRESHOLD",
    "CurationReport",
    "criteria_from_trace_filters",
    "curate",
    "format_report",
    "span_criteria",
]
