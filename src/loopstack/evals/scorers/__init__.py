"""Scorers: judge a model output (``Sample``) and return ``Score`` results.

Every scorer, built-in or yours, is registered by name with ``@scorer`` and built with
``get_scorer(name, **params)``. Heavy libraries (sentence-transformers, sacrebleu) load on first use.
"""

from loopstack.evals.scorers import _text  # noqa: F401  (registers the built-ins)
from loopstack.evals.scorers._base import DataType, FunctionScorer, Sample, Score, Scorer, ScoreValue
from loopstack.evals.scorers._registry import (
    ScorerSpec,
    as_scorer,
    get_scorer,
    list_scorers,
    scorer,
    scorer_spec,
)

__all__ = [
    "DataType",
    "FunctionScorer",
    "Sample",
    "Score",
    "ScoreValue",
    "Scorer",
    "ScorerSpec",
    "as_scorer",
    "get_scorer",
    "list_scorers",
    "scorer",
    "scorer_spec",
]
