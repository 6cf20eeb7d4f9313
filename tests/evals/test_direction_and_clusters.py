"""Run statistics respect what a scorer measures: lower-is-better scorers (tokens, latency, TER, cost)
fail thresholds and regress in the right direction, and items that share a cluster key get clustered CIs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from loopstack.evals.compare import compare_stored_runs
from loopstack.evals.runner import evaluate
from loopstack.models import ModelRequest, forget_models, get_model
from loopstack.prompts import PromptRegistry
from loopstack.store import get_store
from loopstack.store.runs import RunRepository


@pytest.fixture(autouse=True)
def _fresh_models() -> Iterator[None]:
    forget_models()
    yield
    forget_models()


def _write(tmp_path: Path, suite: str, rows: list[dict[str, object]]) -> Path:
    (tmp_path / "data.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    path = tmp_path / "suite.yaml"
    path.write_text(suite)
    return path


def _rows(n: int = 20, clusters: int | None = None) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for i in range(n):
        row: dict[str, object] = {"id": f"i{i:02d}", "text": f"item {i}", "expected": "x"}
        if clusters:
            row["cluster"] = f"c{i % clusters}"
        rows.append(row)
    return rows


def test_a_tokens_threshold_passes_when_under_the_limit_and_fails_when_over(tmp_path: Path) -> None:
    get_model("mock/terse", fn=lambda r: "ok")
    suite = (
        "dataset: data.jsonl\nprompts:\n  - messages: [{role: user, content: '{{ text }}'}]\n"
        "models: [mock/terse]\ncache: false\nscorers:\n"
        "  - scorer: tokens\n    name: short\n    threshold: LIMIT\n"
    )
    under = evaluate(_write(tmp_path, suite.replace("LIMIT", "1000"), _rows()))
    assert under.runs[0]["short"].threshold is not None
    assert under.runs[0]["short"].threshold.passed is True  # few tokens, limit 1000: fine

    over = evaluate(_write(tmp_path, suite.replace("LIMIT", "0"), _rows()))
    assert over.runs[0]["short"].threshold.passed is False  # every answer uses more than 0 tokens


def test_more_tokens_is_a_regression_and_fewer_is_not(tmp_path: Path) -> None:
    reg = PromptRegistry(get_store(), "default")
    reg.push("p", [{"role": "user", "content": "{{ text }}"}], labels=["production"])
    reg.push("p", [{"role": "user", "content": "Long: {{ text }}"}])

    def answer(request: ModelRequest) -> str:
        long = request.messages[-1].content.startswith("Long")
        i = int(request.messages[-1].content.split()[-1])
        return " ".join(["word"] * ((40 + i % 7) if long else (2 + i % 3)))

    get_model("mock/verbose", fn=answer)
    path = _write(
        tmp_path,
        "dataset: data.jsonl\nprompts: [p@production, p@2]\nmodels: [mock/verbose]\ncache: false\n"
        "scorers:\n  - scorer: tokens\n",
        _rows(40),
    )
    result = evaluate(path)
    (comparison,) = result.comparisons
    assert comparison.scores["tokens"].mean_diff > 0  # the candidate spends more tokens...
    assert comparison.regressions == ["tokens"]  # ...which is worse, not better

    # The same two runs the other way round: spending fewer tokens is an improvement.
    repo = RunRepository(get_store())
    base, cand = comparison.baseline.id, comparison.candidate.id
    reverse, items = compare_stored_runs(repo, cand, base)
    assert reverse.regressions == [] and items == []
    forward, items = compare_stored_runs(repo, base, cand)
    assert forward.regressions == ["tokens"] and len(items) == 40
    assert forward.verdict("tokens") == "worse" and reverse.verdict("tokens") == "better"


def test_items_sharing_a_cluster_key_get_a_clustered_interval(tmp_path: Path) -> None:
    # Answers are right for whole clusters at a time: the items are not independent.
    def answer(request: ModelRequest) -> str:
        i = int(request.messages[-1].content.split()[-1])
        return "x" if i % 4 in (0, 1) else "y"

    get_model("mock/clustered", fn=answer)
    suite = (
        "dataset: data.jsonl\nprompts:\n  - messages: [{role: user, content: '{{ text }}'}]\n"
        "models: [mock/clustered]\ncache: false\nscorers: [exact_match]\n"
    )
    clustered_run = evaluate(_write(tmp_path, suite, _rows(40, clusters=4))).runs[0]
    independent = evaluate(_write(tmp_path, suite, _rows(40))).runs[0]["exact_match"]
    clustered = clustered_run["exact_match"]

    assert clustered.mean == independent.mean == 0.5
    assert clustered.estimate.method == "clustered"
    assert independent.estimate.method != "clustered"
    # 4 clusters carry far less information than 40 independent items: a much wider interval
    assert clustered.ci_high - clustered.ci_low > 2 * (independent.ci_high - independent.ci_low)
    # the cluster keys are stored with the items, so a later summary recomputes the same interval
    items = RunRepository(get_store()).items(clustered_run.run.id)
    assert {i.cluster for i in items} == {"c0", "c1", "c2", "c3"}
