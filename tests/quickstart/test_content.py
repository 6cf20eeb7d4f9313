"""The quickstart's packaged content: a labelled, split, balanced dataset and two prompts that render."""

from __future__ import annotations

import json
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from loopstack.prompts import Prompt
from loopstack.prompts.files import load_prompt_files

CONTENT = Path(str(resources.files("loopstack.quickstart")))
SENTIMENTS = {"positive", "negative", "neutral"}
TOPICS = {"bug", "performance", "pricing", "ui", "feature_request", "account", "praise"}
FIELDS = {"id", "app", "review", "sentiment", "topic", "actionable", "split"}


def _rows() -> list[dict[str, Any]]:
    lines = (CONTENT / "reviews.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


ROWS = _rows()


def test_every_row_has_valid_fields_and_labels() -> None:
    assert len(ROWS) >= 180
    for n, row in enumerate(ROWS, 1):
        where = f"reviews.jsonl:{n}"
        assert set(row) == FIELDS, where
        assert row["sentiment"] in SENTIMENTS, where
        assert row["topic"] in TOPICS, where
        assert isinstance(row["actionable"], bool), where
        assert row["split"] in {"train", "test"}, where
        assert isinstance(row["review"], str) and row["review"].strip(), where


def test_ids_and_texts_are_unique() -> None:
    assert len({r["id"] for r in ROWS}) == len(ROWS)
    assert len({r["review"].casefold() for r in ROWS}) == len(ROWS)


def test_labels_are_balanced_enough() -> None:
    sentiments = Counter(r["sentiment"] for r in ROWS)
    topics = Counter(r["topic"] for r in ROWS)
    actionable = Counter(r["actionable"] for r in ROWS)
    assert set(sentiments) == SENTIMENTS and set(topics) == TOPICS
    assert min(sentiments.values()) >= 0.2 * len(ROWS)
    assert max(sentiments.values()) <= 0.55 * len(ROWS)
    assert min(topics.values()) >= 0.1 * len(ROWS)
    assert min(actionable.values()) >= 0.25 * len(ROWS)


def test_labels_follow_the_guide() -> None:
    """The README's rules that can be checked mechanically: praise is positive and never actionable,
    a feature request is actionable."""
    for row in ROWS:
        if row["topic"] == "praise":
            assert row["sentiment"] == "positive" and row["actionable"] is False, row["id"]
        if row["topic"] == "feature_request":
            assert row["actionable"] is True, row["id"]


def test_reviews_vary_in_length() -> None:
    words = [len(r["review"].split()) for r in ROWS]
    assert min(words) <= 3
    assert max(words) >= 20


def test_test_split_is_stratified() -> None:
    test = [r for r in ROWS if r["split"] == "test"]
    assert 40 <= len(test) <= 50
    assert {r["topic"] for r in test} == TOPICS
    assert {r["sentiment"] for r in test} == SENTIMENTS
    # each topic's share of the test split is within 5 points of its share of the whole dataset
    for topic in TOPICS:
        whole = sum(r["topic"] == topic for r in ROWS) / len(ROWS)
        part = sum(r["topic"] == topic for r in test) / len(test)
        assert abs(whole - part) <= 0.05, topic


def test_both_prompt_versions_parse_and_render_every_row() -> None:
    specs = load_prompt_files(sorted((CONTENT / "prompts").glob("*.yaml")))
    assert [s.name for s in specs] == ["triage", "triage"]
    assert specs[0].messages != specs[1].messages
    for version, spec in enumerate(specs, 1):
        assert spec.model == "local/smollm2-135m"
        assert spec.params["temperature"] == 0
        assert spec.params["max_tokens"] <= 64
        prompt = Prompt(spec.name, version, spec.messages, spec.model, spec.params)
        assert prompt.variables <= {"app", "review"}
        for row in ROWS:
            rendered = prompt.render(app=row["app"], review=row["review"])
            assert rendered.prompt_version == version
            assert row["review"] in rendered[-1]["content"]


def test_few_shot_examples_come_from_the_train_split() -> None:
    """v2's worked examples are train reviews with their gold labels, never test reviews."""
    by_text = {r["review"]: r for r in ROWS}
    v2 = load_prompt_files([CONTENT / "prompts" / "triage-v2.yaml"])[0]
    shots = [
        (user["content"].removeprefix("Review: "), json.loads(answer["content"]))
        for user, answer in zip(v2.messages[1:-1:2], v2.messages[2:-1:2], strict=True)
    ]
    assert len(shots) >= 3
    for text, answer in shots:
        row = by_text[text]
        assert row["split"] == "train"
        assert answer == {k: row[k] for k in ("sentiment", "topic", "actionable")}


@pytest.mark.parametrize(
    "name", ["reviews.jsonl", "README.md", "prompts/triage-v1.yaml", "prompts/triage-v2.yaml"]
)
def test_content_ships_in_the_package(name: str) -> None:
    assert resources.files("loopstack.quickstart").joinpath(name).is_file()
