"""One production span as a dataset item: input from the prompt's variables, expected output from feedback.

The UI's single-span "add to dataset" and ``curate`` both use these, so a span becomes the same item
whichever way it was added (key ``span-<span id>``, linked to its trace and span).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from loopstack import semconv as sc
from loopstack.store.curation import SpanFeedback
from loopstack.store.datasets import DatasetItem

#: Attributes a model-call span may carry the prompt's template variables in (ours, then OpenInference's).
VARIABLE_KEYS = (sc.PROMPT_VARIABLES, "llm.prompt_template.variables")


def span_input(text: str | None) -> dict[str, Any]:
    """A span's input as dataset item variables: a JSON object as is, chat messages as ``messages``."""
    if text:
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if isinstance(value, dict):
            return value
        if isinstance(value, list):
            return {"messages": value}
    return {"input": text or ""}


def prompt_variables(span: dict[str, Any]) -> dict[str, Any] | None:
    """The template variables the span's prompt was rendered with, when the call recorded them."""
    attrs = span.get("attributes") or {}
    for key in VARIABLE_KEYS:
        value = attrs.get(key)
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                continue
        if isinstance(value, dict) and value:
            return value
    return None


def item_key(span_id: str) -> str:
    """The dataset item key of a span: the same span is never added twice."""
    return f"span-{span_id}"


def parse_output(text: str | None) -> Any:
    """A model output or correction as an expected value: a JSON object or list when it is one, else text."""
    if text is None:
        return None
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        try:
            return json.loads(stripped)
        except ValueError:
            pass
    return text


@dataclass(frozen=True)
class Candidate:
    """A span turned into an item, with where its expected output came from."""

    item: DatasetItem
    expected_from: str  # correction | accepted | none
    started: datetime


def span_item(span: dict[str, Any]) -> Candidate:
    """The item for ``span`` (a row of ``CurationRepository.spans`` with its ``feedback``)."""
    fb: SpanFeedback = span.get("feedback") or SpanFeedback()
    variables = prompt_variables(span)
    if fb.correction is not None:
        expected, source = parse_output(fb.correction), "correction"
    elif fb.verdict is True and span.get("output") is not None:
        expected, source = parse_output(span["output"]), "accepted"
    else:
        expected, source = None, "none"
    meta: dict[str, Any] = {
        k: span[k] for k in ("model", "prompt_name", "prompt_version") if span.get(k) is not None
    }
    meta["expected_from"] = source
    if fb.verdict is not None:
        meta["feedback"] = "positive" if fb.verdict else "negative"
    item = DatasetItem(
        key=item_key(span["span_id"]),
        input=variables if variables is not None else span_input(span.get("input")),
        expected=expected,
        metadata=meta,
        source_trace_id=span["trace_id"],
        source_span_id=span["span_id"],
    )
    return Candidate(item, source, span["start_time"])
