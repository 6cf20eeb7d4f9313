"""``get_prompt(..., user_id=)`` under a rollout: the arm is picked in-process and stamped on the span."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import loopstack
from loopstack import semconv as sc
from loopstack.monitor.rollout_runner import start_rollout
from loopstack.prompts import PromptRegistry, clear_prompt_cache
from loopstack.store import get_store


@pytest.mark.usefixtures("traced")
def test_each_user_gets_a_sticky_arm_stamped_on_the_span(
    stored_spans: Callable[[], list[dict[str, Any]]],
) -> None:
    store = get_store()
    reg = PromptRegistry(store)
    reg.push("triage", [{"role": "user", "content": "v1 {{x}}"}], labels=["production"])
    reg.push("triage", [{"role": "user", "content": "v2 {{x}}"}])
    ro = start_rollout(store, "default", "triage", candidate=2, policy={"steps": [50, 100], "every_s": 60})
    clear_prompt_cache()

    @loopstack.observe(name="answer")
    def answer(user: str) -> tuple[int, str | None]:
        prompt = loopstack.get_prompt("triage", user_id=user)
        return prompt.version, prompt.rollout_arm

    served = {u: answer(u) for u in (f"user-{i}" for i in range(200))}
    assert served == {u: answer(u) for u in served}  # sticky: the same arm on every visit
    arms = {arm for _, arm in served.values()}
    assert arms == {"control", "candidate"}
    assert all((v == 2) == (arm == "candidate") for v, arm in served.values())
    assert loopstack.get_prompt("triage").version == 1  # no id: the control, as for older clients
    rows = [r for r in stored_spans() if r["name"] == "answer"]
    assert len(rows) == 400
    for r in rows:
        attrs = r["attributes"]
        unit = attrs[sc.ROLLOUT_UNIT]
        assert attrs[sc.ROLLOUT_ID] == ro["id"] and attrs[sc.ROLLOUT_ARM] == served[unit][1]
        assert r["prompt_version"] == served[unit][0]


def test_a_model_call_with_the_rendered_prompt_carries_the_arm() -> None:
    from loopstack.models import ModelRequest
    from loopstack.prompts import Prompt

    prompt = Prompt(
        "triage", 2, [{"role": "user", "content": "hi {{x}}"}], rollout_id="r1", rollout_arm="candidate"
    )
    request = ModelRequest.of(prompt.render(x=1))
    assert (request.prompt_version, request.rollout_id, request.rollout_arm) == (2, "r1", "candidate")
