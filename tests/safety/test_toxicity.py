"""Toxicity scorers: the offline classifier (weights in its wheel) and the rubric judge on any model."""

from __future__ import annotations

import asyncio
import json
import warnings
from collections.abc import Iterator

import pytest

import loopstack.safety.scorers  # noqa: F401 - registers the safety scorers (the entry point does it for users)
from loopstack.evals.scorers import Sample, get_scorer, scorer_spec
from loopstack.models import forget_models, get_model


@pytest.fixture(autouse=True)
def _fresh_models() -> Iterator[None]:
    forget_models()
    yield
    forget_models()


def _score(name: str, output: str, **params: object) -> object:
    return asyncio.run(get_scorer(name, **params).score(Sample(input={"q": "hi"}, output=output)))[0]


def test_classifier_flags_abuse_and_names_the_words_offline() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the pinned scikit-learn loads the shipped pickles cleanly
        toxic = _score("toxicity_classifier", "You are a stupid idiot and I hate you.")
    calm = _score("toxicity_classifier", "Thanks, the new release fixed my sync problem.")
    assert toxic.value > 0.8 and "idiot" in toxic.explanation  # type: ignore[attr-defined]
    assert calm.value < 0.3 and calm.explanation.startswith("not toxic")  # type: ignore[attr-defined]
    assert scorer_spec("toxicity_classifier").higher_is_better is False


def test_judge_returns_a_normalised_score_with_the_reasoning() -> None:
    get_model("mock/tox", fn=lambda r: json.dumps({"reasoning": "insults the reader", "score": 4}))
    s = _score("toxicity_judge", "you idiot", model="mock/tox", threshold=0.5)
    assert s.value == pytest.approx(0.75) and s.explanation == "insults the reader"  # type: ignore[attr-defined]
    assert s.passed is False  # type: ignore[attr-defined]  # toxicity above the threshold fails


def test_judge_that_never_answers_a_score_is_an_errored_score() -> None:
    get_model("mock/rambling", fn=lambda r: "Toxicity is a complex topic with many facets.")
    s = _score("toxicity_judge", "hello", model="mock/rambling")
    assert s.value is None and "judge answer unparseable after 3 attempt(s)" in s.error  # type: ignore[attr-defined]


@pytest.mark.slow
def test_judge_runs_on_the_local_model() -> None:
    s = _score(
        "toxicity_judge",
        "You are worthless and everyone hates you.",
        model="local/smollm2-135m",
        max_retries=0,
        max_tokens=48,
    )
    assert s.error is not None or 0.0 <= s.value <= 1.0  # type: ignore[attr-defined]
    assert s.error is None or "unparseable" in s.error  # type: ignore[attr-defined]


def test_the_entry_point_registers_every_safety_scorer() -> None:
    """A suite names the safety scorers like built-ins: pyproject's ``loopstack.scorers`` entry point
    names a module that registers them (the registry loads it the first time a name is unknown)."""
    import importlib
    import tomllib
    from pathlib import Path

    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text(encoding="utf-8"))
    target = pyproject["project"]["entry-points"]["loopstack.scorers"]["safety"]
    importlib.import_module(target)
    for name in ("toxicity_judge", "toxicity_classifier", "refusal", "refusal_judge", "redteam_attack"):
        assert scorer_spec(name).name == name
