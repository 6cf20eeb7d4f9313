"""Counterfactual bias suites: the same items with demographic terms swapped, scored like the original.

``counterfactuals(items, groups)`` makes, for every item that names a group (he/she, a name, a
religion's holiday ...), one variant per other value of that group with every matched term swapped
(case kept); ``mode="persona"`` instead puts a one-sentence persona ("I'm a woman.") before the text
of every item, for data that names no group. ``run_bias`` stores originals and variants as one dataset,
runs the prompt on it through the eval runner (one stored run), and pairs each variant with its
original: per group and variant, the mean score difference with the paired CI and test of
``evals.stats`` and a verdict, Holm-adjusted across every comparison of the report.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from loopstack.errors import InvalidInput

Mode = Literal["swap", "persona"]
SEPARATOR = "~"


@dataclass(frozen=True)
class TermGroup:
    """One demographic dimension: its values and the aligned term rows."""

    name: str
    variants: list[str]
    terms: list[list[str]]
    persona: list[str] = field(default_factory=list)

    def pattern(self) -> re.Pattern[str]:
        words = sorted({t for row in self.terms for t in row}, key=len, reverse=True)
        parts = [re.escape(w) if w[:1].isupper() else f"(?i:{re.escape(w)})" for w in words]
        return re.compile(r"(?<![\w-])(?:" + "|".join(parts) + r")(?![\w-])")

    def lookup(self) -> dict[str, tuple[int, int]]:
        """Lowercased term -> (row, variant index); the first row wins for a word in two rows (her)."""
        out: dict[str, tuple[int, int]] = {}
        for r, row in enumerate(self.terms):
            for v, term in enumerate(row):
                out.setdefault(term.lower(), (r, v))
        return out


def _check_group(name: str, spec: Any, where: str) -> TermGroup:
    if not isinstance(spec, dict):
        raise InvalidInput(f"{where}: groups.{name}: expected a mapping with variants and terms")
    variants = spec.get("variants")
    if not isinstance(variants, list) or len(variants) < 2:
        raise InvalidInput(f"{where}: groups.{name}.variants: give at least two values")
    terms = spec.get("terms") or []
    if not isinstance(terms, list):
        raise InvalidInput(f"{where}: groups.{name}.terms: expected a list of rows")
    for i, row in enumerate(terms):
        if (
            not isinstance(row, list)
            or len(row) != len(variants)
            or not all(isinstance(t, str) and t.strip() for t in row)
        ):
            raise InvalidInput(
                f"{where}: groups.{name}.terms[{i}]: expected {len(variants)} words "
                f"(one per variant), got {row!r}"
            )
    persona = spec.get("persona") or []
    if persona and (not isinstance(persona, list) or len(persona) != len(variants)):
        raise InvalidInput(f"{where}: groups.{name}.persona: expected one sentence per variant")
    return TermGroup(
        name, [str(v) for v in variants], [[str(t) for t in row] for row in terms], [str(p) for p in persona]
    )


def load_terms(path: str | Path | None = None, *, only: list[str] | None = None) -> list[TermGroup]:
    """The shipped term groups, with a user file's groups replacing (or, ``replace: true``, all of) them."""
    shipped = resources.files("loopstack.safety").joinpath("data/bias_terms.yaml").read_text(encoding="utf-8")
    groups = {n: _check_group(n, s, "bias_terms.yaml") for n, s in yaml.safe_load(shipped)["groups"].items()}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise InvalidInput(f"term file {str(p)!r} not found")
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise InvalidInput(f"{p.name}: not valid YAML ({exc})") from None
        if not isinstance(data, dict) or not isinstance(data.get("groups"), dict):
            raise InvalidInput(
                f"{p.name}: expected a mapping with `groups:` (see the shipped bias_terms.yaml)"
            )
        mine = {n: _check_group(str(n), s, p.name) for n, s in data["groups"].items()}
        groups = mine if data.get("replace") else {**groups, **mine}
    if only:
        unknown = [g for g in only if g not in groups]
        if unknown:
            raise InvalidInput(f"no term group {unknown[0]!r} (groups: {', '.join(groups)})")
        groups = {g: groups[g] for g in only}
    return list(groups.values())


def _case_like(original: str, replacement: str) -> str:
    if original.isupper() and len(original) > 1:
        return replacement.upper()
    if original[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement


def swap(text: str, group: TermGroup, variant: int) -> tuple[str, int]:
    """``text`` with every term of ``group`` replaced by its ``variant`` form; and how many changed."""
    lookup = group.lookup()
    changed = 0

    def replace(m: re.Match[str]) -> str:
        nonlocal changed
        row, _ = lookup[m.group(0).lower()]
        new = _case_like(m.group(0), group.terms[row][variant])
        if new != m.group(0):
            changed += 1
        return new

    return group.pattern().sub(replace, text), changed


def _text_fields(item: Any, fields: list[str] | None) -> list[str]:
    if fields:
        missing = [f for f in fields if f not in item.input]
        if missing:
            raise InvalidInput(
                f"item {item.key!r} has no input {missing[0]!r} (it has: {', '.join(item.input)})"
            )
        return fields
    return [k for k, v in item.input.items() if isinstance(v, str)]


def counterfactuals(
    items: list[Any], groups: list[TermGroup], *, mode: Mode = "swap", fields: list[str] | None = None
) -> list[Any]:
    """The variant items (key ``<key>~<group>~<variant>``; the original's key in ``cluster``)."""
    from dataclasses import replace

    out = []
    for item in items:
        names = _text_fields(item, fields)
        for group in groups:
            for v, variant in enumerate(group.variants):
                new_input = dict(item.input)
                total = 0
                if mode == "persona":
                    if not group.persona:
                        raise InvalidInput(
                            f"term group {group.name!r} has no persona sentences for --mode persona"
                        )
                    target = fields[0] if fields else max(names, key=lambda n: len(str(item.input[n])))
                    new_input[target] = f"{group.persona[v]} {item.input[target]}"
                    total = 1
                else:
                    for name in names:
                        new_input[name], changed = swap(str(item.input[name]), group, v)
                        total += changed
                if total:
                    meta = {
                        **(item.metadata or {}),
                        "bias": {"group": group.name, "variant": variant, "of": item.key},
                    }
                    key = f"{item.key}{SEPARATOR}{group.name}{SEPARATOR}{variant}"
                    out.append(
                        replace(item, key=key, input=new_input, metadata=meta, cluster=item.key, id=None)
                    )
    return out


@dataclass
class GroupComparison:
    """One variant of one group against the originals, on one score."""

    group: str
    variant: str
    score: str
    n: int
    original_mean: float | None
    variant_mean: float | None
    diff: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    p_adjusted: float | None
    verdict: str
    changed_outputs: int
    """Pairs whose output text differs from the original's."""


@dataclass
class BiasReport:
    """Per group and variant, the paired score differences vs the originals, and one verdict per group."""

    run_id: str
    dataset: str
    mode: str
    items: int
    variants: int
    comparisons: list[GroupComparison]
    verdicts: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _group_verdict(rows: list[GroupComparison]) -> str:
    if any(r.verdict in ("better", "worse") for r in rows):
        worse = sorted({r.variant for r in rows if r.verdict == "worse"})
        better = sorted({r.variant for r in rows if r.verdict == "better"})
        parts = ([f"worse for {', '.join(worse)}"] if worse else []) + (
            [f"better for {', '.join(better)}"] if better else []
        )
        return "bias: " + "; ".join(parts)
    if rows and all(r.verdict == "no significant difference" for r in rows):
        return "no significant difference"
    backed = [r for r in rows if r.verdict == "no significant difference"]
    if backed:
        withheld = sorted({r.score for r in rows if r.verdict != "no significant difference"})
        return (
            f"no significant difference (no verdict possible on {', '.join(withheld)}: too few changed items)"
        )
    return "cannot back a verdict"


def bias_report(result: Any, *, store: Any, project: str, dataset: str, mode: str) -> BiasReport:
    """Pair each variant with its original in the stored run of ``result``; see the module doc."""
    from loopstack.evals._outcome import score_direction, scorer_directions
    from loopstack.evals.stats import holm, paired_comparison, verdict
    from loopstack.store.runs import RunRepository

    summary = result.runs[0]
    items = RunRepository(store, project).items(summary.run.id)
    originals = {it.item_key: it for it in items if SEPARATOR not in it.item_key and it.epoch == 0}
    cells: dict[tuple[str, str], list[Any]] = {}
    for it in items:
        if SEPARATOR in it.item_key and it.epoch == 0:
            base, group, variant = it.item_key.split(SEPARATOR, 2)
            if base in originals:
                cells.setdefault((group, variant), []).append((originals[base], it))
    names = [n for n, s in summary.scores.items() if s.estimate.n > 0]
    directions = scorer_directions(summary.run)
    rows: list[tuple[GroupComparison, Any, bool]] = []
    for (group, variant), pairs in sorted(cells.items()):
        for name in names:
            base_vals = {
                o.item_key: s.value
                for o, _ in pairs
                if (s := o.score(name)) and s.value is not None and s.error is None
            }
            var_vals = {
                o.item_key: s.value
                for o, v in pairs
                if (s := v.score(name)) and s.value is not None and s.error is None
            }
            c = paired_comparison(base_vals, var_vals)
            changed = sum(1 for o, v in pairs if (o.output or "") != (v.output or ""))
            hib = score_direction(name, directions)
            gc = GroupComparison(
                group, variant, name, c.n, _num(c.baseline_mean), _num(c.candidate_mean), _num(c.mean_diff),
                _num(c.ci_low), _num(c.ci_high), _num(c.p_value), None, "", changed,
            )  # fmt: skip
            rows.append((gc, c, hib))
    adjusted = holm([c.p_value if c.p_value == c.p_value else 1.0 for _, c, _ in rows]) if rows else []
    for (gc, c, hib), p_adj in zip(rows, adjusted, strict=True):
        gc.p_adjusted = p_adj
        gc.verdict = verdict(c, hib, p_adjusted=p_adj)
    comparisons = [gc for gc, _, _ in rows]
    groups = sorted({gc.group for gc in comparisons})
    verdicts = {g: _group_verdict([gc for gc in comparisons if gc.group == g]) for g in groups}
    n_variants = sum(len(p) for p in cells.values())
    return BiasReport(summary.run.id, dataset, mode, len(originals), n_variants, comparisons, verdicts)


def _num(value: float) -> float | None:
    return None if value != value else float(value)  # NaN -> None


async def run_bias(
    prompt_ref: str,
    dataset: str,
    model: str,
    *,
    scorers: list[dict[str, Any]],
    terms: str | Path | None = None,
    groups: list[str] | None = None,
    mode: Mode = "swap",
    fields: list[str] | None = None,
    split: str | None = None,
    limit: int | None = None,
    store: Any = None,
    project: str | None = None,
    progress: bool = False,
    console: Any = None,
) -> BiasReport:
    """Generate the counterfactuals of ``dataset`` (a stored dataset), run ``prompt_ref`` on originals and
    variants in one stored run, and report the paired differences; see the module doc."""
    from loopstack.config import get_settings
    from loopstack.evals.runner import run_suite
    from loopstack.store import get_store
    from loopstack.store.datasets import DatasetRepository

    if not scorers:
        raise InvalidInput("give at least one --scorer (or --suite FILE to take its scorers)")
    store = store or get_store()
    project = project or get_settings().project
    repo = DatasetRepository(store, project)
    name, _, version = dataset.partition("@")
    source = repo.items(name, int(version) if version.isdigit() else None, split=split)
    if limit is not None:
        source = source[:limit]
    if not source:
        raise InvalidInput(f"dataset {dataset!r} has no items" + (f" in split {split!r}" if split else ""))
    term_groups = load_terms(terms, only=groups)
    variants = counterfactuals(source, term_groups, mode=mode, fields=fields)
    if not variants:
        listed = ", ".join(g.name for g in term_groups)
        raise InvalidInput(
            f"no term of the groups {listed} occurs in the {len(source)} items of {dataset!r}: there is "
            "nothing to swap (use --mode persona, or --terms FILE with words your data uses)"
        )
    used = {v.cluster for v in variants}
    originals = [it for it in source if it.key in used]
    from dataclasses import replace

    cf_name = f"{name}-counterfactual"
    stored = [replace(it, id=None) for it in originals] + variants
    repo.push(cf_name, stored, description=f"counterfactual variants of {dataset} ({mode})")
    suite = {
        "name": f"bias-{name}",
        "dataset": cf_name,
        "prompts": [prompt_ref],
        "models": [model],
        "scorers": scorers,
        "concurrency": 48,
    }
    result = await run_suite(
        suite, store=store, project=project, progress=progress, console=console, extra_config={"kind": "bias"}
    )
    return bias_report(result, store=store, project=project, dataset=dataset, mode=mode)


__all__ = [
    "BiasReport",
    "GroupComparison",
    "TermGroup",
    "bias_report",
    "counterfactuals",
    "load_terms",
    "run_bias",
    "swap",
]
