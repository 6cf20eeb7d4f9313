"""Traffic for rollout tests: users served by the SDK's own arm choice, with spans and thumbs."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

from loopstack import semconv as sc
from loopstack.prompts import PromptRegistry
from loopstack.prompts.client import pick_arm
from loopstack.store import Store
from loopstack.store.scores import ScoreInput, ScoreRepository
from loopstack.store.spans import SpanRecord, write_spans


def push_two(store: Store, project: str = "default", name: str = "triage") -> PromptRegistry:
    """A prompt with v1 on ``production`` and a candidate v2."""
    reg = PromptRegistry(store, project)
    reg.push(name, [{"role": "user", "content": "v1 {{x}}"}], labels=["production"])
    reg.push(name, [{"role": "user", "content": "v2 {{x}}"}])
    return reg


def serve_users(
    store: Store,
    users: range,
    p_accept: dict[int, float],
    *,
    project: str = "default",
    name: str = "triage",
    seed: int = 0,
) -> dict[str, set[str]]:
    """Each user fetches the prompt (arm picked in-process), makes one call and gives one thumbs with the
    acceptance probability of the version they got; returns the arms each user saw."""
    rng = random.Random(seed)
    control = PromptRegistry(store, project).get(name, label="production")
    t0 = datetime.now(UTC) - timedelta(minutes=5)
    records, votes, seen = [], [], {}
    for u in users:
        unit = f"user-{u}"
        prompt = pick_arm(control, unit)
        seen.setdefault(unit, set()).add(str(prompt.rollout_arm))
        if prompt.rollout_arm == "outside":
            continue
        trace, span = uuid.uuid4().hex, uuid.uuid4().hex[:16]
        start = int((t0 + timedelta(milliseconds=u)).timestamp() * 1e9)
        attrs = {
            sc.PROMPT_NAME: name,
            sc.PROMPT_VERSION: prompt.version,
            sc.ROLLOUT_ID: str(prompt.rollout_id),
            sc.ROLLOUT_ARM: str(prompt.rollout_arm),
            sc.ROLLOUT_STEP: control.rollout.step if control.rollout else 0,
            sc.ROLLOUT_UNIT: unit,
            sc.USER_ID: unit,
        }
        records.append(SpanRecord(trace, span, "answer", start, start + 50_000_000, attributes=attrs))
        votes.append((trace, rng.random() < p_accept[prompt.version]))
    write_spans(store, store.project_id(project), records)
    repo = ScoreRepository(store, project)
    for trace, up in votes:
        repo.add_score(ScoreInput(trace_id=trace, name="thumbs", value=up, source="user-feedback"))
    return seen
