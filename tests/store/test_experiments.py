"""The runs table query: filters on parameters, tags and metrics, sorting, tags and notes, both dialects."""

from __future__ import annotations

import pytest

from loopstack.errors import InvalidInput
from loopstack.store import Store
from loopstack.store._runfilter import Condition, FilterError, TagTerm, TextTerm, parse_filter
from loopstack.store.datasets import DatasetItem, DatasetRepository
from loopstack.store.experiments import ExperimentRepository, Metric
from loopstack.store.runs import RunRepository


def test_parse_filter_terms() -> None:
    terms = parse_filter('model=openai/x accuracy>0.8 tag:baseline prompt=triage version>=2 note~"a b" fast')
    assert terms == [
        Condition("model", "=", "openai/x", True),
        Condition("accuracy", ">", 0.8, False),
        TagTerm("baseline"),
        Condition("prompt", "=", "triage", True),
        Condition("version", ">=", 2, True),
        Condition("note", "~", "a b", True),
        TextTerm("fast"),
    ]
    assert parse_filter("  ") == []


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("accuracy>", "at position 10: expected a value after 'accuracy>'"),
        ("accuracy>high", "at position 10: expected a number for metric 'accuracy', got 'high'"),
        ("version>=two", "at position 10: expected a whole number for 'version'"),
        ("model>x", "'model' is text; use = != or ~, not >"),
        ("tag: x", "at position 5: expected a tag name after 'tag:'"),
        ('note~"open', 'at position 6: the quote " is never closed'),
        ("acc#0.5", "at position 4: expected an operator"),
        ("=3", "at position 1: expected a key"),
    ],
)
def test_bad_filters_name_the_position_and_what_was_expected(expr: str, message: str) -> None:
    with pytest.raises(FilterError, match=None) as info:
        parse_filter(expr)
    assert message in str(info.value)


def _seed(store: Store) -> dict[str, str]:
    ds = DatasetRepository(store, "default")
    ds.push("reviews", [DatasetItem(key="a", input={"x": 1}, expected="y")])
    reviews = ds.get("reviews")
    runs = RunRepository(store, "default")
    exp = ExperimentRepository(store, "default")
    ids: dict[str, str] = {}
    for name, model, version, acc in [
        ("r1", "openai/x", 1, 0.7),
        ("r2", "openai/x", 2, 0.9),
        ("r3", "mock/echo", 2, 0.85),
        ("r4", "openai/x", 3, None),
    ]:
        run = runs.create_run(
            config={"params": {"temperature": 0}, **({"kind": "playground"} if name == "r4" else {})},
            name=name,
            suite="triage-suite",
            prompt_name="triage",
            prompt_version=version,
            model=model,
            dataset_id=reviews.id if name != "r3" else None,
            dataset_version=reviews.version,
            git_sha="abcdef123",
        )
        runs.set_status(run.id, "completed")
        metrics = [Metric("cost", "run", 0.01 * version, n=10)]
        if acc is not None:
            metrics.append(Metric("accuracy", "score", acc, acc - 0.1, acc + 0.05, 10, 0, "2"))
        exp.save_metrics(run.id, metrics)
        ids[name] = run.id
    exp.add_tag(ids["r1"], "baseline")
    exp.add_tag(ids["r1"], "baseline")  # idempotent
    exp.set_note(ids["r2"], "Needs review before shipping")
    return ids


def _names(page: object) -> list[str]:
    return [e.run.name or "" for e in page.experiments]  # type: ignore[attr-defined]


def test_filters_on_parameters_metrics_tags_and_notes(store: Store) -> None:
    ids = _seed(store)
    exp = ExperimentRepository(store, "default")
    assert _names(exp.query("model=openai/x accuracy>0.8")) == ["r2"]
    assert _names(exp.query("tag:baseline")) == ["r1"]
    assert sorted(_names(exp.query("prompt=triage version>=2"))) == ["r2", "r3", "r4"]
    assert sorted(_names(exp.query("dataset=reviews"))) == ["r1", "r2", "r4"]
    assert _names(exp.query("note~review")) == ["r2"]
    assert sorted(_names(exp.query("model~MOCK"))) == ["r3"]
    assert _names(exp.query("git=abcdef accuracy<=0.7")) == ["r1"]
    assert sorted(_names(exp.query("cost>0.015"))) == ["r2", "r3", "r4"]
    assert _names(exp.query(ids["r3"][:8])) == ["r3"]
    assert _names(exp.query("kind=playground")) == ["r4"] and len(_names(exp.query("kind=eval"))) == 3
    page = exp.query("", sort="accuracy", desc=True)
    assert _names(page) == ["r2", "r3", "r1", "r4"]  # the run without the metric sorts last
    assert page.total == 4 and page.metric_names == ["accuracy", "cost"]
    assert _names(exp.query("", sort="accuracy", desc=False))[:3] == ["r1", "r3", "r2"]
    assert _names(exp.query("", sort="version", desc=False, limit=2)) == ["r1", "r3"]
    got = exp.get(ids["r2"])
    assert got.note == "Needs review before shipping" and got.dataset_name == "reviews"
    assert got.metrics["accuracy"].ci_low == pytest.approx(0.8)
    assert got.params["scorer_versions"] == {"accuracy": "2"} and got.params["params"] == {"temperature": 0}
    assert exp.get(ids["r1"]).tags == ["baseline"]


def test_unknown_metric_and_sort_are_clear_errors(store: Store) -> None:
    _seed(store)
    exp = ExperimentRepository(store, "default")
    with pytest.raises(InvalidInput, match="no run has a metric 'acuracy' \\(metrics: accuracy, cost\\)"):
        exp.query("acuracy>0.5")
    with pytest.raises(InvalidInput, match="sort: 'bogus'"):
        exp.query("", sort="bogus")
    with pytest.raises(InvalidInput, match="tag 'a b'"):
        exp.add_tag(_seed_one(store), "a b")


def _seed_one(store: Store) -> str:
    return RunRepository(store, "default").create_run(config={}).id


def test_note_replaced_and_removed_and_runs_stay_in_their_project(store: Store) -> None:
    ids = _seed(store)
    exp = ExperimentRepository(store, "default")
    exp.set_note(ids["r2"], "second thought")
    assert exp.get(ids["r2"]).note == "second thought"
    exp.set_note(ids["r2"], "  ")
    assert exp.get(ids["r2"]).note is None
    exp.remove_tag(ids["r1"], "baseline")
    assert exp.query("tag:baseline").total == 0
    assert ExperimentRepository(store, "other").query("").total == 0
