"""Terminal report: per-run score tables with 95% CIs and paired comparison tables (rich)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from loopstack.evals._outcome import EvalResult, RunComparison, RunSummary
from loopstack.evals.report._fmt import (
    ci,
    num,
    p_value,
    short_verdict,
    signed,
    signed_ci,
    threshold_rule,
    verdict_class,
)
from loopstack.store.runs import RunItemRecord


def run_table(summary: RunSummary) -> Table:
    """One run: each scorer's mean, 95% CI, n, errors (and threshold, when the suite sets one)."""
    r = summary.run
    title = f"{escape(r.label)}  [dim](run {r.id[:12]})[/dim]"
    table = Table(title=title, title_justify="left", show_edge=False)
    has_threshold = any(s.threshold is not None for s in summary.scores.values())
    table.add_column("scorer")
    table.add_column("mean", justify="right")
    table.add_column("95% CI", justify="right")
    table.add_column("n", justify="right")
    table.add_column("errors", justify="right")
    if has_threshold:
        table.add_column("threshold", justify="right")
    for s in summary.scores.values():
        interval = ci(s.ci_low, s.ci_high)
        if s.estimate.note:
            interval = (
                f"{interval} [dim]({escape(s.estimate.note)})[/dim]"
                if interval != "–"
                else (f"[dim]{escape(s.estimate.note)}[/dim]")
            )
        row = [escape(s.name), num(s.mean), interval, str(s.n)]
        row.append(f"[red]{s.errors}[/red]" if s.errors else "0")
        if has_threshold:
            th = ""
            if s.threshold is not None:
                mark = "[green]pass[/green]" if s.threshold.passed else "[red]FAIL[/red]"
                rule = threshold_rule(s.threshold.on, s.threshold.threshold, s.threshold.higher_is_better)
                th = f"{rule} {mark}"
            row.append(th)
        table.add_row(*row)
    for name, value in summary.metrics.items():
        row = [escape(name), num(value), "[dim]run-level[/dim]", str(summary.n_items), ""]
        table.add_row(*(row + [""] if has_threshold else row))
    return table


def comparison_table(c: RunComparison) -> Table:
    """Candidate minus baseline per scorer: paired difference with CI, p-value, win/tie/loss."""
    title = f"{escape(c.candidate.label)} vs baseline {escape(c.baseline.label)}  [dim](paired)[/dim]"
    table = Table(title=title, title_justify="left", show_edge=False)
    for col, just in [
        ("scorer", "left"),
        ("base", "right"),
        ("cand", "right"),
        ("diff [95% CI]", "right"),
        ("p", "right"),
        ("W/T/L", "right"),
        ("verdict", "left"),
    ]:
        table.add_column(col, justify=just, no_wrap=col != "scorer")  # type: ignore[arg-type]
    for name, p in c.scores.items():
        v = c.verdict(name)
        style = {"better": "green", "worse": "red"}.get(verdict_class(v), "dim")
        short = short_verdict(v)
        table.add_row(
            escape(name),
            num(p.baseline_mean, 2),
            num(p.candidate_mean, 2),
            f"{signed(p.mean_diff, 2)} {signed_ci(p.ci_low, p.ci_high, 2)}",
            p_value(p.p_value),
            f"{p.wins}/{p.ties}/{p.losses}",
            f"[{style}]{short}[/{style}]",
        )
    return table


def _power_warning(c: RunComparison) -> str | None:
    """One line naming the scorers whose comparison is underpowered, with their detectable effect."""
    weak = [(n, p) for n, p in c.scores.items() if p.underpowered and p.n > 1]
    if not weak:
        return None
    n = weak[0][1].n
    parts = ", ".join(f"{escape(name)} {num(p.mde, 2)}" for name, p in weak)
    return (
        f"⚠ N={n} paired items only reliably detect differences of at least (80% power, α 0.05): {parts}. "
        "Smaller true differences may show as n.s.; add items to see them."
    )


def print_result(
    result: EvalResult,
    console: Console | None = None,
    *,
    fail_on_regression: bool = False,
    max_error_rate: float = 0.0,
    correction: str = "holm",
) -> None:
    """Print every run's table, every comparison, MDE warnings and the verdict."""
    console = console or Console()
    console.print(f"[bold]Suite {escape(result.suite)}[/bold]  [dim]group {result.group_id}[/dim]")
    for summary in result.runs:
        console.print()
        console.print(run_table(summary))
        extra = f"{summary.n_items} items · {summary.n_errors} errored · cost ${summary.cost:.4f}"
        if summary.mean_latency_ms is not None:
            extra += f" · mean latency {summary.mean_latency_ms:.0f} ms"
        console.print(f"  [dim]{extra}[/dim]")
        for cause, (count, message) in summary.error_causes.items():
            console.print(f"  [red]{count} × {escape(cause)}:[/red] {escape(message)}", soft_wrap=True)
    if result.judge_calibrations:
        from loopstack.evals.calibration_notes import describe

        console.print()
        for name, cal in sorted(result.judge_calibrations.items()):
            colour = {"reliable": "green", "tentative": "yellow"}.get(str(cal.get("badge")), "red")
            console.print(f"[{colour}]{escape(describe(name, cal))}[/{colour}]", soft_wrap=True)
    for c in result.comparisons:
        console.print()
        console.print(comparison_table(c))
        warning = _power_warning(c)
        if warning:
            console.print(f"[yellow]{warning}[/yellow]")
        console.print(
            "[dim]n.s. = the 95% CI of the difference includes 0; better/worse are for the user "
            "(lower latency or cost is better)[/dim]"
        )
        for name, p in c.scores.items():
            if p.withheld:
                console.print(f"[yellow]no verdict on {escape(name)}:[/yellow] {escape(p.withheld)}")
    console.print()
    _print_verdict(result, console, fail_on_regression, max_error_rate, correction)


def _print_verdict(
    result: EvalResult, console: Console, fail_on_regression: bool, max_error_rate: float, correction: str
) -> None:
    from loopstack.evals.gate import gate

    verdict = gate(
        result, fail_on_regression=fail_on_regression, max_error_rate=max_error_rate, correction=correction
    )
    if result.interrupted:
        console.print(f"[yellow]Interrupted.[/yellow] {escape(verdict.reasons[0])}", soft_wrap=True)
        return
    for reason in verdict.reasons:
        console.print(f"[red]✗ {escape(reason)}[/red]", soft_wrap=True)
    for note in verdict.notes:
        if note.startswith("regression"):
            note = f"{note} (not gating without --fail-on-regression)"
        console.print(f"[yellow]{escape(note)}[/yellow]", soft_wrap=True)
    if verdict.passed:
        console.print("[green]✓ passed[/green]")
    else:
        console.print(f"[red]✗ failed (exit {verdict.exit_code})[/red]")


def print_comparison_items(
    comparison: RunComparison,
    regressed: list[tuple[str, int, RunItemRecord | None, RunItemRecord | None, list[str]]],
    console: Console | None = None,
    *,
    width: int = 60,
    total: int | None = None,
) -> None:
    """The comparison table, then the regressed items with both outputs side by side."""
    console = console or Console()
    console.print(comparison_table(comparison))
    console.print()
    if not regressed:
        console.print("[green]No item scored lower in the candidate.[/green]")
        return
    count = total if total is not None else len(regressed)
    shown = f", showing {len(regressed)}" if count > len(regressed) else ""
    table = Table(
        title=f"{count} regressed item(s){shown}", title_justify="left", show_lines=True, show_edge=False
    )
    table.add_column("item")
    table.add_column("scores lower")
    table.add_column(f"baseline: {escape(comparison.baseline.label)}", max_width=width, overflow="fold")
    table.add_column(f"candidate: {escape(comparison.candidate.label)}", max_width=width, overflow="fold")
    for key, epoch, base, cand, names in regressed:
        label = escape(key if epoch == 0 else f"{key} (epoch {epoch})")
        ref = base or cand
        if ref is not None:
            label += f"\n[dim]{escape(_short(ref.input))}\nexpected: {escape(_short(ref.expected))}[/dim]"
        table.add_row(label, escape(", ".join(names)), _output(base), _output(cand))
    console.print(table)


def _short(value: Any, limit: int = 120) -> str:
    import json

    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _output(item: Any) -> str:
    if item is None:
        return "[dim](missing)[/dim]"
    if item.error:
        return f"[red]error:[/red] {escape(item.error)}"
    return escape(item.output or "")
