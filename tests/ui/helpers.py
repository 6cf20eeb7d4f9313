"""Test data for the UI: spans written through the spans repository, as ingest writes them."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from loopstack import semconv as sc
from loopstack.store import Store
from loopstack.store.spans import SpanRecord, write_spans

XSS = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def _ns(t: datetime) -> int:
    return int(t.timestamp() * 1e9)


def add_trace(
    store: Store,
    project_id: str,
    *,
    name: str = "answer",
    start: datetime | None = None,
    model: str = "openai/gpt-4o-mini",
    prompt: tuple[str, int] | None = ("triage", 1),
    output: str = "positive",
    messages: list[dict[str, str]] | None = None,
    latency_ms: float = 120.0,
    error: bool = False,
    session: str | None = "s-1",
    user: str | None = "u-1",
    tokens: tuple[int, int] = (30, 5),
    cost: float = 0.001,
) -> str:
    """A two-span trace (a root span and one model call); its trace id."""
    start = start or datetime.now(UTC) - timedelta(minutes=5)
    trace_id = uuid.uuid4().hex
    root_id, llm_id = uuid.uuid4().hex[:16], uuid.uuid4().hex[:16]
    msgs = messages or [{"role": "system", "content": "Classify."}, {"role": "user", "content": "Great app"}]
    llm_attrs: dict[str, Any] = {
        sc.GEN_AI_REQUEST_MODEL: model,
        sc.GEN_AI_PROVIDER: model.split("/")[0],
        sc.GEN_AI_USAGE_INPUT_TOKENS: tokens[0],
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: tokens[1],
        sc.COST: cost,
        sc.INPUT: json.dumps(msgs),
        sc.OUTPUT: output,
    }
    if prompt:
        llm_attrs[sc.PROMPT_NAME], llm_attrs[sc.PROMPT_VERSION] = prompt
    root_attrs: dict[str, Any] = {sc.INPUT: json.dumps({"review": "Great app"}), sc.OUTPUT: output}
    if session:
        root_attrs[sc.SESSION_ID] = session
    if user:
        root_attrs[sc.USER_ID] = user
    t0 = _ns(start)
    dur = int(latency_ms * 1e6)
    write_spans(
        store,
        project_id,
        [
            SpanRecord(
                trace_id,
                root_id,
                name,
                t0,
                t0 + dur + 2_000_000,
                attributes=root_attrs,
                status_code="ERROR" if error else "OK",
            ),
            SpanRecord(
                trace_id,
                llm_id,
                "chat " + model,
                t0 + 1_000_000,
                t0 + 1_000_000 + dur,
                parent_span_id=root_id,
                kind="CLIENT",
                attributes=llm_attrs,
                status_code="ERROR" if error else "OK",
            ),
        ],
    )
    return trace_id


def add_runs(store: Store, project: str = "default") -> tuple[str, str]:
    """A baseline and a candidate run over 12 items: the candidate loses 3 items and wins 1."""
    from loopstack.store.runs import ItemResult, RunRepository, ScoreRow

    repo = RunRepository(store, project)
    a = repo.create_run(config={}, name="baseline", prompt_name="triage", prompt_version=1, model="mock/a")
    b = repo.create_run(config={}, name="candidate", prompt_name="triage", prompt_version=2, model="mock/b")
    labels = ["bug", "praise", "question"]
    for i in range(12):
        expected = labels[i % 3]
        base_out = expected if i != 11 else "praise"  # the baseline misses item 11
        cand_out = "praise" if i in (0, 3, 6) else expected  # the candidate misses 0, 3, 6 (but fixes 11)
        for run_id, out in ((a.id, base_out), (b.id, cand_out)):
            repo.save_item(
                run_id,
                ItemResult(
                    item_key=f"item-{i:02d}",
                    epoch=0,
                    input={"review": f"review number {i}"},
                    expected=expected,
                    output=out,
                    latency_ms=100.0 + i,
                    scores=[ScoreRow(name="exact_match", value=1.0 if out == expected else 0.0)],
                ),
            )
    repo.set_status(a.id, "completed")
    repo.set_status(b.id, "completed")
    return a.id, b.id


def add_prompt_versions(store: Store, project: str = "default") -> None:
    """Prompt ``triage`` with three versions; ``production`` on v1, ``staging`` on v3."""
    from loopstack.prompts import PromptRegistry

    reg = PromptRegistry(store, project)
    for v, wording in enumerate(
        ["Classify the review.", "Classify the review as bug or praise.", "Label it."], 1
    ):
        reg.push(
            "triage",
            [{"role": "system", "content": wording}, {"role": "user", "content": "Review: {{ review }}"}],
            model="mock/a",
            message=f"version {v}",
            labels=["production"] if v == 1 else (["staging"] if v == 3 else []),
        )
