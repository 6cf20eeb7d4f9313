"""What an eval produced, recomputed from the stored per-item rows: per-scorer estimates with CIs,
threshold checks, and paired comparisons of candidate runs against their baseline."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from loopstack.errors import NotFound
from loopstack.evals.scorers import scorer_spec
from loopstack.evals.stats import Estimate, PairedComparison, Verdict, estimate, verdict
from loopstack.store.runs import RunItemRecord, RunRecord


@dataclass(frozen=True)
class ThresholdCheck:
    """A suite threshold on one scorer: ``on`` (the mean, or with ``ci_low`` the pessimistic CI bound)
    must be at least ``threshold`` — at most, for a scorer where lower is better (TER, latency, cost)."""

    score: str
    threshold: float
    on: str
    value: float
    passed: bool
    higher_is_better: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "threshold": self.threshold,
            "on": self.on,
            "value": None if math.isnan(self.value) else self.value,
            "passed": self.passed,
            "higher_is_better": self.higher_is_better,
        }


@dataclass(frozen=True)
class ScoreSummary:
    """One scorer over one run: the estimate, how many items errored, and its threshold check."""

    name: str
    estimate: Estimate
    errors: int
    threshold: ThresholdCheck | None = None

    @property
    def mean(self) -> float:
        return self.estimate.mean

    @property
    def ci_low(self) -> float:
        return self.estimate.ci_low

    @property
    def ci_high(self) -> float:
        return self.estimate.ci_high

    @property
    def n(self) -> int:
        return self.estimate.n

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            **self.estimate.to_dict(),
            "errors": self.errors,
            "threshold": self.threshold.to_dict() if self.threshold else None,
        }


@dataclass
class RunSummary:
    """A run with its per-scorer summaries and run-level metrics (e.g. macro-F1)."""

    run: RunRecord
    n_items: int
    n_errors: int
    cost: float
    scores: dict[str, ScoreSummary] = field(default_factory=dict)
    metrics: dict[str, float | None] = field(default_factory=dict)
    mean_latency_ms: float | None = None
    n_errored: int = 0
    """Items with an error of their own or on any scorer (the gate's error rate counts these)."""
    error_causes: dict[str, tuple[int, str]] = field(default_factory=dict)
    """Cause (exception name, or ``scorer NAME``) -> (items, the first message)."""

    @property
    def error_rate(self) -> float:
        return self.n_errored / self.n_items if self.n_items else 0.0

    def __getitem__(self, name: str) -> ScoreSummary:
        try:
            return self.scores[name]
        except KeyError:
            known = ", ".join(self.scores) or "none"
            raise KeyError(f"no scorer {name!r} in run {self.run.label} (scorers: {known})") from None

    def to_dict(self) -> dict[str, Any]:
        r = self.run
        return {
            "run_id": r.id,
            "group_id": r.group_id,
            "status": r.status,
            "prompt": r.prompt_name,
            "prompt_version": r.prompt_version,
            "model": r.model,
            "dataset_id": r.dataset_id,
            "dataset_version": r.dataset_version,
            "git_sha": r.git_sha,
            "n_items": self.n_items,
            "n_errors": self.n_errors,
            "cost": self.cost,
            "mean_latency_ms": self.mean_latency_ms,
            "n_errored": self.n_errored,
            "error_rate": self.error_rate,
            "errors": [
                {"cause": cause, "count": count, "first_message": message}
                for cause, (count, message) in self.error_causes.items()
            ],
            "scores": {k: v.to_dict() for k, v in self.scores.items()},
            "metrics": self.metrics,
        }


@dataclass
class RunComparison:
    """A candidate run against its baseline, paired on the items both scored, per scorer."""

    baseline: RunRecord
    candidate: RunRecord
    scores: dict[str, PairedComparison] = field(default_factory=dict)
    directions: dict[str, bool] = field(default_factory=dict)
    """Scorer name -> higher is better (see ``score_direction``)."""

    def higher_is_better(self, name: str) -> bool:
        return score_direction(name, self.directions)

    def adjusted_p(self, correction: str = "holm") -> dict[str, float]:
        """Scorer -> p-value adjusted for the family of scorers that can back a verdict (``holm``
        controls the family-wise error rate under any dependence; ``bonferroni``; ``none``)."""
        family = [
            n for n, c in self.scores.items() if c.n > 0 and c.withheld is None and c.p_value == c.p_value
        ]
        raw = [self.scores[n].p_value for n in family]
        if correction not in CORRECTIONS:
            raise ValueError(f"correction must be one of {', '.join(CORRECTIONS)}, not {correction!r}")
        from loopstack.evals.stats import bonferroni, holm  # numpy: loaded when runs are compared

        adjusted = (
            holm(raw) if correction == "holm" else bonferroni(raw) if correction == "bonferroni" else raw
        )
        return dict(zip(family, adjusted, strict=True))

    def verdict(self, name: str, correction: str | None = None) -> Verdict:
        """The verdict for the user on ``name`` (direction-aware); with ``correction``, significance
        is judged on the family-wise adjusted p-value, as the gate does."""
        p_adj = self.adjusted_p(correction).get(name) if correction else None
        return verdict(self.scores[name], self.higher_is_better(name), p_adjusted=p_adj)

    def regressions_under(self, correction: str = "holm") -> list[str]:
        """Scorers significantly worse for the user after the family-wise ``correction``."""
        return [n for n in self.scores if self.verdict(n, correction) == "worse"]

    @property
    def regressions(self) -> list[str]:
        """Scorers significantly worse for the user, Holm-adjusted across the scorers (the gate's rule)."""
        return self.regressions_under(DEFAULT_CORRECTION)

    @property
    def withheld(self) -> list[str]:
        """Scorers on which no verdict can be backed (too few items, too few changed, one cluster)."""
        return [n for n, c in self.scores.items() if c.n > 0 and c.withheld is not None]

    def to_dict(self) -> dict[str, Any]:
        return {
            "baseline_run": self.baseline.id,
            "baseline": self.baseline.label,
            "candidate_run": self.candidate.id,
            "candidate": self.candidate.label,
            "scores": {
                k: {**v.to_dict(), "verdict": self.verdict(k), "higher_is_better": self.higher_is_better(k)}
                for k, v in self.scores.items()
            },
            "regressions": self.regressions,
            "correction": DEFAULT_CORRECTION,
            "p_adjusted": self.adjusted_p(DEFAULT_CORRECTION),
        }


#: Family-wise corrections the gate offers across a comparison's scorers (docs/ci.md).
CORRECTIONS = ("holm", "bonferroni", "none")
DEFAULT_CORRECTION = "holm"


def score_values(items: list[RunItemRecord]) -> dict[str, dict[str, list[float | None]]]:
    """scorer name -> item key -> per-epoch numeric values (None for an errored item or score)."""
    names = sorted({s.name for it in items for s in it.scores})
    out: dict[str, dict[str, list[float | None]]] = {n: defaultdict(list) for n in names}
    for it in items:
        for name in names:
            s = it.score(name)
            value = None if (s is None or s.error is not None) else s.value
            out[name][it.item_key].append(value)
    return out


def scorer_directions(run: RunRecord) -> dict[str, bool]:
    """Scorer name (as the suite names it) -> whether higher values are better, from the registry."""
    out: dict[str, bool] = {}
    for spec in (run.config.get("suite") or {}).get("scorers") or []:
        try:
            out[spec.get("name") or spec["scorer"]] = scorer_spec(spec["scorer"]).higher_is_better
        except NotFound:  # a scorer of a plugin that is not installed here: assume the usual
            continue
    return out


def score_direction(score_name: str, directions: dict[str, bool]) -> bool:
    """Whether higher is better for ``score_name``; a part (``fields.topic``) follows its scorer."""
    name = score_name
    while name not in directions:
        if "." not in name:
            return True
        name = name.rsplit(".", 1)[0]
    return directions[name]


def clusters_of(items: list[RunItemRecord]) -> dict[str, str | None] | None:
    """Item key -> cluster key, or None when no item has one (independent items)."""
    if all(it.cluster is None for it in items):
        return None
    return {it.item_key: it.cluster for it in items}


def _thresholds(run: RunRecord) -> dict[str, tuple[float, str]]:
    out: dict[str, tuple[float, str]] = {}
    for spec in (run.config.get("suite") or {}).get("scorers") or []:
        if spec.get("threshold") is not None:
            name = spec.get("name") or spec["scorer"]
            out[name] = (float(spec["threshold"]), spec.get("threshold_on") or "mean")
    return out


def _error_causes(items: list[RunItemRecord]) -> tuple[int, dict[str, tuple[int, str]]]:
    """(items with any error, cause -> (count, first message)). An item error's cause is its
    exception name (the text before the first colon); a scorer error is ``scorer NAME``."""
    causes: dict[str, tuple[int, str]] = {}
    errored = 0

    def add(cause: str, message: str) -> None:
        count, first = causes.get(cause, (0, message))
        causes[cause] = (count + 1, first)

    for it in items:
        failed = False
        if it.error is not None:
            head = it.error.split(":", 1)[0].strip()
            add(head if head and " " not in head and len(head) < 60 else "error", it.error)
            failed = True
        else:
            for s in it.scores:
                if s.error is not None:
                    add(f"scorer {s.name}", s.error)
                    failed = True
        errored += failed
    return errored, causes


def summarize(run: RunRecord, items: list[RunItemRecord], metrics: dict[str, float | None]) -> RunSummary:
    """Per-scorer estimates for one run from its stored items."""
    thresholds = _thresholds(run)
    errors = sum(1 for it in items if it.error is not None)
    errored, causes = _error_causes(items)
    latencies = [it.latency_ms for it in items if it.latency_ms is not None and not it.cached]
    summary = RunSummary(
        run=run,
        n_items=len(items),
        n_errors=errors,
        cost=sum(it.cost or 0.0 for it in items),
        metrics=metrics,
        mean_latency_ms=sum(latencies) / len(latencies) if latencies else None,
        n_errored=errored,
        error_causes=causes,
    )
    directions = scorer_directions(run)
    clusters = clusters_of(items)
    for name, values in score_values(items).items():
        est = estimate(values, clusters=clusters)
        n_err = sum(1 for vs in values.values() for v in vs if v is None)
        check = None
        if name in thresholds:
            limit, on = thresholds[name]
            higher = score_direction(name, directions)
            # ci_low means the pessimistic bound: the low end, or the high end of a cost
            pessimistic = est.ci_low if higher else est.ci_high
            value = pessimistic if on == "ci_low" else est.mean
            ok = not math.isnan(value) and (value >= limit if higher else value <= limit)
            check = ThresholdCheck(name, limit, on, value, ok, higher)
        summary.scores[name] = ScoreSummary(name, est, n_err, check)
    for name, (limit, on) in thresholds.items():
        if name not in summary.scores:  # no item was ever scored: the threshold cannot be met
            nan = float("nan")
            est = Estimate(nan, nan, nan, 0, "none")
            summary.scores[name] = ScoreSummary(
                name,
                est,
                errors,
                ThresholdCheck(name, limit, on, nan, False, score_direction(name, directions)),
            )
    return summary


def compare(
    baseline: RunRecord,
    base_items: list[RunItemRecord],
    candidate: RunRecord,
    cand_items: list[RunItemRecord],
) -> RunComparison:
    """Paired comparison of two runs on every scorer they share."""
    from loopstack.evals.stats import paired_comparison

    bv = score_values(base_items)
    cv = score_values(cand_items)
    out = RunComparison(baseline, candidate, directions=scorer_directions(candidate))
    clusters = clusters_of(cand_items)
    for name in bv:
        if name in cv:
            out.scores[name] = paired_comparison(bv[name], cv[name], clusters=clusters)
    return out


#: Exit codes of ``loopstack eval`` (documented in docs/ci.md).
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_FAILED = 2
EXIT_ERRORS = 3
EXIT_INTERRUPTED = 130


@dataclass
class EvalResult:
    """Everything one suite invocation produced: a summary per run and the paired comparisons.

    ``result["accuracy"]`` is the accuracy summary when the suite ran one prompt on one model; with a
    matrix, pick a run first: ``result.run("triage@2")["accuracy"]``.
    """

    suite: str
    group_id: str
    runs: list[RunSummary]
    comparisons: list[RunComparison]
    baseline_label: str | None = None
    interrupted: bool = False
    judge_calibrations: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Judge score name -> its stored calibration against human labels (``calibration_notes.summary``)."""

    def __getitem__(self, name: str) -> ScoreSummary:
        if len(self.runs) == 1:
            return self.runs[0][name]
        candidates = [r for r in self.runs if r.run.config.get("role") != "baseline"]
        if len(candidates) == 1:
            return candidates[0][name]
        labels = ", ".join(r.run.label for r in self.runs)
        raise KeyError(f"this suite ran {len(self.runs)} runs ({labels}); use result.run(REF)[{name!r}]")

    def run(self, ref: str) -> RunSummary:
        """The run whose ``prompt@version``, ``prompt@label`` (as the suite named it), model,
        ``prompt@version · model`` or id is ``ref``."""
        for r in self.runs:
            rec = r.run
            label = (rec.config.get("prompt") or {}).get("label")
            names = {rec.id, rec.label, rec.model, f"{rec.prompt_name}@{rec.prompt_version}"}
            if label:
                names.add(f"{rec.prompt_name}@{label}")
            if ref in names:
                return r
        raise KeyError(f"no run {ref!r} in this result (runs: {', '.join(r.run.label for r in self.runs)})")

    @property
    def regressions(self) -> list[tuple[RunComparison, str]]:
        """(comparison, scorer) pairs whose paired difference is significantly negative."""
        return [(c, name) for c in self.comparisons for name in c.regressions]

    @property
    def failed_thresholds(self) -> list[tuple[RunSummary, ThresholdCheck]]:
        """Threshold checks that failed, on candidate runs (a baseline's own thresholds don't gate)."""
        out: list[tuple[RunSummary, ThresholdCheck]] = []
        for r in self.runs:
            if r.run.config.get("role") == "baseline" and len(self.runs) > 1:
                continue
            out.extend((r, s.threshold) for s in r.scores.values() if s.threshold and not s.threshold.passed)
        return out

    def exit_code(
        self,
        *,
        fail_on_regression: bool = False,
        max_error_rate: float = 0.0,
        correction: str = DEFAULT_CORRECTION,
    ) -> int:
        """The exit code of ``loopstack.evals.gate.gate`` (the one place the verdict is computed):
        0 pass; 2 a threshold failed (or, when asked, a significant regression); 3 too many items
        errored; 130 interrupted."""
        from loopstack.evals.gate import gate

        return gate(
            self, fail_on_regression=fail_on_regression, max_error_rate=max_error_rate, correction=correction
        ).exit_code

    def to_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "group_id": self.group_id,
            "baseline_label": self.baseline_label,
            "interrupted": self.interrupted,
            "runs": [r.to_dict() for r in self.runs],
            "comparisons": [c.to_dict() for c in self.comparisons],
            "regressions": [{"candidate_run": c.candidate.id, "score": name} for c, name in self.regressions],
            "failed_thresholds": [{"run_id": r.run.id, **t.to_dict()} for r, t in self.failed_thresholds],
            "judge_calibrations": self.judge_calibrations,
        }
