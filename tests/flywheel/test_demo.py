"""The demo end to end on a scripted production model and the tiny base: every step runs and is reported."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from loopstack.errors import InvalidInput


def test_the_demo_runs_the_whole_loop(tiny_model: Path, loopstack_home: Path) -> None:
    from loopstack.flywheel._demo import run_demo
    from loopstack.models import get_model
    from loopstack.models._finetuned import finetuned_model
    from loopstack.prompts import PromptRegistry
    from loopstack.store import get_store
    from loopstack.store.datasets import DatasetRepository
    from loopstack.tracing import init, shutdown

    rows = [
        json.loads(x)
        for x in resources.files("loopstack.quickstart").joinpath("reviews.jsonl").read_text().splitlines()
    ]
    mapping = {}
    for i, r in enumerate(rows):  # right on two reviews in three, a wrong topic on the rest
        answer = {
            "topic": r["topic"] if i % 3 else "bug" if r["topic"] != "bug" else "ui",
            "sentiment": r["sentiment"],
            "actionable": r["actionable"],
        }
        mapping[f"Review: {r['review']}"] = json.dumps(answer)
    get_model("mock/prod", mapping=mapping)
    said: list[str] = []
    init()  # trace into this test's home (an earlier test may have started tracing elsewhere)
    try:
        report = run_demo(
            model="mock/prod", teacher="mock/prod", base=f"local/{tiny_model}", epochs=1, say=said.append
        )
    finally:
        shutdown()

    titles = [t for t, _, _ in report.steps]
    assert titles[0].startswith("Production: 160 reviews triaged by triage@production (v2)")
    assert len(titles) == 6 and said[0].startswith("1. Production")
    traffic = DatasetRepository(get_store(), "default").items("triage-traffic")
    assert len(traffic) == 160 and all(it.source_span_id for it in traffic)
    judged = [it for it in traffic if isinstance(it.expected, dict)]
    assert 100 < len(judged) < 160  # corrections (gold) and accepted answers became expected outputs
    _, _, teacher_lines = report.steps[2]
    # the teacher is the production prompt and model: every label replays the production call's answer
    assert "160 calls: 160 labelled, 0 errors, 160 replayed from the response cache" in teacher_lines[0]
    judged_n = len(judged)
    assert f"teacher vs people on {judged_n} items with both" in teacher_lines[1]
    assert "sentiment 1.00" in teacher_lines[1] and "topic 1.00" not in teacher_lines[1]
    # its topics are wrong one time in three: only its sentiment and actionable are trained on
    assert teacher_lines[2] == (
        "trained on the teacher's actionable, sentiment (agreement with people >= 0.8); no loss on its topic"
    )
    assert report.finetune.teacher_fields == ["actionable", "sentiment"]
    assert finetuned_model("triage-student") is not None
    c = report.comparison
    assert c.teacher.n == c.student.n == 48  # the gold test split
    assert 0.8 < c.teacher.quality < 0.95  # the scripted model gets one field wrong in one answer in three
    if report.promotion is None:  # the tiny random student is not non-inferior: production stays v2
        assert not c.verdict.passed
        assert PromptRegistry(get_store(), "default").get("triage", label="production").version == 2
    assert any(cmd.startswith("loopstack serve-model local/triage-student") for cmd, _ in report.next_steps())

    # A second run curates only its own traffic: with no user feedback this time, nothing of the first
    # run's corrections reaches its dataset, and the untrusted teacher alone trains nothing.
    init()
    try:
        with pytest.raises(
            InvalidInput, match="no valid training examples .*teacher label with no trusted field"
        ):
            run_demo(model="mock/prod", teacher="mock/prod", base=f"local/{tiny_model}", feedback_rate=0.0)
    finally:
        shutdown()
    again = DatasetRepository(get_store(), "default").items("triage-traffic")
    assert len(again) == 160 and all(it.expected is None for it in again)
