"""Scorers: judge a model output (``Sample``) and return ``Score`` results.

Every scorer, built-in or yours, is registered by name with ``@scorer`` and built with
``get_scorer(name, **params)``. Heavy libraries (sentence-transformers, sacrebleu) load on first use.
"""

# Importing the built-in modules registers them (their heavy imports happen inside functions).
from loopstack.evals.scorers import _json, _label, _numeric, _reference, _similarity, _text  # noqa: F401
from loopstack.evals.scorers._base import DataType, FunctionScorer, Sample, Score, Scorer, ScoreValue
from loopstack.evals.scorers._json import extract_json, values_match
from loopstack.evals.scorers._judges import (
    JudgeParseError,
    PairwiseJudge,
    PairwiseResult,
    RubricJudge,
    parse_rating,
    parse_verdict,
)
from loopstack.evals.scorers._label import LabelMatch
from loopstack.evals.scorers._numeric import parse_number
from loopstack.evals.scorers._registry import (
    ScorerSpec,
    as_scorer,
    get_scorer,
    list_scorers,
    scorer,
    scorer_spec,
)
from loopstack.evals.scorers._similarity import embedding_model
from loopstack.evals.scorers._text import normalise

__all__ = [
    "DataType",
    "FunctionScorer",
    "JudgeParseError",
    "LabelMatch",
    "PairwiseJudge",
    "PairwiseResult",
    "RubricJudge",
    "Sample",
    "Score",
    "ScoreValue",
    "Scorer",
    "ScorerSpec",
    "as_scorer",
    "embedding_model",
    "extract_json",
    "get_scorer",
    "list_scorers",
    "normalise",
    "parse_number",
    "parse_rating",
    "parse_verdict",
    "scorer",
    "scorer_spec",
    "values_match",
]
