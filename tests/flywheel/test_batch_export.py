"""OpenAI Batch JSONL round trip (with bad lines reported, not fatal), masking in the Batch file, and the
training exports: OpenAI chat JSONL, Parquet read by pandas, an HF dataset through save/load_from_disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from loopstack.cli.main import cli
from loopstack.errors import InvalidInput
from loopstack.flywheel import export_batch, import_batch, to_chat_messages, training_set
from loopstack.store import Store
from loopstack.store.datasets import DatasetItem, DatasetRepository
from loopstack.store.teacher_labels import TeacherLabelRepository

TEACHER = "openai/gpt-4o-mini"


def _items(n: int) -> list[DatasetItem]:
    return [
        DatasetItem(
            key=f"r{i}",
            input={"app": "Lumen", "review": f"review {i}"},
            expected={"sentiment": "negative", "actionable": True} if i % 2 == 0 else None,
            split="test" if i == 0 else "train",
        )
        for i in range(n)
    ]


def _result(custom_id: str, content: str, *, wrapped: bool = True) -> dict[str, object]:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 100},
    }
    if not wrapped:  # a provider that returns the completion without the response wrapper
        return {"custom_id": custom_id, "body": body}
    return {"id": "batch_req_1", "custom_id": custom_id, "response": {"status_code": 200, "body": body}}


def test_batch_export_then_import_stores_the_good_lines_and_reports_the_bad(
    store: Store, tmp_path: Path
) -> None:
    DatasetRepository(store).push("reviews", _items(6))
    requests = tmp_path / "requests.jsonl"
    exported = export_batch(
        "reviews", requests, teacher=TEACHER, params={"temperature": 0, "max_tokens": 20}, store=store
    )
    assert exported.requests == 6
    lines = [json.loads(line) for line in requests.read_text().splitlines()]
    first = lines[0]
    assert set(first) == {"custom_id", "method", "url", "body"}
    assert (first["custom_id"], first["method"], first["url"]) == ("r0", "POST", "/v1/chat/completions")
    assert first["body"]["model"] == "gpt-4o-mini" and first["body"]["max_completion_tokens"] == 20
    assert first["body"]["messages"] == [{"role": "user", "content": "app: Lumen\nreview: review 0"}]

    results = tmp_path / "results.jsonl"
    rows = [
        json.dumps(_result("r0", '{"sentiment": "positive"}')),
        "{not json",
        json.dumps(_result("r1", "neutral", wrapped=False)),
        json.dumps({"custom_id": "r2", "error": {"code": "server_error", "message": "boom"}}),
        json.dumps(_result("nope", "x")),
        "",
        json.dumps(
            {"custom_id": "r3", "response": {"status_code": 400, "body": {"error": {"message": "bad"}}}}
        ),
        json.dumps(_result("r4", "negative")),
    ]
    results.write_text("\n".join(rows) + "\n")
    imported = import_batch("reviews", results, teacher=TEACHER, store=store)
    assert imported.stored == 3
    assert [n for n, _ in imported.errors] == [2, 4, 5, 7]
    assert "boom" in imported.errors[1][1] and "'nope' is not an item" in imported.errors[2][1]
    labels = {lb.item_key: lb for lb in TeacherLabelRepository(store, "default", _id(store)).labels()}
    assert labels["r0"].value == {"sentiment": "positive"} and labels["r0"].source == "batch"
    # gpt-4o-mini at $0.15/$0.60 per million tokens, half price in a batch
    assert labels["r0"].cost == pytest.approx((1000 * 0.15 + 100 * 0.60) / 1e6 / 2)
    again = import_batch("reviews", results, teacher=TEACHER, store=store)
    assert again.stored == 0 and again.duplicates == 3
    # the next export asks only for what is still unlabelled
    assert export_batch("reviews", requests, teacher=TEACHER, store=store).requests == 3


def _id(store: Store) -> str:
    return DatasetRepository(store).get("reviews").id


def test_a_results_file_with_no_usable_line_is_an_error(store: Store, tmp_path: Path) -> None:
    DatasetRepository(store).push("reviews", _items(2))
    bad = tmp_path / "bad.jsonl"
    bad.write_text("garbage\n[1, 2]\n")
    with pytest.raises(InvalidInput, match=r"no usable result in 2 lines \(line 1: "):
        import_batch("reviews", bad, teacher=TEACHER, store=store)
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(InvalidInput, match="is empty"):
        import_batch("reviews", tmp_path / "empty.jsonl", teacher=TEACHER, store=store)
    result = CliRunner().invoke(
        cli, ["label", "reviews", "--teacher", TEACHER, "--batch-import", str(tmp_path / "missing.jsonl")]
    )
    assert result.exit_code == 1 and "does not exist" in str(result.exception)


def test_the_batch_file_is_masked_by_the_project_pii_policy(tmp_path: Path) -> None:
    from loopstack.safety import disable_pii_policy, set_project_pii_policy
    from loopstack.store import get_store

    store = get_store()  # SQLite only: the policy is not a store concern, and Presidio is slow to load

    item = DatasetItem(key="a", input={"review": "Refund me, mail jane.doe@example.com"})
    DatasetRepository(store).push("reviews", [item])
    set_project_pii_policy(store, "default", external="mask")
    try:
        out = tmp_path / "requests.jsonl"
        exported = export_batch("reviews", out, teacher=TEACHER, store=store)
    finally:
        disable_pii_policy()
    assert exported.masked == 1
    text = out.read_text()
    assert "jane.doe@example.com" not in text and "Refund me" in text


def test_chat_messages_and_openai_chat_export(store: Store, tmp_path: Path) -> None:
    DatasetRepository(store).push("reviews", _items(4))
    repo = TeacherLabelRepository(store, "default", _id(store))
    from loopstack.store.teacher_labels import TeacherLabel

    repo.save(
        [
            TeacherLabel(
                item_key="r1",
                teacher=TEACHER,
                output='{"sentiment": "neutral"}',
                value={"sentiment": "neutral"},
            )
        ]
    )
    system = "Label the review as JSON."
    result = CliRunner().invoke(
        cli,
        [
            "dataset",
            "export",
            "reviews",
            "-o",
            str(tmp_path / "train.jsonl"),
            "--format",
            "openai-chat",
            "--system-prompt",
            system,
            "--weight",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Wrote 3 openai-chat examples" in result.output and "1 items without an answer" in result.output
    lines = [json.loads(line) for line in (tmp_path / "train.jsonl").read_text().splitlines()]
    assert lines[0] == {
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": "app: Lumen\nreview: review 0"},
            {"role": "assistant", "content": '{"sentiment": "negative", "actionable": true}', "weight": 1},
        ]
    }
    assert lines[1]["messages"][-1]["content"] == '{"sentiment": "neutral"}'  # the teacher's label
    # the served request is the same messages without the answer
    item = DatasetRepository(store).items("reviews")[0]
    assert to_chat_messages(item, system_prompt=system, include_target=False) == lines[0]["messages"][:2]
    with pytest.raises(InvalidInput, match="has no item with an expected output"):
        training_set("reviews", labels="expected", split="nope", store=store)


def test_parquet_and_hf_exports_load_back(store: Store, tmp_path: Path) -> None:
    import pandas as pd
    from datasets import load_from_disk

    DatasetRepository(store).push("reviews", _items(4))
    runner = CliRunner()
    parquet = tmp_path / "train.parquet"
    result = runner.invoke(cli, ["dataset", "export", "reviews", "-o", str(parquet), "--system-prompt", "S"])
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(parquet)
    assert list(frame["key"]) == ["r0", "r2"] and list(frame["split"]) == ["test", "train"]
    assert frame["messages"][0][0]["content"] == "S"
    folder = tmp_path / "hf"
    result = runner.invoke(cli, ["dataset", "export", "reviews", "-o", str(folder), "--format", "hf"])
    assert result.exit_code == 0, result.output
    loaded = load_from_disk(str(folder))
    assert len(loaded) == 2 and loaded[0]["messages"][-1]["role"] == "assistant"
    assert training_set("reviews", store=store).to_hf().num_rows == 2
    # the plain item export is unchanged without a chat option
    result = runner.invoke(cli, ["dataset", "export", "reviews", "-o", str(tmp_path / "items.jsonl")])
    assert json.loads((tmp_path / "items.jsonl").read_text().splitlines()[0])["review"] == "review 0"
