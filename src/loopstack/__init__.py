"""Loopstack: versioned prompts, evals, traces with feedback, and the fine-tuning flywheel."""

from __future__ import annotations

from loopstack.evals.datasets import Dataset
from loopstack.evals.scorers import scorer
from loopstack.prompts import Prompt, PromptMessages, get_prompt
from loopstack.tracing import (
    context,
    current_span_id,
    current_trace_id,
    dropped_spans,
    flush,
    init,
    instrument_openai,
    observe,
    span,
)

__version__ = "0.1.0"

__all__ = [
    "Dataset",
    "Prompt",
    "PromptMessages",
    "__version__",
    "context",
    "current_span_id",
    "current_trace_id",
    "dropped_spans",
    "flush",
    "get_prompt",
    "init",
    "instrument_openai",
    "observe",
    "scorer",
    "span",
]
