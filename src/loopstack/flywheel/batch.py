"""OpenAI Batch API files for teacher labelling: write the requests, read the results back by ``custom_id``.

Export writes one line per item still without a label from this teacher and prompt version::

    {"custom_id": "<item key>", "method": "POST", "url": "/v1/chat/completions", "body": {...}}

where ``body`` is exactly what the live call would send (the provider's own request body), after the
project's PII request policy: a request bound for an external provider is masked (or refused) in the
file just as it would be on the wire. Import reads a results file (``custom_id`` plus ``response.body``
a chat completion, or ``error``), tolerating providers that leave out ``method``/``url`` or the
``response`` wrapper. A bad line is reported with its line number and skipped; the good lines are
stored (teacher labels with ``source = batch``; costs at the Batch discount). Importing the same file
twice stores nothing new.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loopstack.errors import InvalidInput
from loopstack.flywheel.label import LabelPlan, plan_labels
from loopstack.store import Store, get_store
from loopstack.store.teacher_labels import TeacherLabel

#: OpenAI bills Batch API calls at half the live price.
BATCH_DISCOUNT = 0.5
BATCH_URL = "/v1/chat/completions"


@dataclass
class BatchExport:
    """What ``export_batch`` wrote."""

    path: Path
    requests: int
    already: int
    """Items skipped because they already have a label from this teacher and prompt."""
    masked: int = 0
    """Requests the PII policy changed."""


@dataclass
class BatchImport:
    """What ``import_batch`` stored, and the lines it could not use (line number, reason)."""

    lines: int
    stored: int
    duplicates: int
    """Good lines whose item already had a label (not stored again)."""
    errors: list[tuple[int, str]] = field(default_factory=list)
    cost: float = 0.0


def _apply_policies(request: Any, provider: Any) -> tuple[Any, bool]:
    """``request`` after the registered request policies, as ``Model.generate`` applies them."""
    from loopstack.models import is_external, request_policies

    if not is_external(provider):
        return request, False
    changed = False
    for policy in request_policies().values():
        new, _ = policy(request, provider)
        changed = changed or new is not request
        request = new
    return request, changed


def _body(provider: Any, request: Any) -> dict[str, Any]:
    make = getattr(provider, "body", None)
    if make is None:
        raise InvalidInput(
            f"{provider.model_string}: Batch files are written for OpenAI-style providers "
            "(openai/…, openai-compatible/…)"
        )
    body: dict[str, Any] = make(request)
    return body


def export_batch(
    dataset: str,
    path: str | Path,
    *,
    teacher: str,
    model_options: dict[str, Any] | None = None,
    apply_project_policy: bool = True,
    store: Store | None = None,
    project: str | None = None,
    **selection: Any,
) -> BatchExport:
    """Write the Batch JSONL requests for labelling ``dataset`` with ``teacher``.

    ``selection`` takes ``plan_labels``'s options (prompt, system_prompt, params, split, missing_only,
    limit). With ``apply_project_policy`` the project's PII policy is installed first (as the CLI does
    for live calls), so the file never holds what a live call would not send.
    """
    from loopstack.config import get_settings
    from loopstack.models import get_model

    store = store or get_store()
    project = project or get_settings().project
    plan = plan_labels(dataset, teacher=teacher, store=store, project=project, **selection)
    if apply_project_policy:
        from loopstack.safety import apply_project_pii_policy

        apply_project_pii_policy(store, project)
    provider = get_model(teacher, **(model_options or {})).provider
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    masked = 0
    with out.open("w", encoding="utf-8") as fh:
        for item in plan.items:
            request, changed = _apply_policies(plan.request(item), provider)
            masked += int(changed)
            line = {
                "custom_id": item.key,
                "method": "POST",
                "url": BATCH_URL,
                "body": _body(provider, request),
            }
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
    return BatchExport(path=out, requests=len(plan.items), already=plan.already, masked=masked)


def _completion(line: dict[str, Any]) -> dict[str, Any]:
    """The chat completion of one results line; ValueError says what is wrong with it."""
    error = line.get("error")
    if error:
        message = error.get("message") if isinstance(error, dict) else str(error)
        raise ValueError(f"the provider reported an error: {message}")
    response = line.get("response", line)
    if not isinstance(response, dict):
        raise ValueError("'response' is not an object")
    status = response.get("status_code")
    body = response.get("body", response if "choices" in response else None)
    if status is not None and not 200 <= int(status) < 300:
        detail = body.get("error", {}).get("message") if isinstance(body, dict) else None
        raise ValueError(f"status {status}" + (f": {detail}" if detail else ""))
    if not isinstance(body, dict):
        raise ValueError("no response body (expected response.body with a chat completion)")
    return body


def import_batch(
    dataset: str,
    results: str | Path,
    *,
    teacher: str,
    store: Store | None = None,
    project: str | None = None,
    **selection: Any,
) -> BatchImport:
    """Store the teacher labels in a Batch results file, matched to ``dataset``'s items by ``custom_id``.

    Give the same ``teacher`` and prompt as the export. A line that is not JSON, names no item of the
    dataset, or carries an error is reported (``errors``) and skipped; the good ones are stored. A file
    with no usable line at all is an error.
    """
    from loopstack.config import get_settings
    from loopstack.models import cost_for

    path = Path(results)
    if not path.is_file():
        raise InvalidInput(f"Batch results file {path} does not exist")
    store = store or get_store()
    project = project or get_settings().project
    plan: LabelPlan = plan_labels(dataset, teacher=teacher, store=store, project=project, **selection)
    from loopstack.store.datasets import DatasetRepository

    by_key = {i.key: i for i in DatasetRepository(store, project).items(dataset)}
    pending = {i.key for i in plan.items}
    report = BatchImport(lines=0, stored=0, duplicates=0)
    labels: list[TeacherLabel] = []
    seen: set[str] = set()
    with path.open(encoding="utf-8") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            report.lines += 1
            try:
                line = json.loads(raw)
                if not isinstance(line, dict):
                    raise ValueError("not a JSON object")
                key = line.get("custom_id")
                if not isinstance(key, str) or not key:
                    raise ValueError("no custom_id")
                if key not in by_key:
                    raise ValueError(f"custom_id {key!r} is not an item of dataset {dataset!r}")
                text, usage = _answer(_completion(line))
            except ValueError as exc:  # json.JSONDecodeError is a ValueError
                report.errors.append((number, str(exc).splitlines()[0]))
                continue
            if key not in pending or key in seen:
                report.duplicates += 1
                continue
            seen.add(key)
            price = cost_for(teacher, usage)
            cost = None if price is None else price * BATCH_DISCOUNT
            report.cost += cost or 0.0
            labels.append(
                plan.label(
                    by_key[key],
                    text,
                    input_tokens=usage.input_tokens,
                    output_tokens=usage.output_tokens,
                    cost=cost,
                    source="batch",
                )
            )
    if report.lines == 0:
        raise InvalidInput(f"{path}: the Batch results file is empty")
    if not labels and report.errors and not report.duplicates:
        first_line, first = report.errors[0]
        raise InvalidInput(f"{path}: no usable result in {report.lines} lines (line {first_line}: {first})")
    for start in range(0, len(labels), 1000):
        report.stored += plan.labels.save(labels[start : start + 1000])
    return report


def _answer(body: dict[str, Any]) -> tuple[str, Any]:
    """The answer text and usage of a chat completion body; ValueError when it has no answer."""
    from loopstack.models import Usage

    try:
        content = body["choices"][0]["message"].get("content")
    except (KeyError, IndexError, TypeError, AttributeError):
        raise ValueError("the body has no choices[0].message (not a chat completion)") from None
    if not isinstance(content, str):
        raise ValueError("the answer (choices[0].message.content) is empty")
    found = body.get("usage")
    raw: dict[str, Any] = found if isinstance(found, dict) else {}
    try:
        usage = Usage(
            input_tokens=int(raw.get("prompt_tokens") or 0),
            output_tokens=int(raw.get("completion_tokens") or 0),
        )
    except (TypeError, ValueError):
        raise ValueError("usage holds no token counts") from None
    return content, usage
