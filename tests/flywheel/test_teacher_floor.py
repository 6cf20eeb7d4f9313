"""``--teacher-floor``: a teacher's labels are trained on only for the fields it gets right with people.

The teacher below always answers topic "ui" (right on a third of the items people answered) and the
gold sentiment (always right): with a floor of 0.8 the student must learn sentiment from the teacher's
labels, and nothing at all from its topics.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loopstack.errors import InvalidInput

TOPICS = ("bug", "ui", "price")


def _gold(i: int) -> dict[str, object]:
    return {"topic": TOPICS[i % 3], "sentiment": "neg" if i % 2 else "pos"}


def _push_traffic(n_human: int = 24, n_teacher_only: int = 8) -> str:
    """Items with a human answer, then items with none; the teacher labelled every one."""
    from loopstack.store import get_store
    from loopstack.store.datasets import DatasetItem, DatasetRepository
    from loopstack.store.teacher_labels import TeacherLabel, TeacherLabelRepository

    store = get_store()
    repo = DatasetRepository(store, "default")
    n = n_human + n_teacher_only
    items = [
        DatasetItem(
            key=f"k{i:02d}",
            input={"text": f"the app is {'great' if i % 2 == 0 else 'slow'}"},
            expected=_gold(i) if i < n_human else None,
            split="train",
        )
        for i in range(n)
    ]
    repo.push("traffic", items)
    labels = []
    for i in range(n):
        value = {"topic": "ui", "sentiment": _gold(i)["sentiment"]}
        labels.append(
            TeacherLabel(item_key=f"k{i:02d}", teacher="local/t", output=json.dumps(value), value=value)
        )
    TeacherLabelRepository(store, "default", repo.get("traffic").id).save(labels)
    return "traffic"


def test_field_value_spans_cover_each_top_level_value_exactly() -> None:
    from loopstack.flywheel._finetune_data import field_value_spans

    text = '{"topic": "bug", "nested": {"a": [1, "}"]}, "ok": true}'
    spans = field_value_spans(text)
    assert spans is not None
    assert {k: text[a:b] for k, (a, b) in spans.items()} == {
        "topic": '"bug"',
        "nested": '{"a": [1, "}"]}',
        "ok": "true",
    }
    for bad in ("", "pos", "[1, 2]", '{"a": 1', '{"a": 1} and more', "{1: 2}"):
        assert field_value_spans(bad) is None, bad


def test_untrusted_values_are_marked_and_labels_with_no_trusted_field_left_out(loopstack_home: Path) -> None:
    from loopstack.flywheel._finetune_data import build_examples, student_messages

    dataset = _push_traffic()
    messages = student_messages("Triage.", ["text"])
    examples = build_examples(dataset, messages, teacher_fields={"sentiment"})
    rows = examples.train + examples.validation
    teacher = [e for e in rows if int(e["key"][1:]) >= 24]
    human = [e for e in rows if int(e["key"][1:]) < 24]
    assert len(teacher) == 8 and len(human) == 24
    assert all("masked_spans" not in e for e in human)  # people's answers are trained on whole
    for e in teacher:
        answer = e["completion"][0]["content"]
        assert [answer[a:b] for a, b in e["masked_spans"]] == ['"ui"']
    nothing = build_examples(dataset, messages, teacher_fields=set())
    assert len(nothing.train + nothing.validation) == 24
    assert nothing.skipped == {"teacher label with no trusted field": 8}
    whole = build_examples(dataset, messages)  # no floor: the teacher's labels whole, as before
    assert all("masked_spans" not in e for e in whole.train + whole.validation)


def test_the_loss_skips_exactly_the_untrusted_values(tiny_model: Path, loopstack_home: Path) -> None:
    from transformers import AutoTokenizer

    from loopstack.flywheel._finetune_data import build_examples, student_messages
    from loopstack.flywheel._finetune_train import tokenized_example

    dataset = _push_traffic()
    tok = AutoTokenizer.from_pretrained(tiny_model)
    examples = build_examples(dataset, student_messages("Triage.", ["text"]), teacher_fields={"sentiment"})
    masked = [e for e in examples.train + examples.validation if e.get("masked_spans")]
    assert masked
    for example in masked:
        row = tokenized_example(tok, example)
        trained = tok.decode([i for i, m in zip(row["input_ids"], row["completion_mask"], strict=True) if m])
        answer = example["completion"][0]["content"]
        assert '"ui"' in answer and "ui" not in trained  # the teacher's topic is never learned
        assert (
            '{"topic":' in trained
            and example["completion"][0]["content"].split('"sentiment": ')[1] in trained
        )


def test_without_masks_our_tokenization_is_trls(tiny_model: Path, toy_dataset: str, tmp_path: Path) -> None:
    """The tokenized path (used when some answer has masked ranges) gives every other example exactly
    the tokens and loss mask TRL would have given it."""
    from loopstack.flywheel._finetune_data import build_examples, student_messages
    from loopstack.flywheel._finetune_train import TrainSettings, build_trainer

    examples = build_examples(toy_dataset, student_messages("Classify.", ["text"]))
    plain, _ = build_trainer(str(tiny_model), examples.train, [], TrainSettings(), tmp_path / "a")
    flagged = [dict(examples.train[0], masked_spans=[]), *examples.train[1:]]
    flagged[0]["masked_spans"] = [(0, 0)]  # an empty range: the tokenized path, nothing masked
    ours, _ = build_trainer(str(tiny_model), flagged, [], TrainSettings(), tmp_path / "b")
    assert "completion_mask" not in plain.train_dataset.column_names
    for a, b in zip(plain.train_dataset, ours.train_dataset, strict=True):
        assert (a["input_ids"], a["labels"]) == (b["input_ids"], b["labels"])


def test_finetune_with_a_teacher_floor_says_what_it_trained_on(
    tiny_model: Path, loopstack_home: Path
) -> None:
    from loopstack.flywheel import finetune

    dataset = _push_traffic()
    result = finetune(
        dataset, name="floored", base=f"local/{tiny_model}", teacher_floor=0.8, max_steps=2, seed=1
    )
    assert result.teacher_fields == ["sentiment"] and result.teacher_floor == 0.8
    assert "teacher labels trained on: sentiment (agreement with people >= 0.8)" in result.summary_lines()[2]
    none = finetune(dataset, name="floored2", base=f"local/{tiny_model}", teacher_floor=1.0, max_steps=1)
    assert none.teacher_fields == ["sentiment"]  # 1.0: the teacher's sentiment is right on every item
    with pytest.raises(InvalidInput, match="--teacher-floor 1.5"):
        finetune(dataset, name="x", base=f"local/{tiny_model}", teacher_floor=1.5)
    with pytest.raises(InvalidInput, match="--teacher-floor -0.1"):  # refused even where it has no effect
        finetune(dataset, name="x", base=f"local/{tiny_model}", teacher_floor=-0.1, labels="expected")


def test_the_openai_backend_refuses_partly_trusted_labels_before_any_request(loopstack_home: Path) -> None:
    """OpenAI fine-tuning weighs whole messages, so a label trusted on only some fields cannot go there."""
    from loopstack.flywheel import finetune

    dataset = _push_traffic()
    with pytest.raises(InvalidInput, match="OpenAI fine-tuning weighs whole messages"):
        finetune(
            dataset,
            name="remote",
            backend="openai",
            base="gpt-4o-mini-2024-07-18",
            teacher_floor=0.8,
            openai={"base_url": "http://127.0.0.1:9/v1", "api_key": "sk-test"},
        )
