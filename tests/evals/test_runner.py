"""The runner: the prompt x model matrix, errored items, epochs, template checks, baseline comparisons."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loopstack.errors import InvalidInput
from loopstack.evals.runner import evaluate
from loopstack.models import ModelRequest, ProviderError, forget_models, get_model
from loopstack.prompts import PromptRegistry
from loopstack.store import Store, get_store
from loopstack.store.runs import RunRepository

REVIEWS = [
    ("r01", "I love it", "positive"),
    ("r02", "I hate it", "negative"),
    ("r03", "love the design", "positive"),
    ("r04", "crashes all the time, hate", "negative"),
    ("r05", "love love love", "positive"),
    ("r06", "hate the ads", "negative"),
    ("r07", "it is fine, love it", "positive"),
    ("r08", "never again, hate", "negative"),
]


@pytest.fixture(autouse=True)
def _fresh_models() -> Iterator[None]:
    forget_models()
    yield
    forget_models()


def _dataset(tmp_path: Path, rows: list[dict[str, Any]] | None = None) -> Path:
    rows = rows or [
        {"id": k, "review": text, "expected": label, "split": "test" if i % 4 else "train"}
        for i, (k, text, label) in enumerate(REVIEWS)
    ]
    path = tmp_path / "reviews.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def _suite(tmp_path: Path, body: str) -> Path:
    _dataset(tmp_path)
    path = tmp_path / "suite.yaml"
    path.write_text(body)
    return path


def _classifier(words: dict[str, str]) -> Any:
    def answer(request: ModelRequest) -> str:
        text = request.messages[-1].content
        for word, label in words.items():
            if word in text:
                return label
        return "neutral"

    return answer


def _push(store: Store, name: str, content: str, labels: list[str] = ()) -> int:  # type: ignore[assignment]
    result = PromptRegistry(store, "default").push(
        name, [{"role": "user", "content": content}], labels=labels
    )
    return result.version


def test_matrix_of_prompts_and_models_shares_a_group_and_stores_every_item(tmp_path: Path) -> None:
    store = get_store()
    _push(store, "triage", "{{ review }}", ["production"])
    _push(store, "triage", "Review: {{ review }}")
    good = get_model("mock/good", fn=_classifier({"love": "positive", "hate": "negative"}))
    get_model("mock/bad", fn=_classifier({"zzz": "positive"}))
    suite = _suite(
        tmp_path,
        "dataset: reviews.jsonl\nprompts: [triage@production, triage@2]\nmodels: [mock/good, mock/bad]\n"
        "scorers: [exact_match]\nconcurrency: 3\ncache: false\n",
    )
    result = evaluate(suite)

    assert len(result.runs) == 4
    assert len({r.run.group_id for r in result.runs}) == 1
    cells = {(r.run.prompt_name, r.run.prompt_version, r.run.model) for r in result.runs}
    assert cells == {("triage", v, m) for v in (1, 2) for m in ("mock/good", "mock/bad")}
    by_cell = {(r.run.prompt_version, r.run.model): r for r in result.runs}
    assert by_cell[(1, "mock/good")]["exact_match"].mean == 1.0
    assert by_cell[(2, "mock/bad")]["exact_match"].mean == 0.0
    assert by_cell[(1, "mock/good")]["exact_match"].n == 8
    assert good.provider.calls == 16  # two prompt versions x 8 items
    repo = RunRepository(store)
    for r in result.runs:
        stored = repo.get(r.run.id)
        assert stored.status == "completed"
        assert stored.config["prompt"]["version"] == r.run.prompt_version
        items = repo.items(r.run.id)
        assert len(items) == 8 and all(i.score("exact_match") is not None for i in items)
    # the first prompt is the baseline: triage@2 is compared with triage@1 on each model
    assert {(c.baseline.prompt_version, c.candidate.prompt_version) for c in result.comparisons} == {(1, 2)}


def test_an_item_that_errors_is_recorded_and_the_run_completes(tmp_path: Path) -> None:
    def flaky(request: ModelRequest) -> str:
        if "crashes" in request.messages[-1].content:
            raise ProviderError("upstream exploded", provider="mock")
        return "positive"

    get_model("mock/flaky", fn=flaky)
    suite = _suite(
        tmp_path,
        "dataset: reviews.jsonl\nprompts:\n  - messages: [{role: user, content: '{{ review }}'}]\n"
        "models: [mock/flaky]\nscorers: [exact_match]\ncache: false\n",
    )
    result = evaluate(suite)
    run = result.runs[0]
    assert run.run.status == "completed"
    assert run.n_errors == 1 and run.n_items == 8
    assert run["exact_match"].errors == 1 and run["exact_match"].n == 7
    items = RunRepository(get_store()).items(run.run.id)
    bad = [i for i in items if i.error]
    assert [i.item_key for i in bad] == ["r04"] and "upstream exploded" in (bad[0].error or "")


def test_epochs_are_real_resamples_and_the_cache_replays_them(tmp_path: Path) -> None:
    model = get_model("mock/sampler", fn=lambda r: f"sample {r.epoch}")
    suite = _suite(
        tmp_path,
        "dataset: reviews.jsonl\nsplit: test\n"
        "prompts:\n  - messages: [{role: user, content: '{{ review }}'}]\n"
        "models: [mock/sampler]\nscorers: [exact_match]\nepochs: 3\n",
    )
    first = evaluate(suite)
    assert model.provider.calls == 6 * 3  # 6 test items x 3 epochs, each epoch a distinct call
    items = RunRepository(get_store()).items(first.runs[0].run.id)
    assert sorted({i.output for i in items}) == ["sample 0", "sample 1", "sample 2"]
    assert first.runs[0]["exact_match"].n == 6  # epochs are averaged per item

    evaluate(suite)  # the same suite again: every answer comes from the response cache
    assert model.provider.calls == 18


def test_a_row_missing_a_template_variable_is_reported_before_any_call(tmp_path: Path) -> None:
    model = get_model("mock/never", fn=lambda r: "x")
    _dataset(tmp_path, [{"id": "a", "review": "ok"}, {"id": "b", "text": "no review here"}])
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "dataset: reviews.jsonl\nprompts:\n  - messages: [{role: user, content: '{{ review }}'}]\n"
        "models: [mock/never]\n"
    )
    with pytest.raises(
        InvalidInput, match=r"reviews.jsonl row 2 \(item 'b'\): missing template variable 'review'"
    ):
        evaluate(suite)
    assert model.provider.calls == 0
    assert RunRepository(get_store()).list_runs() == []


def test_baseline_label_comparison_flags_a_significant_regression(tmp_path: Path) -> None:
    store = get_store()
    _push(store, "triage", "{{ review }}", ["production"])
    _push(store, "triage", "Candidate: {{ review }}", ["staging"])

    def answer(request: ModelRequest) -> str:
        text = request.messages[-1].content
        if text.startswith("Candidate"):
            return "neutral"  # the candidate prompt breaks every answer
        return "positive" if "love" in text else "negative"

    get_model("mock/m", fn=answer)
    rows = [
        {
            "id": f"i{i}",
            "review": "love" if i % 2 else "hate",
            "expected": "positive" if i % 2 else "negative",
        }
        for i in range(30)
    ]
    _dataset(tmp_path, rows)
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "dataset: reviews.jsonl\nprompts: [triage@staging]\nmodels: [mock/m]\nscorers: [exact_match]\n"
    )
    result = evaluate(suite, baseline="production")

    assert [r.run.prompt_version for r in result.runs] == [1, 2]  # the baseline version was added
    assert result.run("triage@staging").run.prompt_version == 2
    assert result.run("triage@production")["exact_match"].mean == 1.0
    (comparison,) = result.comparisons
    assert comparison.baseline.prompt_version == 1 and comparison.candidate.prompt_version == 2
    paired = comparison.scores["exact_match"]
    assert paired.mean_diff == -1.0 and paired.losses == 30 and paired.ci_high < 0
    assert comparison.regressions == ["exact_match"]
    assert result.exit_code(fail_on_regression=True) == 2
    assert result.exit_code(fail_on_regression=False) == 0


def test_a_failed_threshold_fails_the_result_and_the_result_indexes_by_scorer(tmp_path: Path) -> None:
    get_model("mock/half", fn=_classifier({"love": "positive"}))
    suite = _suite(
        tmp_path,
        "dataset: reviews.jsonl\nprompts:\n  - messages: [{role: user, content: '{{ review }}'}]\n"
        "models: [mock/half]\nscorers:\n  - scorer: exact_match\n    name: accuracy\n    threshold: 0.8\n",
    )
    result = evaluate(suite)
    acc = result["accuracy"]
    assert acc.mean == 0.5 and acc.ci_low < 0.5 < acc.ci_high
    assert acc.threshold is not None and acc.threshold.passed is False
    assert result.exit_code() == 2


def test_an_unknown_model_fails_before_any_run_is_created(tmp_path: Path) -> None:
    from loopstack.errors import LoopstackError

    suite = _suite(
        tmp_path,
        "dataset: reviews.jsonl\nprompts:\n  - messages: [{role: user, content: '{{ review }}'}]\n"
        "models: [nosuchprovider/x]\n",
    )
    with pytest.raises(LoopstackError, match="nosuchprovider"):
        evaluate(suite)
    assert RunRepository(get_store()).list_runs() == []


def test_a_run_records_the_stored_dataset_version_and_the_git_commit(tmp_path: Path) -> None:
    import subprocess

    from loopstack.store.datasets import DatasetItem, DatasetRepository

    repo = DatasetRepository(get_store())
    repo.push("reviews", [DatasetItem(key=k, input={"review": t}, expected=e) for k, t, e in REVIEWS])
    repo.push("reviews", [DatasetItem(key="only", input={"review": "love"}, expected="positive")])
    get_model("mock/pinned", fn=_classifier({"love": "positive", "hate": "negative"}))
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "dataset: reviews@1\nprompts:\n  - messages: [{role: user, content: '{{ review }}'}]\n"
        "models: [mock/pinned]\nscorers: [exact_match]\n"
    )
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", "-C", str(tmp_path)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "suite.yaml"], check=True)
    subprocess.run([*git, "commit", "-qm", "suite"], check=True)
    head = subprocess.run(
        [*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()

    result = evaluate(suite)
    run = result.runs[0].run
    assert run.dataset_id == repo.get("reviews").id and run.dataset_version == 1
    assert result.runs[0]["exact_match"].n == 8  # version 1's eight items, not the current single one
    assert run.git_sha == head


def test_the_progress_bar_shows_items_done_and_cost(tmp_path: Path) -> None:
    import asyncio
    import io

    from rich.console import Console

    from loopstack.evals.runner import run_suite

    get_model("mock/progress", fn=lambda r: "positive")
    suite = _suite(
        tmp_path,
        "dataset: reviews.jsonl\nprompts:\n  - messages: [{role: user, content: '{{ review }}'}]\n"
        "models: [mock/progress]\n",
    )
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=120)
    asyncio.run(run_suite(suite, progress=True, console=console))
    text = buf.getvalue()
    assert "8/8" in text and "$0.0000" in text and "ETA" in text


def test_columns_gather_several_gold_columns_into_the_expected_object(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "review": "love it", "sentiment": "positive", "topic": "praise", "split": "test"},
        {"id": "b", "review": "crashes", "sentiment": "negative", "topic": "bug", "split": "test"},
    ]
    _dataset(tmp_path, rows)
    get_model("mock/json", fn=lambda r: '{"sentiment": "positive", "topic": "bug"}')
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "dataset: reviews.jsonl\ncolumns:\n  input: [review]\n  expected: [sentiment, topic]\n"
        "prompts:\n  - messages: [{role: user, content: '{{ review }}'}]\nmodels: [mock/json]\n"
        "scorers:\n  - scorer: json_field_match\n    name: fields\n"
    )
    result = evaluate(suite)
    assert result["fields"].mean == 0.5
    assert result["fields.sentiment"].mean == 0.5 and result["fields.topic"].mean == 0.5
    items = RunRepository(get_store()).items(result.runs[0].run.id)
    assert items[0].expected == {"sentiment": "positive", "topic": "praise"}
    assert items[0].input == {"review": "love it"}
