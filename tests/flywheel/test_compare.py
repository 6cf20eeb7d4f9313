"""Student vs teacher: the non-inferiority verdict on constructed data, and the whole comparison on mocks."""

from __future__ import annotations

import asyncio
import json
import random

import pytest

from loopstack.errors import InvalidInput
from loopstack.evals.stats import paired_comparison
from loopstack.flywheel._compare import agreement, non_inferiority


def _pair(n: int, p_down: float, p_up: float, seed: int) -> tuple[dict[str, float], dict[str, float]]:
    """Teacher scores in {1/3, 2/3}; the student moves one field down or up with the given chances."""
    rng = random.Random(seed)
    teacher, student = {}, {}
    for i in range(n):
        t = rng.choice([1 / 3, 2 / 3])
        r = rng.random()
        teacher[f"i{i}"] = t
        student[f"i{i}"] = t - 1 / 3 if r < p_down else t + 1 / 3 if r < p_down + p_up else t
    return teacher, student


@pytest.mark.parametrize(
    ("n", "p_down", "p_up", "expected"),
    [
        (400, 0.2, 0.2, "non-inferior"),  # as good: the lower bound clears -0.05
        (400, 0.9, 0.0, "inferior"),  # far worse: even the upper bound is below -0.05
        (150, 0.3, 0.15, "inconclusive"),  # worse by about the margin: the interval straddles -0.05
    ],
)
def test_non_inferiority_reads_the_lower_bound_of_the_paired_ci(
    n: int, p_down: float, p_up: float, expected: str
) -> None:
    teacher, student = _pair(n, p_down, p_up, seed=11)
    paired = paired_comparison(teacher, student)
    v = non_inferiority(paired, 0.05)
    assert v.verdict == expected, v.reason
    assert (v.ci_low > -0.05) == (expected == "non-inferior")
    assert v.passed == (expected == "non-inferior")
    assert v.ci_low == paired.ci_low and v.diff == paired.mean_diff  # read from the eval's paired CI


def test_no_verdict_where_the_statistics_withhold_one() -> None:
    paired = paired_comparison({"a": 1.0, "b": 0.0}, {"a": 1.0, "b": 1 / 3})
    assert non_inferiority(paired, 0.05).verdict == "cannot back a verdict"
    with pytest.raises(InvalidInput, match="--margin"):
        non_inferiority(paired, -0.1)


def test_agreement_kappa_and_exact_match() -> None:
    teacher = {"a": {"s": "pos"}, "b": {"s": "neg"}, "c": {"s": "pos"}, "d": {"s": "neg"}}
    same = agreement(teacher, dict(teacher), ["s"])
    assert same == ({"s": 1.0}, 1.0)
    flipped = {k: {"s": "neg" if v["s"] == "pos" else "pos"} for k, v in teacher.items()}
    kappa, exact = agreement(teacher, flipped, ["s"])
    assert kappa["s"] == pytest.approx(-1.0) and exact == 0.0
    kappa, exact = agreement(
        teacher, {"a": None, "b": {"s": "neg"}, "c": {"s": "pos"}, "d": {"s": "neg"}}, ["s"]
    )
    assert 0 < kappa["s"] < 1 and exact == 0.75  # an answer with no JSON is a disagreement


def test_compare_student_and_teacher_on_the_test_split(loopstack_home) -> None:
    from loopstack.flywheel._compare import compare_student
    from loopstack.models import get_model
    from loopstack.prompts import PromptRegistry
    from loopstack.store import get_store
    from loopstack.store.datasets import DatasetItem, DatasetRepository

    rng = random.Random(3)
    items, gold = [], {}
    for i in range(60):
        label = {
            "sentiment": rng.choice(["positive", "negative"]),
            "topic": rng.choice(["bug", "ui", "praise"]),
        }
        gold[f"review {i}"] = label
        items.append(DatasetItem(key=f"r{i}", input={"review": f"review {i}"}, expected=label, split="test"))
    items.append(
        DatasetItem(
            key="x",
            input={"review": "train"},
            expected={"sentiment": "positive", "topic": "ui"},
            split="train",
        )
    )
    store = get_store()
    DatasetRepository(store, "default").push("reviews", items)
    PromptRegistry(store, "default").push(
        "triage",
        [{"role": "system", "content": "long prompt " * 50}, {"role": "user", "content": "{{ review }}"}],
        params={"temperature": 0},
        labels=["production"],
    )
    PromptRegistry(store, "default").push(
        "student",
        [{"role": "system", "content": "short"}, {"role": "user", "content": "{{ review }}"}],
        params={"temperature": 0},
    )
    wrong = {"sentiment": "neutral", "topic": "bug"}
    teacher = {k: json.dumps(v if i % 3 else wrong) for i, (k, v) in enumerate(gold.items())}
    student = {k: json.dumps(v if i % 4 else wrong) for i, (k, v) in enumerate(gold.items())}
    get_model("mock/teacher", mapping=teacher)
    get_model("mock/student", mapping=student)
    result = asyncio.run(
        compare_student(
            student="mock/student",
            teacher="mock/teacher",
            dataset="reviews",
            split="test",
            student_prompt="student@latest",
            teacher_prompt="triage@production",
            student_price_per_1k_calls=0.02,
        )
    )
    assert result.teacher.n == result.student.n == 60  # the test split only
    assert result.student.quality > result.teacher.quality
    assert set(result.student.fields) == {"sentiment", "topic"}
    assert result.teacher.prompt_tokens > 10 * result.student.prompt_tokens
    assert result.student.cost_per_1k == 0.02 and result.teacher.cost_per_1k == 0.0
    assert result.paired.n == 120 and result.paired.n_clusters == 60  # 60 items x 2 fields, by item
    assert result.paired.mean_diff == pytest.approx(result.student.quality - result.teacher.quality)
    assert result.verdict == non_inferiority(result.paired, 0.05)
    assert 0 < result.exact_match < 1 and all(k is not None for k in result.kappa.values())
    text = "\n".join(result.lines())
    assert "Verdict (margin 0.05): " + result.verdict.verdict.upper() in text
    assert "prompt tokens / call" in text


def test_a_dataset_without_gold_objects_is_refused_before_any_call(loopstack_home) -> None:
    from loopstack.flywheel._compare import compare_student
    from loopstack.models import get_model
    from loopstack.store import get_store
    from loopstack.store.datasets import DatasetItem, DatasetRepository

    DatasetRepository(get_store(), "default").push(
        "plain", [DatasetItem(key="a", input={"q": "x"}, split="test")]
    )
    teacher = get_model("mock/t2", default="{}")
    with pytest.raises(InvalidInput, match="needs an expected JSON object"):
        asyncio.run(
            compare_student(student="mock/s2", teacher="mock/t2", dataset="plain", student_prompt="p")
        )
    assert teacher.provider.calls == 0


def test_field_level_pairing_backs_a_verdict_where_per_item_averages_cannot() -> None:
    from loopstack.flywheel._compare import field_paired
    from loopstack.store.runs import RunItemRecord, ScoreRow

    def item(key: str, passed: list[bool]) -> RunItemRecord:
        scores = [
            ScoreRow(name=f"fields.{f}", data_type="boolean", value=float(p))
            for f, p in zip("ab", passed, strict=True)
        ]
        scores.append(ScoreRow(name="fields", data_type="numeric", value=sum(passed) / 2))
        return RunItemRecord(
            "", "", key, 0, {}, None, "", None, None, None, None, None, False, None, None, None, scores
        )

    # 48 items; the student fixes one field on 20 of them and breaks nothing: only 20 items change
    teacher = [item(f"r{i}", [True, i >= 20]) for i in range(48)]
    student = [item(f"r{i}", [True, True]) for i in range(48)]
    per_item = paired_comparison(
        {t.item_key: t.score("fields").value for t in teacher},
        {s.item_key: s.score("fields").value for s in student},
    )
    assert non_inferiority(per_item, 0.05).verdict == "cannot back a verdict"  # 20 < 30 changed items
    paired = field_paired(teacher, student, ["a", "b"])
    assert paired.n_clusters == 48 and paired.mean_diff == pytest.approx(20 / 96)
    assert non_inferiority(paired, 0.05).verdict == "non-inferior" and paired.ci_low > 0
