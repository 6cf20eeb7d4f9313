"""The runs repository stores items with their scores atomically and reads them back, on both dialects."""

from __future__ import annotations

import pytest

from loopstack.errors import NotFound
from loopstack.store import Store
from loopstack.store.runs import ItemResult, RunRepository, ScoreRow


def _item(key: str, epoch: int = 0, *, output: str | None = "ok", error: str | None = None) -> ItemResult:
    return ItemResult(
        item_key=key,
        epoch=epoch,
        input={"review": f"text {key}"},
        expected={"sentiment": "positive"},
        output=output,
        error=error,
        latency_ms=12.5,
        input_tokens=10,
        output_tokens=3,
        cost=0.001,
        scores=[
            ScoreRow(name="exact", value=1.0, params={"field": "sentiment"}, metadata={"passed": True}),
            ScoreRow(name="label", data_type="categorical", string_value="positive"),
        ],
    )


def test_run_round_trip_with_items_and_scores(store: Store) -> None:
    repo = RunRepository(store, "acme")
    run = repo.create_run(
        config={"epochs": 1},
        suite="triage",
        group_id="g1",
        prompt_name="triage",
        prompt_version=2,
        model="mock/echo",
        git_sha="abc123",
    )
    repo.save_items(run.id, [_item("a"), _item("b", error="boom", output=None)])
    repo.save_item(run.id, _item("c"))

    got = repo.get(run.id)
    assert (got.status, got.prompt_version, got.model, got.config) == (
        "running",
        2,
        "mock/echo",
        {"epochs": 1},
    )
    assert repo.get(run.id[:8]).id == run.id
    items = repo.items(run.id)
    assert [i.item_key for i in items] == ["a", "b", "c"]
    assert items[1].error == "boom" and items[1].output is None
    exact = items[0].score("exact")
    assert exact is not None and exact.value == 1.0 and exact.params == {"field": "sentiment"}
    label = items[0].score("label")
    assert label is not None and label.string_value == "positive"
    assert repo.finished_keys(run.id) == {("a", 0), ("c", 0)}
    assert repo.finished_keys(run.id, include_errors=True) == {("a", 0), ("b", 0), ("c", 0)}

    repo.set_status(run.id, "completed")
    done = repo.get(run.id)
    assert done.status == "completed" and done.finished_at is not None
    assert [r.id for r in repo.group("g1")] == [run.id]


def test_retrying_an_errored_item_replaces_it_and_its_scores(store: Store) -> None:
    repo = RunRepository(store)
    run = repo.create_run(config={})
    repo.save_item(run.id, _item("a", error="timeout", output=None))
    repo.save_item(run.id, _item("a", output="fixed"))
    items = repo.items(run.id)
    assert len(items) == 1 and items[0].output == "fixed" and items[0].error is None
    assert len(items[0].scores) == 2
    assert repo.count_items(run.id) == 1


def test_runs_are_scoped_to_their_project(store: Store) -> None:
    run = RunRepository(store, "one").create_run(config={})
    with pytest.raises(NotFound):
        RunRepository(store, "two").get(run.id)


def test_a_summary_read_leaves_out_the_content(store: Store) -> None:
    repo = RunRepository(store)
    run = repo.create_run(config={})
    repo.save_item(run.id, _item("a"))
    (light,) = repo.items(run.id, content=False)
    assert light.output is None and light.input == {} and light.expected is None
    exact = light.score("exact")
    assert exact is not None and exact.value == 1.0 and exact.params is None
    assert light.latency_ms == 12.5 and light.cost == 0.001
