"""Curation: production model calls narrowed by filters become dataset items that keep their source
span, with the template variables as input and a correction (else the accepted output) as expected."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from flywheel.helpers import add_call, feedback
from loopstack.errors import InvalidInput
from loopstack.flywheel import curate, format_report, span_criteria
from loopstack.store import Store
from loopstack.store.datasets import DatasetRepository

NOW = datetime.now(UTC)


@pytest.fixture
def traffic(store: Store) -> dict[str, tuple[str, str]]:
    """Six model calls (and one eval-run call) with feedback of every kind."""
    calls = {
        "accepted": add_call(store, variables={"review": "Crashes on login"}, output='{"topic": "bug"}'),
        "corrected": add_call(
            store,
            variables={"review": "Far too pricey"},
            output='{"topic": "ui"}',
            prompt=("triage", 2),
            session="s-9",
        ),
        "rejected": add_call(
            store,
            variables={"review": "Love it"},
            output='{"topic": "bug"}',
            prompt=("triage", 2),
            model="openai/gpt-4o",
            user="u-7",
            error=True,
        ),
        "other_prompt": add_call(
            store, variables={"text": "long text"}, output="short", prompt=("summary", 1)
        ),
        "scored": add_call(
            store, variables={"review": "Slow sync"}, output='{"topic": "performance"}', prompt=("triage", 2)
        ),
        "old": add_call(store, variables={"review": "Old one"}, output="x", start=NOW - timedelta(days=40)),
        "eval": add_call(store, variables={"review": "From an eval"}, output="x", environment="eval"),
    }
    feedback(store, calls["accepted"][0], "thumbs", "up")
    t, s = calls["corrected"]
    feedback(store, t, "thumbs", "down")
    feedback(store, t, "correction", '{"topic": "pricing"}', span_id=s, data_type="text", source="human")
    feedback(store, calls["rejected"][0], "accepted", False)
    feedback(store, calls["scored"][0], "quality", 0.3, source="api")
    return calls


def _keys(report: object) -> set[str]:
    return {i.source_span_id for i in report.items}  # type: ignore[attr-defined]


def _run(store: Store, **filters: object) -> object:
    return curate(
        "d",
        criteria=span_criteria(**filters),
        dedupe_threshold=None,
        dry_run=True,
        store=store,  # type: ignore[arg-type]
    )


def test_each_filter_selects_its_calls(store: Store, traffic: dict[str, tuple[str, str]]) -> None:
    span = {k: v[1] for k, v in traffic.items()}
    production = {span[k] for k in ("accepted", "corrected", "rejected", "other_prompt", "scored", "old")}
    assert _keys(_run(store)) == production  # eval traffic and spans without a model are left out
    assert _keys(_run(store, prompt="triage")) == production - {span["other_prompt"]}
    assert _keys(_run(store, prompt="triage@2")) == {span["corrected"], span["rejected"], span["scored"]}
    assert _keys(_run(store, model="openai/gpt-4o")) == {span["rejected"]}
    assert _keys(_run(store, feedback="positive")) == {span["accepted"]}
    assert _keys(_run(store, feedback="negative")) == {span["corrected"], span["rejected"]}
    assert _keys(_run(store, feedback="correction")) == {span["corrected"]}
    assert _keys(_run(store, feedback="none")) == {span[k] for k in ("other_prompt", "old", "scored")}
    assert _keys(_run(store, score="quality", score_max=0.5)) == {span["scored"]}
    with pytest.raises(InvalidInput, match="no spans match"):
        _run(store, score="quality", score_min=0.5)
    assert _keys(_run(store, text="pricey")) == {span["corrected"]}
    assert _keys(_run(store, session="s-9")) == {span["corrected"]}
    assert _keys(_run(store, user="u-7")) == {span["rejected"]}
    assert _keys(_run(store, status="error")) == {span["rejected"]}
    assert span["rejected"] not in _keys(_run(store, status="ok"))
    assert span["old"] not in _keys(_run(store, start=NOW - timedelta(days=7)))
    assert _keys(_run(store, end=(NOW - timedelta(days=7)).isoformat())) == {span["old"]}
    assert _keys(_run(store, environment="eval")) == {span["eval"]}


def test_items_keep_their_source_and_take_the_correction_else_the_accepted_output(
    store: Store, traffic: dict[str, tuple[str, str]]
) -> None:
    report = curate(
        "reviews", criteria=span_criteria(prompt="triage"), dedupe_threshold=None, splits=None, store=store
    )
    assert report.version == 1 and not report.dry_run
    items = {i.source_span_id: i for i in DatasetRepository(store).items("reviews")}
    t, s = traffic["corrected"]
    corrected = items[s]
    assert corrected.input == {"review": "Far too pricey"}  # the template variables, not the messages
    assert corrected.expected == {"topic": "pricing"}  # the human correction wins over the output
    assert (corrected.source_trace_id, corrected.key) == (t, f"span-{s}")
    assert corrected.metadata["prompt_name"] == "triage" and corrected.metadata["prompt_version"] == 2
    assert items[traffic["accepted"][1]].expected == {"topic": "bug"}  # thumbs up: the output
    assert items[traffic["rejected"][1]].expected is None  # rejected, no correction: left for a teacher
    assert report.expected_from == {"none": 3, "correction": 1, "accepted": 1}


def test_dry_run_prints_counts_per_step_and_writes_nothing(
    store: Store, traffic: dict[str, tuple[str, str]]
) -> None:
    report = curate(
        "reviews",
        criteria=span_criteria(prompt="triage@2", feedback="any"),
        dedupe_threshold=None,
        dry_run=True,
        store=store,
    )
    steps = dict(report.steps)
    assert steps["model calls (production)"] == 6
    assert steps["prompt triage@2"] == 3
    assert steps["feedback any"] == 2  # the api score on the third is a judgement, not feedback
    assert report.added == 2
    lines = format_report(report)
    assert "would add 2 items" in lines[-1]
    assert not DatasetRepository(store).exists("reviews")


def test_an_empty_filter_result_is_one_clear_error(store: Store, traffic: dict[str, tuple[str, str]]) -> None:
    with pytest.raises(InvalidInput, match=r"no spans match these filters .*prompt nope 0"):
        curate("d", criteria=span_criteria(prompt="nope"), store=store)
    with pytest.raises(InvalidInput, match="feedback filter 'maybe'"):
        span_criteria(feedback="maybe")


def test_exact_duplicates_keep_the_corrected_one(store: Store) -> None:
    plain = add_call(store, variables={"review": "Same words"}, output="a")
    fixed = add_call(store, variables={"review": "Same words"}, output="b")
    feedback(store, fixed[0], "correction", "c", data_type="text")
    add_call(store, variables={"review": "Other words"}, output="d")
    report = curate("d", dedupe_threshold=None, store=store)
    assert dict(report.steps)["without exact duplicates"] == 2
    assert plain[1] not in _keys(report) and fixed[1] in _keys(report)
    # a second run adds nothing: the spans are in the dataset already, their inputs too
    again = curate("d", dedupe_threshold=None, store=store)
    assert again.added == 0 and again.version is None


def test_sampling_and_limit_are_seeded(store: Store) -> None:
    for i in range(60):
        add_call(store, variables={"review": f"review {i}"}, output="x")
    a = curate("d", sample=0.5, seed=3, dedupe_threshold=None, dry_run=True, store=store)
    b = curate("d", sample=0.5, seed=3, dedupe_threshold=None, dry_run=True, store=store)
    c = curate("d", sample=0.5, seed=4, dedupe_threshold=None, dry_run=True, store=store)
    assert _keys(a) == _keys(b) != _keys(c)
    assert 15 < a.added < 45
    limited = curate("d", limit=7, seed=3, dedupe_threshold=None, dry_run=True, store=store)
    assert limited.added == 7 and dict(limited.steps)["limit 7"] == 7
