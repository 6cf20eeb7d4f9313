"""Evals: datasets, scorers, statistics (and the runner built on them).

Kept light on import: heavy libraries load inside the functions that need them.
"""

from loopstack.evals.datasets import Dataset, load_dataset
from loopstack.evals.scorers import Sample, Score, Scorer, get_scorer, scorer
from loopstack.store.datasets import DatasetItem

__all__ = [
    "Dataset",
    "DatasetItem",
    "Sample",
    "Score",
    "Scorer",
    "get_scorer",
    "load_dataset",
    "scorer",
]
