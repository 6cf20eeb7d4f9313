"""Evals: datasets, scorers, statistics (and the runner built on them).

Kept light on import: every name below loads its module on first use, so importing a submodule
(``loopstack.evals.stats``) loads neither the store nor the scorers.
"""

from typing import TYPE_CHECKING

from loopstack._lazy import lazy_names

if TYPE_CHECKING:
    from loopstack.evals._outcome import EvalResult, RunComparison, RunSummary, ScoreSummary, summarize
    from loopstack.evals.datasets import Dataset, load_dataset
    from loopstack.evals.runner import evaluate, resume_run, run_suite
    from loopstack.evals.scorers import Sample, Score, Scorer, get_scorer, scorer
    from loopstack.evals.suite import Suite, load_suite
    from loopstack.store.datasets import DatasetItem

# The runner pulls in numpy, datasets the store, scorers their registry: each loads when first used.
_LAZY = {
    "Dataset": "loopstack.evals.datasets",
    "load_dataset": "loopstack.evals.datasets",
    "DatasetItem": "loopstack.store.datasets",
    "Sample": "loopstack.evals.scorers",
    "Score": "loopstack.evals.scorers",
    "Scorer": "loopstack.evals.scorers",
    "get_scorer": "loopstack.evals.scorers",
    "scorer": "loopstack.evals.scorers",
    "EvalResult": "loopstack.evals._outcome",
    "RunComparison": "loopstack.evals._outcome",
    "RunSummary": "loopstack.evals._outcome",
    "ScoreSummary": "loopstack.evals._outcome",
    "summarize": "loopstack.evals._outcome",
    "evaluate": "loopstack.evals.runner",
    "resume_run": "loopstack.evals.runner",
    "run_suite": "loopstack.evals.runner",
    "Suite": "loopstack.evals.suite",
    "load_suite": "loopstack.evals.suite",
}


__getattr__ = lazy_names(__name__, _LAZY)

__all__ = [
    "EvalResult",
    "RunComparison",
    "RunSummary",
    "ScoreSummary",
    "Suite",
    "evaluate",
    "load_suite",
    "resume_run",
    "run_suite",
    "summarize",
    "Dataset",
    "DatasetItem",
    "Sample",
    "Score",
    "Scorer",
    "get_scorer",
    "load_dataset",
    "scorer",
]
