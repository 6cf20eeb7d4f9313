"""Student vs teacher on the held-out split: quality, agreement, tokens, latency, cost, and a verdict.

Both sides run through the eval runner (so their answers, scores and spans are ordinary stored runs),
one after the other so neither's latency includes the other's load. Quality is a paired comparison on
the eval's own statistics (``stats.paired_comparison`` over the ``json_field_match`` scores: each
item's fields as pass/fail, clustered by item), and the question a team asks —
is the student *not worse* than the teacher by more than δ? — is answered by ``non_inferiority``, the
one function every surface renders: the lower bound of the paired 95% CI must clear ``-δ``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from loopstack.errors import InvalidInput
from loopstack.evals.stats import PairedComparison
from loopstack.store import Store, get_store

NonInferiorityVerdict = Literal[
    "non-inferior", "inferior", "inconclusive", "cannot back a verdict", "no paired items"
]
QUALITY = "fields"
STUDENT_MAX_TOKENS = 64


@dataclass(frozen=True)
class NonInferiority:
    """The verdict, the margin and the interval it was read from, and the reason in words."""

    verdict: NonInferiorityVerdict
    margin: float
    diff: float
    ci_low: float
    ci_high: float
    reason: str

    @property
    def passed(self) -> bool:
        return self.verdict == "non-inferior"

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "passed": self.passed}


def non_inferiority(paired: PairedComparison, margin: float) -> NonInferiority:
    """Student (candidate) vs teacher (baseline): ``non-inferior`` when the paired CI's lower bound is
    above ``-margin``; ``inferior`` when its upper bound is below ``-margin``; else ``inconclusive``.
    No verdict where the paired statistics withhold one (too few items or changed items)."""
    if margin < 0:
        raise InvalidInput(f"--margin must be >= 0 (got {margin})")
    d, lo, hi = paired.mean_diff, paired.ci_low, paired.ci_high
    if paired.n == 0:
        return NonInferiority("no paired items", margin, d, lo, hi, "no item was scored on both sides")
    if paired.withheld is not None or math.isnan(lo):
        return NonInferiority("cannot back a verdict", margin, d, lo, hi, paired.withheld or "no interval")
    ci = f"difference {d:+.3f}, 95% CI [{lo:+.3f}, {hi:+.3f}]"
    if lo > -margin:
        extra = "; it is also significantly better" if lo > 0 else ""
        return NonInferiority(
            "non-inferior", margin, d, lo, hi, f"{ci}: the lower bound is above -{margin:g}{extra}"
        )
    if hi < -margin:
        return NonInferiority(
            "inferior", margin, d, lo, hi, f"{ci}: even the upper bound is below -{margin:g}"
        )
    return NonInferiority("inconclusive", margin, d, lo, hi, f"{ci}: the interval straddles -{margin:g}")


@dataclass
class Side:
    """One model (with its prompt) on the split."""

    role: str
    model: str
    prompt: str
    run_id: str
    quality: float
    quality_ci: tuple[float, float]
    fields: dict[str, float]
    n: int
    errors: int
    prompt_tokens: float
    output_tokens: float
    p50_ms: float
    p95_ms: float
    cost_per_1k: float | None
    outputs: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "outputs"}
        out["quality_ci"] = list(self.quality_ci)
        return out


@dataclass
class StudentTeacher:
    """The whole comparison (``lines()`` is the terminal report)."""

    dataset: str
    split: str | None
    teacher: Side
    student: Side
    paired: PairedComparison
    kappa: dict[str, float | None]
    exact_match: float
    verdict: NonInferiority

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "split": self.split,
            "teacher": self.teacher.to_dict(),
            "student": self.student.to_dict(),
            "paired": self.paired.to_dict(),
            "agreement": {"cohen_kappa": self.kappa, "exact_match": self.exact_match},
            "verdict": self.verdict.to_dict(),
        }

    def lines(self) -> list[str]:
        t, s = self.teacher, self.student
        split = f" split {self.split!r}" if self.split else ""
        out = [f"Student vs teacher on {self.dataset}{split} ({s.n} items)", ""]
        rows = [
            ("", "teacher", "student"),
            ("model", t.model, s.model),
            ("prompt", t.prompt, s.prompt),
            ("mean field accuracy", _q(t), _q(s)),
            *[(f"  {f}", f"{t.fields.get(f, float('nan')):.3f}", f"{v:.3f}") for f, v in s.fields.items()],
            ("prompt tokens / call", f"{t.prompt_tokens:.0f}", f"{s.prompt_tokens:.0f}"),
            ("output tokens / call", f"{t.output_tokens:.1f}", f"{s.output_tokens:.1f}"),
            (
                "latency p50 / p95 (ms)",
                f"{t.p50_ms:.0f} / {t.p95_ms:.0f}",
                f"{s.p50_ms:.0f} / {s.p95_ms:.0f}",
            ),
            ("cost per 1,000 calls", _cost(t.cost_per_1k), _cost(s.cost_per_1k)),
            ("errors", str(t.errors), str(s.errors)),
        ]
        width = [max(len(r[i]) for r in rows) for i in range(3)]
        out += ["  " + "  ".join(c.ljust(width[i]) for i, c in enumerate(r)) for r in rows]
        p = self.paired
        out.append("")
        out.append(
            f"Paired difference (student - teacher): {p.mean_diff:+.3f}, "
            f"95% CI [{p.ci_low:+.3f}, {p.ci_high:+.3f}] "
            f"({p.method} by item, {p.n_clusters} items x {len(s.fields)} fields; "
            f"{p.wins} fields better, {p.ties} same, {p.losses} worse)"
        )
        kappas = ", ".join(f"{f} {_k(k)}" for f, k in self.kappa.items())
        out.append(f"Agreement with the teacher: exact match {self.exact_match:.2f}; Cohen's kappa {kappas}")
        v = self.verdict
        out.append(f"Verdict (margin {v.margin:g}): {v.verdict.upper()} — {v.reason}")
        return out


def _q(side: Side) -> str:
    lo, hi = side.quality_ci
    return f"{side.quality:.3f} [{lo:.3f}, {hi:.3f}]"


def _cost(v: float | None) -> str:
    return "unknown" if v is None else f"${v:.4f}"


def _k(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f}"


def _percentile(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(values, q)) if values else float("nan")


def _parsed(text: str | None) -> Any:
    from loopstack.evals.scorers._json import extract_json

    if text is None:
        return None
    try:
        return extract_json(text)
    except ValueError:
        return None


def cohen_kappa(a: list[Any], b: list[Any]) -> float | None:
    """Cohen's kappa of two raters' labels (scikit-learn's); None when it is undefined (one label)."""
    from sklearn.metrics import cohen_kappa_score

    labels = [str(x) for x in a], [str(x) for x in b]
    if len(set(labels[0]) | set(labels[1])) < 2:
        return None
    value = float(cohen_kappa_score(*labels))
    return None if math.isnan(value) else value


def agreement(
    teacher: dict[str, Any], student: dict[str, Any], fields: list[str]
) -> tuple[dict[str, float | None], float]:
    """(kappa per field, exact-match rate of the whole answer) on the items both answered.

    An answer with no JSON object, or without the field, counts as the label ``<missing>``.
    """
    keys = sorted(teacher.keys() & student.keys())
    if not keys:
        return dict.fromkeys(fields), float("nan")

    def label(obj: Any, f: str) -> Any:
        return obj.get(f, "<missing>") if isinstance(obj, dict) else "<missing>"

    kappa = {
        f: cohen_kappa([label(teacher[k], f) for k in keys], [label(student[k], f) for k in keys])
        for f in fields
    }
    same = sum(
        1
        for k in keys
        if teacher[k] is not None and all(label(teacher[k], f) == label(student[k], f) for f in fields)
    )
    return kappa, same / len(keys)


def _side(
    role: str, model: str, prompt: str, summary: Any, items: list[Any], fields: list[str], price: float | None
) -> Side:
    scores = summary.scores
    quality = scores[QUALITY]
    done = [it for it in items if it.error is None]
    latencies = [it.latency_ms for it in done if it.latency_ms is not None]
    costs = [it.cost for it in done]
    if price is not None:
        per_1k: float | None = price
    elif costs and all(c is not None for c in costs):
        per_1k = 1000.0 * sum(c for c in costs if c is not None) / len(costs)
    else:
        per_1k = None
    return Side(
        role=role,
        model=model,
        prompt=prompt,
        run_id=summary.run.id,
        quality=quality.mean,
        quality_ci=(quality.ci_low, quality.ci_high),
        fields={f: scores[f"{QUALITY}.{f}"].mean for f in fields if f"{QUALITY}.{f}" in scores},
        n=len(items),
        errors=len(items) - len(done),
        prompt_tokens=sum(it.input_tokens or 0 for it in done) / max(1, len(done)),
        output_tokens=sum(it.output_tokens or 0 for it in done) / max(1, len(done)),
        p50_ms=_percentile(latencies, 50),
        p95_ms=_percentile(latencies, 95),
        cost_per_1k=per_1k,
        outputs={it.item_key: _parsed(it.output) for it in done},
    )


def _expected_fields(dataset: str, split: str | None, store: Store, project: str) -> list[str]:
    from loopstack.store.datasets import DatasetRepository

    items = DatasetRepository(store, project).items(dataset, split=split)
    if not items:
        where = f" in split {split!r}" if split else ""
        raise InvalidInput(f"dataset {dataset!r} has no items{where} to compare on")
    objects = [it.expected for it in items if isinstance(it.expected, dict)]
    if len(objects) != len(items):
        raise InvalidInput(
            f"dataset {dataset!r}: every compared item needs an expected JSON object (gold labels); "
            f"{len(items) - len(objects)} of {len(items)} have none"
        )
    return [f for f in objects[0] if all(f in o for o in objects)]


def _prompt_entry(messages: list[dict[str, str]] | None, ref: str | None, name: str) -> Any:
    if ref is not None:
        return ref
    if messages is None:
        raise InvalidInput(f"{name}: give its prompt (--{name}-prompt NAME@LABEL)")
    return {
        "name": name,
        "messages": messages,
        "params": {"temperature": 0, "max_tokens": STUDENT_MAX_TOKENS},
    }


async def compare_student(
    *,
    student: str,
    teacher: str,
    dataset: str,
    split: str | None = "test",
    margin: float = 0.05,
    student_prompt: str | None = None,
    teacher_prompt: str | None = None,
    student_price_per_1k_calls: float | None = None,
    teacher_price_per_1k_calls: float | None = None,
    concurrency: int = 48,
    store: Store | None = None,
    project: str | None = None,
    progress: bool = False,
    console: Any = None,
) -> StudentTeacher:
    """Run teacher then student on ``dataset``'s ``split`` and compare them (see the module docstring).

    The student's prompt is the one it was fine-tuned with (from the fine-tuned model registry) unless
    ``student_prompt`` names a registered prompt; the teacher's is ``teacher_prompt`` (default: the
    student's, which compares two models on one prompt).
    """
    from loopstack.config import get_settings
    from loopstack.evals.runner import run_suite
    from loopstack.models._finetuned import finetuned_model
    from loopstack.store.runs import RunRepository

    store = store or get_store()
    project = project or get_settings().project
    non_inferiority(_empty_paired(), margin)  # a bad margin fails before any call
    fields = _expected_fields(dataset, split, store, project)
    tuned = finetuned_model(student.partition("/")[2]) or finetuned_model(student)
    student_messages = tuned.messages if tuned is not None and tuned.messages else None
    s_entry = _prompt_entry(student_messages, student_prompt, "student")
    t_entry = teacher_prompt if teacher_prompt is not None else s_entry
    scorers = [{"scorer": "json_field_match", "name": QUALITY, "params": {"fields": fields}}]
    results = {}
    for role, model, entry in (("teacher", teacher, t_entry), ("student", student, s_entry)):
        suite = {
            "name": f"flywheel-compare-{role}",
            "dataset": dataset,
            "split": split,
            "prompts": [entry],
            "models": [model],
            "scorers": scorers,
            "concurrency": concurrency,
            "cache": False,  # latency is part of the question: measure it, never replay it
        }
        results[role] = await run_suite(
            suite, store=store, project=project, progress=progress, console=console
        )
    repo = RunRepository(store, project)
    t_sum, s_sum = results["teacher"].runs[0], results["student"].runs[0]
    t_items, s_items = repo.items(t_sum.run.id), repo.items(s_sum.run.id)
    paired = field_paired(t_items, s_items, fields)

    def label(entry: Any) -> str:
        return (
            entry
            if isinstance(entry, str)
            else f"{entry['name']} (inline, {len(entry['messages'])} messages)"
        )

    t_side = _side("teacher", teacher, label(t_entry), t_sum, t_items, fields, teacher_price_per_1k_calls)
    s_side = _side("student", student, label(s_entry), s_sum, s_items, fields, student_price_per_1k_calls)
    kappa, exact = agreement(t_side.outputs, s_side.outputs, fields)
    return StudentTeacher(
        dataset=dataset,
        split=split,
        teacher=t_side,
        student=s_side,
        paired=paired,
        kappa=kappa,
        exact_match=exact,
        verdict=non_inferiority(paired, margin),
    )


def field_paired(teacher: list[Any], student: list[Any], fields: list[str]) -> PairedComparison:
    """Student minus teacher in mean field accuracy, as the paired comparison of every (item, field)
    pass/fail clustered by item (``stats.paired_comparison`` with clusters: CR1, t(G-1)).

    Its mean difference is exactly the difference in mean field accuracy (every item has the same
    fields), and because the values are pass/fail it backs a verdict on the few dozen items a held-out
    split has, where the per-item average (a continuous score) needs 30 changed items first.
    """
    from loopstack.evals.stats import paired_comparison

    def values(items: list[Any]) -> dict[str, float]:
        out: dict[str, float] = {}
        for it in items:
            for f in fields:
                s = it.score(f"{QUALITY}.{f}") if it.error is None else None
                if s is not None and s.error is None and s.value is not None:
                    out[f"{it.item_key}\x1f{f}"] = float(s.value)
        return out

    t, s = values(teacher), values(student)
    clusters: dict[str, str | None] = {k: k.split("\x1f")[0] for k in t.keys() | s.keys()}
    return paired_comparison(t, s, kind="binary", clusters=clusters)


def _empty_paired() -> PairedComparison:
    nan = float("nan")
    return PairedComparison(nan, nan, nan, 0, "none", "none", nan, 0, 0, 0, nan, nan, nan, True)
