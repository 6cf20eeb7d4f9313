"""Loopstack: versioned prompts, evals with honest statistics, traces with feedback.

The names below are resolved on first use (``_LAZY`` + ``__getattr__``), so ``import loopstack``,
``import loopstack.store`` and ``loopstack --version`` load neither OpenTelemetry's SDK nor the
scorers; ``loopstack.observe`` imports the tracing SDK the first time it is looked up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loopstack.evals._outcome import EvalResult
    from loopstack.evals.datasets import Dataset
    from loopstack.evals.scorers import scorer
    from loopstack.prompts import Prompt, PromptMessages, get_prompt
    from loopstack.tracing import (
        context,
        current_span_id,
        current_trace_id,
        dropped_feedback,
        dropped_spans,
        feedback,
        flush,
        init,
        instrument_openai,
        observe,
        span,
    )

__version__ = "0.1.0"

#: public name -> the module that defines it (imported when the name is first looked up)
_LAZY: dict[str, str] = {
    "Dataset": "loopstack.evals.datasets",
    "scorer": "loopstack.evals.scorers",
    "Prompt": "loopstack.prompts",
    "PromptMessages": "loopstack.prompts",
    "get_prompt": "loopstack.prompts",
    "context": "loopstack.tracing",
    "current_span_id": "loopstack.tracing",
    "current_trace_id": "loopstack.tracing",
    "dropped_feedback": "loopstack.tracing",
    "dropped_spans": "loopstack.tracing",
    "feedback": "loopstack.tracing",
    "flush": "loopstack.tracing",
    "init": "loopstack.tracing",
    "instrument_openai": "loopstack.tracing",
    "observe": "loopstack.tracing",
    "span": "loopstack.tracing",
}

#: submodules reachable as attributes of the package before anyone imports them
_SUBMODULES = ("runs", "traces")


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:  # ``loopstack.traces.to_pandas(...)`` without importing the module first
        import importlib

        return importlib.import_module(f"loopstack.{name}")
    module = _LAZY.get(name)
    if module is None:
        # AttributeError (not ImportError) lets ``from loopstack import semconv`` fall back to the submodule.
        raise AttributeError(f"module 'loopstack' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


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
    "dropped_feedback",
    "dropped_spans",
    "evaluate",
    "feedback",
    "flush",
    "get_prompt",
    "init",
    "instrument_openai",
    "observe",
    "runs",
    "scorer",
    "span",
    "traces",
]
