"""Online evaluators on both dialects: filter, hash sampling, feedback trigger, trace level, health."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from loopstack.errors import InvalidInput
from loopstack.monitor import create_evaluator, health, sampled
from loopstack.monitor._evaluate import EvaluatorRunner
from loopstack.store import Store
from loopstack.store.monitoring import ONLINE_SOURCE, EvaluatorRepository
from loopstack.store.scores import ScoreRepository
from monitor.helpers import add_calls, thumbs_down

PAST = datetime.now(UTC) - timedelta(hours=1)


def _tick(store: Store) -> dict[str, int]:
    runner = EvaluatorRunner(store)
    try:
        now = datetime.now(UTC)
        return runner.tick(now, now)
    finally:
        runner.close()


def _online(store: Store) -> list[dict]:
    return [s for s in ScoreRepository(store).list_scores(limit=10_000) if s["source"] == ONLINE_SOURCE]


def test_a_sampled_code_scorer_scores_the_matching_spans_with_its_id_and_version(store: Store) -> None:
    ev = create_evaluator(
        store,
        "default",
        {
            "name": "says-bug",
            "filter": {"prompt_name": "triage", "model": "openai/gpt-4o-mini"},
            "sample_rate": 0.5,
            "scorers": [{"name": "contains", "params": {"value": "bug"}}],
        },
        start_at=PAST,
    )
    kept = add_calls(store, "default", 200)
    add_calls(store, "default", 50, prompt=("other", 1))  # not matched by the filter
    _tick(store)
    scores = _online(store)
    expected = {t for t, _ in kept if sampled(t, 0.5)}
    assert {s["trace_id"] for s in scores} == expected
    assert 60 < len(expected) < 140
    assert all(s["value"] == 1.0 and s["name"] == "contains" for s in scores)
    assert {(s["metadata"]["evaluator_id"], s["metadata"]["evaluator_version"]) for s in scores} == {
        (ev["id"], 1)
    }
    h = health(EvaluatorRepository(store).get("says-bug"))
    assert h["evaluated"] == len(expected)
    assert h["skipped"] == 200 - len(expected)  # the 50 other spans never matched the filter at all
    assert h["errored"] == 0
    _tick(store)  # nothing new: nothing scored twice
    assert len(_online(store)) == len(expected)


def test_two_evaluators_at_ten_percent_score_the_same_traces(store: Store) -> None:
    for name in ("a", "b"):
        create_evaluator(
            store,
            "default",
            {"name": name, "sample_rate": 0.1, "scorers": [{"name": "json_valid"}]},
            start_at=PAST,
        )
    add_calls(store, "default", 300)
    _tick(store)
    by_evaluator: dict[str, set[str]] = {}
    for s in _online(store):
        by_evaluator.setdefault(s["metadata"]["evaluator"], set()).add(s["trace_id"])
    assert by_evaluator["a"] == by_evaluator["b"]
    assert 10 <= len(by_evaluator["a"]) <= 60


def test_a_thumbs_down_is_judged_whatever_the_rate(store: Store) -> None:
    from loopstack.models import MockProvider, get_model

    judge = get_model("mock/judge-fb", default='{"reasoning": "wrong", "score": 2}')
    create_evaluator(
        store,
        "default",
        {
            "name": "judge",
            "sample_rate": 0.0,
            "on_feedback": True,
            "scorers": [{"name": "rubric_judge", "params": {"model": "mock/judge-fb", "cache": False}}],
        },
        start_at=PAST,
    )
    ids = add_calls(store, "default", 20)
    for trace_id, span_id in ids[:3]:
        thumbs_down(store, "default", trace_id, span_id)
    _tick(store)
    scores = _online(store)
    assert sorted(s["trace_id"] for s in scores) == sorted(t for t, _ in ids[:3])
    assert {s["metadata"]["trigger"] for s in scores} == {"feedback"}
    assert all(s["value"] == pytest.approx(0.25) for s in scores)  # 2 on 1..5
    provider = judge.provider
    assert isinstance(provider, MockProvider) and provider.calls == 3
    _tick(store)  # the same feedback is not judged again
    assert len(_online(store)) == 3


def test_a_trace_level_judge_sees_every_span_of_the_trace(store: Store) -> None:
    from loopstack.models import MockProvider, get_model
    from ui.helpers import add_trace

    judge = get_model("mock/judge-trace", default="Score: 5")
    create_evaluator(
        store,
        "default",
        {
            "name": "whole-trace",
            "level": "trace",
            "filter": {"kind": "CLIENT"},
            "sample_rate": 1.0,
            "scorers": [{"name": "rubric_judge", "params": {"model": "mock/judge-trace", "cache": False}}],
        },
        start_at=PAST,
    )
    trace_id = add_trace(store, store.project_id("default"), name="answer-review")
    _tick(store)
    scores = _online(store)
    assert [(s["trace_id"], s["target_type"], s["span_id"]) for s in scores] == [(trace_id, "trace", None)]
    provider = judge.provider
    assert isinstance(provider, MockProvider)
    shown = provider.requests[0].messages[-1].content
    assert "answer-review" in shown and "chat openai/gpt-4o-mini" in shown  # both spans


def test_an_erroring_scorer_is_counted_with_its_reason(store: Store) -> None:
    create_evaluator(
        store,
        "default",
        {"name": "ref", "sample_rate": 1.0, "scorers": [{"name": "exact_match"}]},
        start_at=PAST,
    )
    add_calls(store, "default", 5, errors=5)
    _tick(store)
    h = health(EvaluatorRepository(store).get("ref"))
    assert h["errored"] == 5 and h["evaluated"] == 0
    assert h["last_error"] and sum(h["errors_by_reason"].values()) == 5


def test_falling_behind_sheds_and_counts_the_oldest_spans(store: Store) -> None:
    create_evaluator(
        store,
        "default",
        {"name": "c", "sample_rate": 1.0, "scorers": [{"name": "json_valid"}]},
        start_at=PAST,
    )
    add_calls(store, "default", 30)
    runner = EvaluatorRunner(store, max_lag_s=60)
    try:
        now = datetime.now(UTC) + timedelta(minutes=10)  # the worker comes back ten minutes later
        runner.tick(now, now)
    finally:
        runner.close()
    h = health(EvaluatorRepository(store).get("c"))
    assert h["shed"] == 30 and h["evaluated"] == 0


def test_bad_definitions_name_the_problem(store: Store) -> None:
    with pytest.raises(InvalidInput, match="no scorer named 'nope'"):
        create_evaluator(store, "default", {"name": "x", "scorers": [{"name": "nope"}]})
    with pytest.raises(InvalidInput, match="unknown filter field 'filter.colour'"):
        create_evaluator(
            store, "default", {"name": "x", "filter": {"colour": "red"}, "scorers": [{"name": "json_valid"}]}
        )
    with pytest.raises(InvalidInput, match="has no parameter 'wat'"):
        create_evaluator(
            store, "default", {"name": "x", "scorers": [{"name": "contains", "params": {"wat": 1}}]}
        )
    assert EvaluatorRepository(store).list() == []


def test_attribute_and_tag_filters_run_in_sql_on_both_dialects(store: Store) -> None:
    create_evaluator(
        store,
        "default",
        {
            "name": "tagged",
            "filter": {"tags": ["beta"], "attributes": {"tier": "gold", "retries": 2, "cached": False}},
            "sample_rate": 1.0,
            "scorers": [{"name": "json_valid"}],
        },
        start_at=PAST,
    )
    hit = add_calls(
        store, "default", 3, tags=["beta", "eu"], attributes={"tier": "gold", "retries": 2, "cached": False}
    )
    add_calls(store, "default", 3, tags=["eu"], attributes={"tier": "gold", "retries": 2, "cached": False})
    add_calls(store, "default", 3, tags=["beta"], attributes={"tier": "gold", "retries": 3, "cached": False})
    add_calls(store, "default", 3, tags=["beta"], attributes={"tier": "gold", "retries": 2, "cached": True})
    _tick(store)
    assert sorted(s["trace_id"] for s in _online(store)) == sorted(t for t, _ in hit)


def test_a_scorer_that_is_gone_after_a_restart_shows_as_the_last_error(store: Store) -> None:
    from loopstack.evals.scorers import _registry, scorer

    @scorer("short_lived")
    def short_lived(sample: object) -> bool:
        return True

    create_evaluator(
        store,
        "default",
        {"name": "plugin", "sample_rate": 1.0, "scorers": [{"name": "short_lived"}]},
        start_at=PAST,
    )
    _registry._registry.pop("short_lived")  # the plugin is not installed in the restarted server
    add_calls(store, "default", 3)
    _tick(store)
    h = health(EvaluatorRepository(store).get("plugin"))
    assert h["evaluated"] == 0 and "no scorer named 'short_lived'" in (h["last_error"] or "")
