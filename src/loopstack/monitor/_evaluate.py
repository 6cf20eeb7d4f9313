"""Running online evaluators: live behind the ingest watermark, on feedback, and as a backfill.

Live: each tick reads the keys of the matching spans ingested since the evaluator's cursor (cheap: three
columns), keeps the sampled ones, loads and scores those, and stores the scores with the moved cursor
in one transaction. A tick spends at most ``tick_budget_s`` on an evaluator; when the cursor trails
the watermark by more than ``max_lag_s`` the oldest part is shed (counted, never silently lost).

Backfill: the same scoring over spans that *started* in a time range, in keyset-paged chunks; a
preview counts the targets and the judge calls first and prices them from the price table.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from loopstack.monitor.evaluators import EvaluatorSpec, build_scorers, sampled
from loopstack.store import Store, utcnow
from loopstack.store._types import new_id
from loopstack.store.monitor_spans import (
    SpanMatch,
    corrections,
    count_ingested,
    ingested_keys,
    negative_feedback,
    rows_matching,
    spans_by_row_id,
    started_keys,
    trace_sample_spans,
    traces_matching,
)
from loopstack.store.monitoring import (
    ONLINE_SOURCE,
    already_scored,
    enabled_evaluators,
    evaluator_author,
    evaluators_with_backfill,
    save_evaluation,
)

log = logging.getLogger("loopstack.monitor")

_AFTER_ALL = "~"  # sorts after every hex row id: a cursor (t, "~") is past every span stamped t
#: Tokens a judge's instructions add to the text it is shown (the rubric template and system prompt).
JUDGE_OVERHEAD_TOKENS = 120


@dataclass
class Target:
    """What one evaluation judges: a span, or a whole trace (its spans in start order)."""

    trace_id: str
    span: dict[str, Any] | None = None
    spans: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Outcome:
    """What scoring a batch of targets produced."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)
    calls: int = 0

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n


def spec_of(row: Mapping[str, Any]) -> EvaluatorSpec:
    """The definition stored in an evaluator row (checked when it was stored)."""
    return EvaluatorSpec.model_validate(
        {k: row[k] for k in ("name", "level", "filter", "sample_rate", "scorers", "on_feedback", "enabled")}
    )


def _text_of(value: str | None) -> str:
    """A span's input as a judge should read it: the last user message of a chat, else the text."""
    if not value:
        return ""
    if value.lstrip().startswith("["):
        try:
            messages = json.loads(value)
        except ValueError:
            return value
        if isinstance(messages, list):
            users = [m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "user"]
            if users and isinstance(users[-1], str):
                return users[-1]
    return value


def _sample(target: Target, expected: str | None) -> Any:
    from loopstack.evals.scorers import Sample

    if target.span is not None:
        s = target.span
        meta = {k: s[k] for k in ("name", "kind", "model", "prompt_name", "prompt_version", "user_id")}
        meta["attributes"] = s.get("attributes") or {}
        return Sample(
            input={"input": _text_of(s.get("input"))},
            output=s.get("output") if s.get("status_code") != "ERROR" or s.get("output") else None,
            expected=expected,
            metadata=meta,
            latency_ms=s.get("duration_ms"),
            input_tokens=s.get("input_tokens"),
            output_tokens=s.get("output_tokens"),
            cost=s.get("cost"),
            item_key=f"{s['trace_id']}:{s['span_id']}",
            error=(s.get("status_message") or "error") if s.get("status_code") == "ERROR" else None,
        )
    lines = []
    for s in target.spans:
        lines.append(f"- {s['name']} ({s.get('status_code')})")
        if s.get("input"):
            lines.append(f"  input: {_text_of(s['input'])[:2000]}")
        if s.get("output"):
            lines.append(f"  output: {str(s['output'])[:2000]}")
    root = next((s for s in target.spans if s.get("parent_span_id") is None), target.spans[0])
    return Sample(
        input={"trace": "\n".join(lines)},
        output=root.get("output") or (target.spans[-1].get("output") if target.spans else None),
        expected=expected,
        metadata={"spans": len(target.spans), "name": root["name"]},
        latency_ms=root.get("duration_ms"),
        cost=sum(s.get("cost") or 0.0 for s in target.spans),
        item_key=target.trace_id,
    )


class EvaluatorRunner:
    """Scores targets for evaluators; one event loop of its own for the judges' model calls."""

    def __init__(
        self,
        store: Store,
        *,
        batch: int = 2000,
        max_lag_s: float = 300.0,
        tick_budget_s: float = 2.0,
        concurrency: int = 16,
        timeout_s: float = 60.0,
    ) -> None:
        self.store = store
        self.batch = batch
        self.max_lag_s = max_lag_s
        self.tick_budget_s = tick_budget_s
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._scorers: dict[tuple[str, int], list[Any]] = {}

    def close(self) -> None:
        if self._loop is not None:
            self._loop.close()
            self._loop = None

    def _run(self, coro: Any) -> Any:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(coro)

    def scorers_for(self, row: Mapping[str, Any]) -> list[Any]:
        key = (row["id"], row["version"])
        if key not in self._scorers:
            self._scorers[key] = build_scorers(spec_of(row).scorers)
        return self._scorers[key]

    # ------------------------------------------------------------------------------------- scoring

    def score(self, row: Mapping[str, Any], targets: Sequence[Target], trigger: str) -> Outcome:
        """Score ``targets`` with every scorer of evaluator ``row``; rows to store and the counts."""
        out = Outcome()
        if not targets:
            return out
        scorers = self.scorers_for(row)
        with self.store.read() as conn:
            refs = corrections(conn, row["project_id"], [t.trace_id for t in targets])
        samples = []
        for t in targets:
            span_id = t.span["span_id"] if t.span else None
            samples.append(_sample(t, refs.get((t.trace_id, span_id)) or refs.get((t.trace_id, None))))
        results: list[list[Any]] = self._run(self._score_all(scorers, samples))
        now = utcnow()
        for target, scored in zip(targets, results, strict=True):
            errors = [s.error for s in scored if s.error is not None]
            if errors:
                out.add("errored")
                reason = errors[0].splitlines()[0][:200] if errors[0] else "error"
                out.reasons[reason] = out.reasons.get(reason, 0) + 1
            else:
                out.add("evaluated")
            for s in scored:
                if s.source == "llm":
                    out.calls += int(s.metadata.get("attempts", 1)) if s.error is None else 1
                out.rows.append(self._score_row(row, target, s, trigger, now))
        return out

    async def _score_all(self, scorers: list[Any], samples: list[Any]) -> list[list[Any]]:
        gate = asyncio.Semaphore(self.concurrency)

        async def one(sample: Any) -> list[Any]:
            async with gate:
                found: list[Any] = []
                for scorer in scorers:
                    try:
                        found += await asyncio.wait_for(scorer.score(sample), self.timeout_s)
                    except TimeoutError:
                        found.append(scorer.error_score(f"timed out after {self.timeout_s:g} s"))
                return found

        return list(await asyncio.gather(*(one(s) for s in samples)))

    @staticmethod
    def _score_row(
        row: Mapping[str, Any], target: Target, s: Any, trigger: str, now: datetime
    ) -> dict[str, Any]:
        value, string_value = s.storage_values()
        return {
            "id": new_id(),
            "project_id": row["project_id"],
            "target_type": "span" if target.span is not None else "trace",
            "trace_id": target.trace_id,
            "span_id": target.span["span_id"] if target.span is not None else None,
            "name": s.name[:200],
            "data_type": s.data_type or "numeric",
            "value": value,
            "string_value": string_value,
            "source": ONLINE_SOURCE,
            "author": evaluator_author(row["id"]),
            "comment": (s.explanation or None) and str(s.explanation)[:2000],
            "scorer_version": s.scorer_version,
            "params": json.loads(json.dumps(s.params, default=str)),
            "error": s.error,
            "metadata": {
                "evaluator_id": row["id"],
                "evaluator": row["name"],
                "evaluator_version": row["version"],
                "scorer": s.scorer,
                "kind": s.source,
                "trigger": trigger,
            },
            "created_at": now,
        }

    def _targets(self, row: Mapping[str, Any], keys: Sequence[tuple[Any, ...]]) -> list[Target]:
        """Load the targets of sampled span keys: the spans, or the whole traces at trace level."""
        with self.store.read() as conn:
            if row["level"] == "trace":
                ids = [k[2] for k in keys]
                wanted = traces_matching(conn, row["project_id"], spec_of(row).filter.match(), ids)
                return [
                    Target(t, spans=trace_sample_spans(conn, row["project_id"], t))
                    for t in dict.fromkeys(ids)
                    if t in wanted
                ]
            return [Target(s["trace_id"], span=s) for s in spans_by_row_id(conn, [k[1] for k in keys])]

    def _live_match(self, row: Mapping[str, Any]) -> SpanMatch:
        match = spec_of(row).filter.match()
        if row["level"] == "trace":  # a trace is judged once its root arrives; the filter is on any span
            return SpanMatch(environment=match.environment)
        return match

    # ---------------------------------------------------------------------------------------- live

    def tick(self, now: datetime, upto: datetime) -> dict[str, int]:
        """One pass over every enabled evaluator: live spans up to ``upto``, feedback, backfills."""
        totals: dict[str, int] = {}
        for row in enabled_evaluators(self.store):
            try:
                for key, n in self.live(row, now, upto).items():
                    totals[key] = totals.get(key, 0) + n
                if row["on_feedback"]:
                    for key, n in self.feedback(row, upto).items():
                        totals[key] = totals.get(key, 0) + n
            except Exception as exc:  # noqa: BLE001 - one broken evaluator must not starve the others
                log.exception("monitor: evaluator %s failed", row["name"])
                self._record_failure(row, exc)
        for row in evaluators_with_backfill(self.store):
            if row["backfill"].get("status") == "running":
                try:
                    self.backfill_chunk(row, budget_s=self.tick_budget_s)
                except Exception as exc:  # noqa: BLE001 - as above
                    log.exception("monitor: backfill of %s failed", row["name"])
                    self._record_failure(row, exc)
        return totals

    def _record_failure(self, row: Mapping[str, Any], exc: Exception) -> None:
        """Show a pass that failed as a whole (e.g. a scorer plugin gone) as the evaluator's last error."""
        message = f"evaluator pass failed: {type(exc).__name__}: {exc}"[:1000]
        try:
            with self.store.write() as conn:
                save_evaluation(conn, row["id"], [], progress={"last_error": message}, counts={}, reasons={})
        except Exception:  # noqa: BLE001 - the database itself may be what failed
            log.debug("monitor: could not record the failure of %s", row["name"])

    def live(self, row: Mapping[str, Any], now: datetime, upto: datetime) -> dict[str, int]:
        """Evaluate what was ingested since the cursor, for at most ``tick_budget_s``.

        The lag recorded is how long the oldest span read in this tick waited between its ingest and
        the end of its scoring; while a backlog remains, how far the cursor trails ``now``."""
        totals: dict[str, int] = {}
        if row["sample_rate"] <= 0:  # feedback-only: nothing to read live, the cursor just follows
            with self.store.write() as conn:
                save_evaluation(
                    conn, row["id"], [], progress={"cursor_at": upto, "cursor_id": ""}, counts={}, reasons={}
                )
            return totals
        match = self._live_match(row)
        roots = row["level"] == "trace"
        after = (row["cursor_at"], row["cursor_id"] or "") if row["cursor_at"] else None
        started = time.perf_counter()
        while True:
            shed = 0
            floor = upto - timedelta(seconds=self.max_lag_s)
            if after is not None and after[0] < floor:
                with self.store.read() as conn:
                    shed = count_ingested(conn, row["project_id"], match, after, floor)
                after = (floor, _AFTER_ALL)
            with self.store.read() as conn:
                keys = ingested_keys(
                    conn, row["project_id"], match, after, upto, self.batch, roots_only=roots
                )
            picked = [k for k in keys if sampled(k[2], row["sample_rate"])]
            outcome = self.score(row, self._targets(row, picked), "sample")
            outcome.add("skipped", len(keys) - len(picked))
            outcome.add("shed", shed)
            more = len(keys) == self.batch
            spent = time.perf_counter() - started
            if keys:
                after = (keys[-1][0], keys[-1][1])
            if more and after is not None:
                lag = (now - after[0]).total_seconds() + spent
            else:
                lag = (now - keys[0][0]).total_seconds() + spent if keys else 0.0
            progress: dict[str, Any] = {"lag_s": max(0.0, lag)}
            if after is not None:
                progress.update(cursor_at=after[0], cursor_id=after[1])
            with self.store.write() as conn:
                save_evaluation(
                    conn,
                    row["id"],
                    outcome.rows,
                    progress=progress,
                    counts=outcome.counts,
                    reasons=outcome.reasons,
                )
            for key, n in outcome.counts.items():
                totals[key] = totals.get(key, 0) + n
            if not more or time.perf_counter() - started > self.tick_budget_s:
                return totals

    def feedback(self, row: Mapping[str, Any], upto: datetime) -> dict[str, int]:
        """Judge the targets of thumbs-downs and corrections received since the feedback cursor."""
        with self.store.read() as conn:
            found = negative_feedback(conn, row["project_id"], row["feedback_cursor_at"], upto, 500)
        if not found:
            return {}
        match = spec_of(row).filter.match()
        targets: dict[tuple[str, str | None], Target] = {}
        outcome = Outcome()
        with self.store.read() as conn:
            done = already_scored(
                conn, row["project_id"], row["id"], row["version"], [f["trace_id"] for f in found]
            )
            for fb in found:
                trace_id, span_id = fb["trace_id"], fb["span_id"]
                if row["level"] == "trace":
                    key: tuple[str, str | None] = (trace_id, None)
                    if key in done or key in targets:
                        outcome.add("skipped")
                        continue
                    if not traces_matching(conn, row["project_id"], match, [trace_id]):
                        outcome.add("skipped")
                        continue
                    targets[key] = Target(
                        trace_id, spans=trace_sample_spans(conn, row["project_id"], trace_id)
                    )
                    continue
                spans = [
                    s
                    for s in trace_sample_spans(conn, row["project_id"], trace_id)
                    if span_id is None or s["span_id"] == span_id
                ]
                keep = rows_matching(conn, row["project_id"], match, [s["id"] for s in spans])
                for s in spans:
                    key = (trace_id, s["span_id"])
                    if s["id"] not in keep or key in done or key in targets:
                        continue
                    targets[key] = Target(trace_id, span=s)
                if not any(k[0] == trace_id for k in targets):
                    outcome.add("skipped")
        scored = self.score(row, list(targets.values()), "feedback")
        for name, n in scored.counts.items():
            outcome.add(name, n)
        with self.store.write() as conn:
            save_evaluation(
                conn,
                row["id"],
                scored.rows,
                progress={"feedback_cursor_at": found[-1]["created_at"]},
                counts=outcome.counts,
                reasons=scored.reasons,
            )
        return outcome.counts

    # ------------------------------------------------------------------------------------ backfill

    def preview(
        self, row: Mapping[str, Any], start: datetime, end: datetime, sample_rate: float | None = None
    ) -> dict[str, Any]:
        """What a backfill of ``[start, end)`` would do: targets, judge calls and their estimated cost."""
        from loopstack.models import price_for

        rate = row["sample_rate"] if sample_rate is None else sample_rate
        scorers = self.scorers_for(row)
        judges = [s for s in scorers if s.source == "llm"]
        match = spec_of(row).filter.match()
        targets = 0
        chars = 0
        seen_traces: set[str] = set()
        after: tuple[datetime, str] | None = None
        with self.store.read() as conn:
            while True:
                keys = started_keys(conn, row["project_id"], match, start, end, after, 5000)
                if not keys:
                    break
                after = (keys[-1][0], keys[-1][1])
                picked = [k for k in keys if sampled(k[2], rate)]
                done = already_scored(
                    conn, row["project_id"], row["id"], row["version"], [k[2] for k in picked]
                )
                for k in picked:
                    if row["level"] == "trace":
                        if k[2] in seen_traces or (k[2], None) in done:
                            continue
                        seen_traces.add(k[2])
                    elif (k[2], k[4]) in done:
                        continue
                    targets += 1
                    chars += k[3]
        calls = targets * len(judges)
        cost: float | None = 0.0
        per_judge = []
        for judge in judges:
            price = price_for(judge.model)
            input_tokens = chars / 4 + targets * JUDGE_OVERHEAD_TOKENS
            output_tokens = targets * judge._max_tokens
            judge_cost = (
                None if price is None else (input_tokens * price.input + output_tokens * price.output) / 1e6
            )
            per_judge.append(
                {"scorer": judge.name, "model": judge.model, "calls": targets, "cost_usd": judge_cost}
            )
            cost = None if cost is None or judge_cost is None else cost + judge_cost
        return {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "sample_rate": rate,
            "targets": targets,
            "estimated_calls": calls,
            "estimated_cost_usd": cost,
            "judges": per_judge,
            "note": "an upper estimate: input ~4 characters a token, output at the judge's max_tokens",
        }

    def backfill_chunk(self, row: Mapping[str, Any], budget_s: float = 2.0) -> dict[str, Any]:
        """Advance the evaluator's running backfill by at most ``budget_s`` of work; its new state."""
        from loopstack.store.monitoring import EvaluatorRepository

        state = dict(row["backfill"])
        start, end = datetime.fromisoformat(state["start"]), datetime.fromisoformat(state["end"])
        rate = float(state.get("sample_rate", row["sample_rate"]))
        match = spec_of(row).filter.match()
        roots = row["level"] == "trace"
        if roots:
            match = SpanMatch(environment=match.environment)
        after = (
            (datetime.fromisoformat(state["cursor"][0]), state["cursor"][1]) if state.get("cursor") else None
        )
        started = time.perf_counter()
        while True:
            with self.store.read() as conn:
                keys = started_keys(
                    conn, row["project_id"], match, start, end, after, self.batch, roots_only=roots
                )
                picked = [k for k in keys if sampled(k[2], rate)]
                done = already_scored(
                    conn, row["project_id"], row["id"], row["version"], [k[2] for k in picked]
                )
            targets = [
                t
                for t in self._targets(row, picked)
                if (t.trace_id, t.span["span_id"] if t.span else None) not in done
            ]
            outcome = self.score(row, targets, "backfill")
            if keys:
                after = (keys[-1][0], keys[-1][1])
                state["cursor"] = [after[0].isoformat(), after[1]]
            state["evaluated"] = state.get("evaluated", 0) + len(targets)
            state["calls"] = state.get("calls", 0) + outcome.calls
            if len(keys) < self.batch:
                state["status"] = "done"
                state["finished_at"] = utcnow().isoformat()
            with self.store.write() as conn:
                save_evaluation(
                    conn, row["id"], outcome.rows, progress={}, counts=outcome.counts, reasons=outcome.reasons
                )
            EvaluatorRepository(self.store, row["project"]).set_backfill(row["id"], state)
            if state["status"] == "done" or time.perf_counter() - started > budget_s:
                return state
