"""Scorers: the registry, and each built-in's values on cases a user would recognise."""

from __future__ import annotations

import asyncio

import pytest

from loopstack.errors import InvalidInput, NotFound
from loopstack.evals.scorers import (
    Sample,
    Score,
    Scorer,
    as_scorer,
    extract_json,
    get_scorer,
    list_scorers,
    scorer,
)

BUILTINS = {
    "exact_match", "contains", "icontains", "regex", "starts_with", "json_valid", "json_schema",
    "json_field_match", "numeric", "levenshtein", "bleu", "chrf", "ter", "rouge", "semantic_similarity",
    "latency", "tokens", "cost", "label", "rubric_judge", "pairwise_judge",
}  # fmt: skip


def score(name: str, output: str | None, expected: object = None, **params: object) -> list[Score]:
    return asyncio.run(get_scorer(name, **params).score(Sample(output=output, expected=expected)))


def one(name: str, output: str | None, expected: object = None, **params: object) -> Score:
    (s,) = score(name, output, expected, **params)
    return s


# -- registry ------------------------------------------------------------------------------------------


def test_builtins_are_registered_by_name_like_any_plugin() -> None:
    assert {s.name for s in list_scorers()} >= BUILTINS


def test_function_scorer_records_name_version_params_and_threshold() -> None:
    @scorer("word_count_ok", version="3")
    def word_count(sample: Sample, *, limit: int = 5) -> float:
        return float(len(sample.output_text.split()) <= limit)

    s = get_scorer("word_count_ok", limit=2, threshold=0.5)
    (result,) = asyncio.run(s.score(Sample(output="one two three")))
    assert (result.name, result.value, result.passed) == ("word_count_ok", 0.0, False)
    assert (result.scorer, result.scorer_version, result.params) == (
        "word_count_ok",
        "3",
        {"limit": 2, "threshold": 0.5},
    )
    assert word_count(Sample(output="a b")) == 1.0  # the decorated function still works directly
    assert as_scorer(word_count).name == "word_count_ok"


async def test_async_and_class_scorers_and_multiple_scores() -> None:
    @scorer("async_len")
    async def async_len(sample: Sample) -> int:
        await asyncio.sleep(0)
        return len(sample.output_text)

    @scorer("two_figures", version="2")
    class TwoFigures(Scorer):
        def compute(self, sample: Sample) -> list[Score]:
            return [Score("two.a", 1.0), Score("two.b", True, data_type="boolean")]

    (length,) = await get_scorer("async_len").score(Sample(output="abcd"))
    assert (length.value, length.data_type) == (4.0, "numeric")
    figures = await get_scorer("two_figures").score(Sample(output="x"))
    assert [(f.name, f.scorer_version, f.passed) for f in figures] == [
        ("two.a", "2", None),
        ("two.b", "2", True),
    ]


async def test_a_raising_scorer_yields_an_errored_score_not_an_exception() -> None:
    @scorer("explodes")
    def explodes(sample: Sample) -> bool:
        raise RuntimeError("boom")

    (result,) = await get_scorer("explodes").score(Sample(output="x"))
    assert result.error == "RuntimeError: boom"
    assert result.value is None and result.passed is None and result.numeric is None
    (missing,) = await get_scorer("exact_match").score(Sample(output=None, error="timeout", expected="a"))
    assert missing.error is not None and "timeout" in missing.error


def test_unknown_scorer_and_parameter_errors_name_what_is_known() -> None:
    with pytest.raises(NotFound, match=r"no scorer named 'exakt_match' \(known: .*exact_match"):
        get_scorer("exakt_match")
    with pytest.raises(
        InvalidInput, match=r"scorer 'exact_match' has no parameter 'casesensitive' \(it takes: "
    ):
        get_scorer("exact_match", casesensitive=False)
    with pytest.raises(InvalidInput, match=r"scorer 'regex': .*unterminated"):
        get_scorer("regex", pattern="(")


def test_alias_renames_scores_and_storage_values() -> None:
    s = one("exact_match", "a", "a", alias="label_ok")
    assert s.name == "label_ok" and s.scorer == "exact_match"
    assert s.storage_values() == (1.0, None)
    assert Score("x", "pos", data_type="categorical").storage_values() == (None, "pos")
    assert Score.from_dict(s.to_dict()) == s


# -- text ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("output", "expected", "params", "hit"),
    [
        ("Positive", "positive", {}, False),
        ("Positive", "positive", {"case_sensitive": False}, True),
        ("  positive \n", "positive", {}, True),
        ("positive", " positive", {"strip": False}, False),
        ("very   good", "very good", {"collapse_whitespace": True}, True),
        ("positive!", "positive", {"ignore_punctuation": True}, True),
        ("b", ["a", "b"], {}, True),
    ],
)
def test_exact_match_normalisation(output: str, expected: object, params: dict[str, bool], hit: bool) -> None:
    s = one("exact_match", output, expected, **params)
    assert s.value is hit and s.passed is hit and s.data_type == "boolean"


def test_contains_icontains_starts_with_regex() -> None:
    assert one("contains", "The answer is Paris.", "Paris").value is True
    assert one("contains", "The answer is paris.", "Paris").value is False
    assert one("icontains", "The answer is paris.", "Paris").value is True
    assert one("contains", "no", value=["yes", "no"]).value is True
    assert one("starts_with", "  Yes, because", "Yes").value is True
    assert one("starts_with", "Well, yes", "Yes").value is False
    assert one("regex", "Order #12345 shipped", pattern=r"#\d{5}\b").value is True
    assert one("regex", "ABC", pattern="abc", ignore_case=True, full_match=True).value is True
    assert one("regex", "ABC!", pattern="abc", ignore_case=True, full_match=True).value is False


# -- JSON ----------------------------------------------------------------------------------------------


def test_extract_json_tolerates_fences_and_chatter() -> None:
    assert extract_json('```json\n{"a": 1}\n```') == {"a": 1}
    assert extract_json('Sure! Here it is: {"a": [1, 2]} Hope that helps.') == {"a": [1, 2]}
    assert extract_json('```\n{"a": 1}') == {"a": 1}  # unterminated fence
    with pytest.raises(ValueError):
        extract_json("no json here")


def test_json_valid_and_schema() -> None:
    assert one("json_valid", '```json\n{"a": 1}\n```').value is True
    assert one("json_valid", '```json\n{"a": 1}\n```', strict=True).value is False
    assert one("json_valid", "[1]", require_object=True).value is False
    schema = {"type": "object", "properties": {"label": {"enum": ["pos", "neg"]}}, "required": ["label"]}
    assert one("json_schema", '{"label": "pos"}', schema=schema).value is True
    bad = one("json_schema", '{"label": "meh"}', schema=schema)
    assert (
        bad.value is False
        and bad.explanation is not None
        and bad.explanation.startswith("label: 'meh' is not one of")
    )
    with pytest.raises(InvalidInput, match="invalid JSON schema"):
        get_scorer("json_schema", schema={"type": "nonsense"})


def test_json_field_match_reports_each_field_and_the_share() -> None:
    output = '```json\n{"label": "Positive", "urgency": "3", "team": "billing"}\n```'
    expected = {"label": "positive", "urgency": 3, "team": "support"}
    scores = {s.name: s for s in score("json_field_match", output, expected)}
    assert scores["json_field_match"].value == pytest.approx(2 / 3)
    assert scores["json_field_match"].passed is False
    assert [scores[f"json_field_match.{f}"].value for f in ("label", "urgency", "team")] == [
        True,
        True,
        False,
    ]
    assert scores["json_field_match.team"].explanation == "got 'billing', expected 'support'"
    only = score("json_field_match", output, expected, fields=["label"], case_sensitive=True)
    assert [(s.name, s.value) for s in only] == [("json_field_match", 0.0), ("json_field_match.label", False)]
    garbage = score("json_field_match", "I cannot answer", expected)
    assert garbage[0].value == 0.0 and garbage[0].error is None
    assert garbage[0].explanation == "the output has no JSON object"
    errored = score("json_field_match", "{}", "not json")
    assert errored[0].error is not None


# -- numbers and limits ------------------------------------------------------------------------------


def test_numeric_tolerance() -> None:
    assert one("numeric", "The total is 1,234.5 dollars", 1234.5).value is True
    assert one("numeric", "42", "41", abs_tol=0.5).value is False
    assert one("numeric", "42", "41", abs_tol=1).value is True
    assert one("numeric", "105", 100, rel_tol=0.05).value is True
    assert one("numeric", "no idea", 3).value is False


async def test_latency_tokens_cost_thresholds_pass_at_or_under_the_limit() -> None:
    sample = Sample(output="x", latency_ms=1500.0, input_tokens=100, output_tokens=20, cost=0.002)
    (lat,) = await get_scorer("latency", max_ms=2000).score(sample)
    assert (lat.value, lat.passed) == (1500.0, True)
    (slow,) = await get_scorer("latency", max_ms=1000).score(sample)
    assert slow.passed is False
    (tok,) = await get_scorer("tokens", which="total", max_tokens=100).score(sample)
    assert (tok.value, tok.passed) == (120.0, False)
    (cost,) = await get_scorer("cost", max_cost=0.01).score(sample)
    assert (cost.value, cost.passed) == (0.002, True)
    (none,) = await get_scorer("cost").score(Sample(output="x"))
    assert none.error is not None and "no cost recorded" in none.error


def test_levenshtein_ratio_matches_rapidfuzz() -> None:
    from rapidfuzz.distance import Levenshtein

    s = one("levenshtein", "kitten", "sitting")
    assert s.value == pytest.approx(1 - 3 / 7)
    assert s.value == pytest.approx(Levenshtein.normalized_similarity("kitten", "sitting"))
    assert one("levenshtein", "ABC", "abc", case_sensitive=False).value == 1.0
    assert one("levenshtein", "ab", "ab", threshold=0.9).passed is True


async def test_a_plain_function_is_used_without_replacing_a_registered_scorer() -> None:
    def exact_match(sample: Sample) -> float:
        return 0.25

    mine = as_scorer(exact_match)
    (s,) = await mine.score(Sample(output="a", expected="a"))
    assert (s.name, s.value) == ("exact_match", 0.25)
    (builtin,) = await get_scorer("exact_match").score(Sample(output="a", expected="a"))
    assert builtin.value is True
