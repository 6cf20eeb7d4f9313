"""Experiments: every run seen with its parameters, tags, note and metrics, searchable and sortable.

The parameters live on ``runs`` (prompt, version, model, dataset, git sha, config); tags and notes in
``run_tags`` / ``run_notes``; metrics in ``run_metrics``, which is derived from run_items + scores
(``evals/experiments.py`` recomputes a run's rows whenever its results are collected). A filter
(``store/_runfilter.py``) compiles to one portable query: parameters are column tests, tags and
metrics ``EXISTS`` probes on their primary keys, so a page of the runs table costs the same at a
thousand runs as at ten.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    delete,
    exists,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.sql import operators

from loopstack.errors import InvalidInput
from loopstack.store._repository import ProjectRepository
from loopstack.store._runfilter import Condition, TagTerm, Term, TextTerm, parse_filter
from loopstack.store._store import Store
from loopstack.store._types import utcnow
from loopstack.store.runs import RunRecord, RunRepository, _run_record
from loopstack.store.tables import (
    datasets,
    prompt_versions,
    prompts,
    run_metrics,
    run_notes,
    run_tags,
    runs,
    scores,
)

#: metrics every run has (kind ``run``), besides its scorers' means
RUN_METRICS = ("cost", "latency_ms", "errors", "items")
_PARAM_COLUMNS = {
    "model": runs.c.model,
    "prompt": runs.c.prompt_name,
    "suite": runs.c.suite,
    "status": runs.c.status,
    "git": runs.c.git_sha,
    "name": runs.c.name,
    "id": runs.c.id,
    "group": runs.c.group_id,
    "version": runs.c.prompt_version,
    "dataset_version": runs.c.dataset_version,
}
_SORT_PARAMS = {**_PARAM_COLUMNS, "created": runs.c.created_at}
_OPS = {
    "=": operators.eq,
    "!=": operators.ne,
    ">": operators.gt,
    ">=": operators.ge,
    "<": operators.lt,
    "<=": operators.le,
}
_TAG_CHARS = 100


@dataclass(frozen=True)
class Metric:
    """One metric of a run: a scorer's mean with its CI, or a run-level figure (``ci_*`` None)."""

    name: str
    kind: str
    mean: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int = 0
    errors: int = 0
    scorer_version: str | None = None


@dataclass(frozen=True)
class Experiment:
    """A run as an experiment: its record plus what the runs table shows and filters on."""

    run: RunRecord
    dataset_name: str | None = None
    content_hash: str | None = None
    tags: list[str] = field(default_factory=list)
    note: str | None = None
    metrics: dict[str, Metric] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return str(self.run.config.get("kind") or "eval")

    @property
    def params(self) -> dict[str, Any]:
        """The experiment's parameters, flat (what ``runs list`` prints and ``to_pandas`` holds)."""
        r = self.run
        return {
            "run_id": r.id,
            "kind": self.kind,
            "suite": r.suite,
            "status": r.status,
            "prompt": r.prompt_name,
            "version": r.prompt_version,
            "content_hash": self.content_hash,
            "model": r.model,
            "params": r.config.get("params") or {},
            "dataset": self.dataset_name or r.config.get("dataset"),
            "dataset_version": r.dataset_version,
            "scorer_versions": {m.name: m.scorer_version for m in self.metrics.values() if m.scorer_version},
            "git_sha": r.git_sha,
            "tags": self.tags,
            "note": self.note,
            "created_at": r.created_at,
        }

    def value(self, name: str) -> float | None:
        m = self.metrics.get(name)
        return None if m is None else m.mean


@dataclass(frozen=True)
class ExperimentPage:
    """One page of the runs table and how many runs match in all."""

    experiments: list[Experiment]
    total: int
    metric_names: list[str]


def _text_match(column: Any, op: str, value: str) -> ColumnElement[bool]:
    if op == "~":
        return func.lower(column).contains(value.lower(), autoescape=True)
    test: ColumnElement[bool] = _OPS[op](column, value)
    return test if op == "=" else or_(test, column.is_(None))


class ExperimentRepository(ProjectRepository):
    """Query runs as experiments; tag them, note them, and store their derived metrics."""

    def __init__(self, store: Store, project: str = "default") -> None:
        super().__init__(store, project)
        self.runs = RunRepository(store, project)

    # -- writing ------------------------------------------------------------------------------------

    def add_tag(self, run_id: str, tag: str) -> RunRecord:
        """Tag a run (idempotent); the run may be given by a unique id prefix."""
        tag = tag.strip()
        if not tag or len(tag) > _TAG_CHARS or any(c.isspace() for c in tag):
            raise InvalidInput(f"tag {tag!r}: give 1 to {_TAG_CHARS} characters with no spaces")
        run = self.runs.get(run_id)
        with self.store.write() as conn:
            held = conn.execute(
                select(run_tags.c.tag).where(run_tags.c.run_id == run.id, run_tags.c.tag == tag)
            ).first()
            if held is None:
                conn.execute(insert(run_tags).values(run_id=run.id, tag=tag, created_at=utcnow()))
        return run

    def remove_tag(self, run_id: str, tag: str) -> RunRecord:
        run = self.runs.get(run_id)
        with self.store.write() as conn:
            conn.execute(delete(run_tags).where(run_tags.c.run_id == run.id, run_tags.c.tag == tag))
        return run

    def set_note(self, run_id: str, note: str) -> RunRecord:
        """Replace the run's note; an empty note removes it."""
        run = self.runs.get(run_id)
        with self.store.write() as conn:
            conn.execute(delete(run_notes).where(run_notes.c.run_id == run.id))
            if note.strip():
                conn.execute(insert(run_notes).values(run_id=run.id, note=note.strip(), updated_at=utcnow()))
        return run

    def attribute_version(self, run_id: str, version: int) -> None:
        """Record that a draft run (prompt version 0) evaluated what is now ``version`` of its prompt."""
        with self.store.write() as conn:
            conn.execute(
                update(runs)
                .where(runs.c.id == run_id, runs.c.project_id == self.project_id, runs.c.prompt_version == 0)
                .values(prompt_version=version)
            )

    def save_metrics(self, run_id: str, metrics: Sequence[Metric]) -> None:
        """Replace the run's derived metrics with ``metrics`` in one transaction."""
        now = utcnow()
        rows = [
            {
                "run_id": run_id,
                "name": m.name[:200],
                "kind": m.kind,
                "mean": m.mean,
                "ci_low": m.ci_low,
                "ci_high": m.ci_high,
                "n": m.n,
                "errors": m.errors,
                "scorer_version": m.scorer_version,
                "updated_at": now,
            }
            for m in {m.name: m for m in metrics}.values()
        ]
        with self.store.write() as conn:
            conn.execute(delete(run_metrics).where(run_metrics.c.run_id == run_id))
            if rows:
                conn.execute(insert(run_metrics), rows)

    # -- reading ------------------------------------------------------------------------------------

    def scorer_versions(self, run_id: str) -> dict[str, str]:
        """Scorer name -> the version that judged the run's items (the first one seen)."""
        with self.store.read() as conn:
            rows = conn.execute(
                select(scores.c.name, func.min(scores.c.scorer_version))
                .where(scores.c.run_id == run_id, scores.c.scorer_version.is_not(None))
                .group_by(scores.c.name)
            ).all()
        return {name: version for name, version in rows}

    def without_metrics(self, *, limit: int = 500) -> list[RunRecord]:
        """Finished runs that have no derived metrics yet (stored before experiment tracking)."""
        has = exists().where(run_metrics.c.run_id == runs.c.id)
        query = (
            select(runs)
            .where(runs.c.project_id == self.project_id, runs.c.status != "running", ~has)
            .order_by(runs.c.created_at)
            .limit(limit)
        )
        with self.store.read() as conn:
            return [_run_record(r) for r in conn.execute(query)]

    def metric_names(self) -> list[str]:
        """Every metric some run of the project has, scorers first, then the run-level ones."""
        query = (
            select(run_metrics.c.name, run_metrics.c.kind)
            .join(runs, runs.c.id == run_metrics.c.run_id)
            .where(runs.c.project_id == self.project_id)
            .distinct()
        )
        with self.store.read() as conn:
            rows = conn.execute(query).all()
        scored = sorted(n for n, k in rows if k == "score")
        return scored + [n for n in RUN_METRICS if any(n == r for r, _ in rows)]

    def _where(self, terms: Sequence[Term], known: Sequence[str]) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = [runs.c.project_id == self.project_id]
        for t in terms:
            if isinstance(t, TagTerm):
                where.append(exists().where(run_tags.c.run_id == runs.c.id, run_tags.c.tag == t.tag))
            elif isinstance(t, TextTerm):
                where.append(
                    or_(
                        *(
                            func.lower(c).contains(t.text.lower(), autoescape=True)
                            for c in (runs.c.name, runs.c.suite, runs.c.prompt_name, runs.c.model)
                        ),
                        runs.c.id.startswith(t.text, autoescape=True),
                    )
                )
            else:
                where.append(self._condition(t, known))
        return where

    def _condition(self, c: Condition, known: Sequence[str]) -> ColumnElement[bool]:
        if not c.param:
            if known and c.key not in known:
                names = ", ".join(known)
                raise InvalidInput(f"filter: no run has a metric {c.key!r} (metrics: {names})")
            return exists().where(
                run_metrics.c.run_id == runs.c.id,
                run_metrics.c.name == c.key,
                _OPS[c.op](run_metrics.c.mean, c.value),
            )
        if c.key == "dataset":
            named = select(datasets.c.id).where(_text_match(datasets.c.name, c.op, str(c.value)))
            if c.op == "=":
                return runs.c.dataset_id.in_(named)
            return or_(runs.c.dataset_id.is_(None), runs.c.dataset_id.in_(named))
        if c.key == "note":
            return exists().where(
                run_notes.c.run_id == runs.c.id, _text_match(run_notes.c.note, c.op, str(c.value))
            )
        if c.key == "hash":
            hashed = (
                select(literal(1))
                .select_from(prompt_versions.join(prompts, prompts.c.id == prompt_versions.c.prompt_id))
                .where(
                    prompts.c.project_id == runs.c.project_id,
                    prompts.c.name == runs.c.prompt_name,
                    prompt_versions.c.version == runs.c.prompt_version,
                    prompt_versions.c.content_hash.startswith(str(c.value), autoescape=True),
                )
            )
            found = hashed.exists()
            return found if c.op != "!=" else ~found
        if c.key == "kind":  # kept in the run's config; a run without one is an eval
            kind = func.coalesce(runs.c.config["kind"].as_string(), "eval")
            return _text_match(kind, c.op, str(c.value))
        column = _PARAM_COLUMNS[c.key]
        if c.key == "git" and c.op == "=":
            return column.startswith(str(c.value), autoescape=True)
        if isinstance(c.value, str):
            return _text_match(column, c.op, c.value)
        return and_(column.is_not(None), _OPS[c.op](column, c.value))

    def query(
        self,
        expr: str = "",
        *,
        sort: str = "created",
        desc: bool = True,
        limit: int = 50,
        offset: int = 0,
    ) -> ExperimentPage:
        """Runs matching the filter ``expr``, sorted by a parameter or metric (runs without it last)."""
        terms = parse_filter(expr)
        known = self.metric_names()
        where = self._where(terms, known)
        query = select(runs).where(*where)
        tiebreak = [runs.c.created_at.desc(), runs.c.id]
        if sort in _SORT_PARAMS:
            col = _SORT_PARAMS[sort]
            order = [col.is_(None), col.desc() if desc else col.asc(), *tiebreak]
        elif sort in known or sort in RUN_METRICS:
            m = run_metrics.alias("sort_metric")
            query = query.outerjoin(m, and_(m.c.run_id == runs.c.id, m.c.name == sort))
            order = [m.c.mean.is_(None), m.c.mean.desc() if desc else m.c.mean.asc(), *tiebreak]
        else:
            choices = ", ".join([*_SORT_PARAMS, *known])
            raise InvalidInput(f"sort: {sort!r} is neither a parameter nor a metric ({choices})")
        with self.store.read() as conn:
            total = conn.execute(select(func.count()).select_from(runs).where(*where)).scalar_one()
            rows = conn.execute(query.order_by(*order).limit(limit).offset(offset)).all()
        found = self._experiments([_run_record(r) for r in rows])
        return ExperimentPage(found, int(total), known)

    def get(self, run_id: str) -> Experiment:
        return self._experiments([self.runs.get(run_id)])[0]

    def many(self, run_ids: Sequence[str]) -> list[Experiment]:
        """The experiments for these run ids (or unique prefixes), in the order given."""
        return self._experiments([self.runs.get(r) for r in run_ids])

    def for_prompt_version(self, name: str, version: int, *, limit: int = 200) -> list[Experiment]:
        """Every run that evaluated ``name`` at ``version``, newest first."""
        return self.query(f"prompt={_quote(name)} version={int(version)}", limit=limit).experiments

    def _experiments(self, records: list[RunRecord]) -> list[Experiment]:
        if not records:
            return []
        ids = [r.id for r in records]
        tags: dict[str, list[str]] = defaultdict(list)
        metrics: dict[str, dict[str, Metric]] = defaultdict(dict)
        with self.store.read() as conn:
            for run_id, tag in conn.execute(
                select(run_tags.c.run_id, run_tags.c.tag)
                .where(run_tags.c.run_id.in_(ids))
                .order_by(run_tags.c.tag)
            ):
                tags[run_id].append(tag)
            notes = dict(
                conn.execute(
                    select(run_notes.c.run_id, run_notes.c.note).where(run_notes.c.run_id.in_(ids))
                ).all()
            )
            for row in conn.execute(select(run_metrics).where(run_metrics.c.run_id.in_(ids))):
                m = row._mapping
                metrics[m["run_id"]][m["name"]] = Metric(
                    m["name"],
                    m["kind"],
                    m["mean"],
                    m["ci_low"],
                    m["ci_high"],
                    m["n"],
                    m["errors"],
                    m["scorer_version"],
                )
            dataset_ids = {r.dataset_id for r in records if r.dataset_id}
            names = (
                dict(
                    conn.execute(
                        select(datasets.c.id, datasets.c.name).where(datasets.c.id.in_(dataset_ids))
                    ).all()
                )
                if dataset_ids
                else {}
            )
            wanted = {
                (r.prompt_name, r.prompt_version) for r in records if r.prompt_name and r.prompt_version
            }
            hashes: dict[tuple[str, int], str] = {}
            if wanted:
                for pname, version, chash in conn.execute(
                    select(prompts.c.name, prompt_versions.c.version, prompt_versions.c.content_hash)
                    .join(prompts, prompts.c.id == prompt_versions.c.prompt_id)
                    .where(
                        prompts.c.project_id == self.project_id,
                        prompts.c.name.in_({n for n, _ in wanted}),
                        prompt_versions.c.version.in_({v for _, v in wanted}) if wanted else false(),
                    )
                ):
                    hashes[(pname, version)] = chash
        return [
            Experiment(
                run=r,
                dataset_name=names.get(r.dataset_id or ""),
                content_hash=hashes.get((r.prompt_name or "", r.prompt_version or 0)),
                tags=tags.get(r.id, []),
                note=notes.get(r.id),
                metrics=metrics.get(r.id, {}),
            )
            for r in records
        ]


def _quote(value: str) -> str:
    return f'"{value}"' if any(c.isspace() for c in value) or not value else value
