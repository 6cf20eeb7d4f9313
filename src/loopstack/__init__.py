"""Loopstack: versioned prompts, evals, traces with feedback, and the fine-tuning flywheel."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from loopstack.evals.datasets import Dataset
from loopstack.evals.scorers import scorer
from loopstack.prompts import Prompt, PromptMessages, get_prompt
from loopstack.tracing import (
    context,
    current_span_id,
    current_trace_id,
    dropped_spans,
    feedback,
    flush,
    init,
    instrument_openai,
    observe,
    span,
)

if TYPE_CHECKING:
    from loopstack.evals._outcome import EvalResult

__version__ = "0.1.0"


def evaluate(suite: Any, **options: Any) -> EvalResult:
    """Run an eval suite (a YAML path, a dict or a ``Suite``) and return its results with CIs.

    Options: ``models``, ``baseline``, ``split``, ``limit``, ``store``, ``project``, ``progress``.
    Imported on call so ``import loopstack`` stays light.
    """
    from loopstack.evals.runner import evaluate as _evaluate

    return _evaluate(suite, **options)


__all__ = [
    "Dataset",
    "Prompt",
    "PromptMessages",
    "__version__",
    "context",
    "current_span_id",
    "current_trace_id",
    "dropped_spans",
    "evaluate",
    "feedback",
    "flush",
    "get_prompt",
    "init",
    "instrument_openai",
    "observe",
    "scorer",
    "span",
]
