"""Rollouts on a real store (SQLite and PostgreSQL): starting, refusing bad input, rolling back, promoting."""

from __future__ import annotations

from datetime import timedelta

import pytest

from loopstack.errors import InvalidInput, NotFound
from loopstack.monitor.rollout_runner import RolloutRunner, start_rollout, stop_rollout
from loopstack.store import Store, utcnow
from loopstack.store.monitoring import AlertRepository
from loopstack.store.rollouts import RolloutRepository

from .rollout_helpers import push_two, serve_users

EVIDENCE = {"steps": [50, 100], "on_evidence": True, "min_users": 100, "min_decide_users": 50}


def test_label_fetch_carries_the_arms_and_plain_clients_get_the_control(store: Store) -> None:
    reg = push_two(store)
    ro = start_rollout(
        store, "default", "triage", candidate=2, policy={"steps": [10, 50, 100], "every_s": 60}
    )
    got = reg.get("triage", label="production")
    assert got.version == 1  # a client that ignores arms keeps getting the control
    assert got.rollout is not None and got.rollout.id == ro["id"] and got.rollout.candidate.version == 2
    assert got.rollout.candidate_pct == 10 and got.rollout.control_from_pct == 50
    assert reg.get("triage", version=1).rollout is None


def test_bad_rollouts_are_refused_with_a_clear_error(store: Store) -> None:
    push_two(store)
    with pytest.raises(NotFound, match="no version 7"):
        start_rollout(store, "default", "triage", candidate=7, policy={"every_s": 60})
    with pytest.raises(InvalidInput, match="sum to 100"):
        start_rollout(store, "default", "triage", weights={"v1": 90, "v2": 20}, policy={"every_s": 60})
    with pytest.raises(InvalidInput, match="one ramp schedule"):
        start_rollout(store, "default", "triage", candidate=2, policy={})
    start_rollout(store, "default", "triage", weights={"v1": 90, "v2": 10}, policy={"every_s": 60})
    with pytest.raises(InvalidInput, match="already running"):
        start_rollout(store, "default", "triage", candidate=2, policy={"every_s": 60})
    assert len(RolloutRepository(store).list(state="running")) == 1


def test_worse_candidate_is_rolled_back_with_a_label_event_and_an_alert(store: Store) -> None:
    reg = push_two(store)
    ro = start_rollout(store, "default", "triage", candidate=2, policy=EVIDENCE)
    seen = serve_users(store, range(600), {1: 0.85, 2: 0.35})
    assert all(len(arms) == 1 for arms in seen.values())
    totals = RolloutRunner(store).tick(utcnow())
    assert totals["rolled_back"] == 1
    row = RolloutRepository(store).get(ro["id"])
    assert row["state"] == "rolled_back" and "acceptance" in row["reason"]
    assert reg.labels("triage")["production"] == 1
    last = reg.history("triage")[0]
    assert (last.kind, last.author, last.from_version, last.to_version) == ("label", "rollout", 2, 1)
    events = AlertRepository(store).list_events()
    assert events[0]["kind"] == "fired" and "rolled back" in events[0]["message"]
    assert events[0]["deliveries"][0]["channel"] == "log"
    assert reg.get("triage", label="production").rollout is None  # the SDK stops splitting


def test_better_candidate_is_promoted_when_auto_promote_is_on(store: Store) -> None:
    reg = push_two(store)
    ro = start_rollout(store, "default", "triage", candidate=2, policy={**EVIDENCE, "auto_promote": True})
    serve_users(store, range(600), {1: 0.35, 2: 0.85})
    RolloutRunner(store).tick(utcnow())
    assert RolloutRepository(store).get(ro["id"])["state"] == "promoted"
    assert reg.labels("triage")["production"] == 2
    assert reg.history("triage")[0].author == "rollout"


def test_ramp_steps_on_a_timetable_and_candidates_stay_candidates(store: Store) -> None:
    push_two(store)
    ro = start_rollout(
        store, "default", "triage", candidate=2, policy={"steps": [10, 25, 50, 100], "every_s": 60}
    )
    runner = RolloutRunner(store)
    first = serve_users(store, range(300), {1: 0.7, 2: 0.7})
    runner.tick(utcnow() + timedelta(seconds=61))
    assert RolloutRepository(store).get(ro["id"])["step_index"] == 1
    again = serve_users(store, range(300), {1: 0.7, 2: 0.7}, seed=1)
    for unit, arms in first.items():
        if "candidate" in arms:
            assert again[unit] == {"candidate"}
        if "control" in arms:
            assert again[unit] == {"control"}


def test_stopping_keeps_the_label_and_a_hand_move_stops_the_rollout(store: Store) -> None:
    reg = push_two(store)
    ro = start_rollout(store, "default", "triage", candidate=2, policy={"every_s": 60})
    assert stop_rollout(store, "default", "triage")["state"] == "stopped"
    with pytest.raises(InvalidInput, match="not running"):
        stop_rollout(store, "default", ro["id"])
    ro2 = start_rollout(store, "default", "triage", candidate=2, policy={"every_s": 60})
    reg.set_label("triage", "production", 2, author="ana")
    RolloutRunner(store).tick(utcnow())
    assert "by hand" in RolloutRepository(store).get(ro2["id"])["reason"]
