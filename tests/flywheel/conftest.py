"""Fixtures of the fine-tuning tests: a toy labelled dataset in the store and a tiny model on disk."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from flywheel._tiny import build_tiny_model

WORDS_POS = ["great", "love", "fast", "nice", "perfect"]
WORDS_NEG = ["crash", "slow", "broken", "awful", "bug"]


def toy_items(n: int = 40, seed: int = 0) -> list:
    from loopstack.store.datasets import DatasetItem

    rng = random.Random(seed)
    items = []
    for i in range(n):
        pos = i % 2 == 0
        words = rng.sample(WORDS_POS if pos else WORDS_NEG, 2)
        split = "test" if i >= n - 8 else ("validation" if i >= n - 12 else "train")
        items.append(
            DatasetItem(
                key=f"t{i:03d}",
                input={"text": f"the app is {words[0]} and {words[1]}"},
                expected={"label": "pos" if pos else "neg"},
                split=split,
            )
        )
    return items


def texts() -> list[str]:
    out = [it.input["text"] for it in toy_items()]
    out += [
        '{"label": "pos"}',
        '{"label": "neg"}',
        "text: ",
        "Answer with one line of JSON and nothing else.",
    ]
    return out


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny-llama", texts())


@pytest.fixture
def toy_dataset(loopstack_home: Path) -> str:
    from loopstack.store import get_store
    from loopstack.store.datasets import DatasetRepository

    DatasetRepository(get_store(), "default").push("toy", toy_items())
    return "toy"
