"""Alert rules: the decision function, windows over stored spans and scores, events and deliveries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from loopstack.errors import InvalidInput
from loopstack.monitor import Measure, RuleState, create_rule, decide, parse_rule
from loopstack.monitor._baseline import alpha_for_budget, rate_increase_p
from loopstack.monitor.alerts import AlertRunner
from loopstack.monitor.channels import Deliverer
from loopstack.store import Store
from loopstack.store.monitoring import AlertRepository
from monitor.helpers import add_calls, feedback
from monitor.receivers import Webhook, smtp_server

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _rule(**kw: object) -> dict[str, object]:
    return {"name": "errors", "metric": "error_rate", "fire": 0.1, "resolve": 0.05, "min_samples": 20, **kw}


def test_sustained_and_hysteresis_decide_fire_and_resolve() -> None:
    spec = parse_rule(_rule(sustained=2, resolve_after=2))
    state = RuleState()
    seen = []
    for rate in (0.2, 0.02, 0.2, 0.2, 0.07, 0.02, 0.07, 0.02, 0.02):
        d = decide(spec, state, Measure(rate, 100, events=int(rate * 100)))
        state = d.state
        seen.append(d.transition)
    # one breach is not enough; two in a row fire; 0.07 is inside the band and resets the clear streak
    assert seen == [None, None, None, "fired", None, None, None, None, "resolved"]


def test_a_window_with_too_few_samples_decides_nothing() -> None:
    spec = parse_rule(_rule())
    d = decide(spec, RuleState(), Measure(1.0, 5, events=5))
    assert d.verdict == "too_few" and d.transition is None


def test_the_baseline_test_holds_its_false_alarm_rate_by_simulation() -> None:
    rng = np.random.default_rng(7)
    alpha, reps, n, n0, p = 0.05, 4000, 200, 20_000, 0.02
    k = rng.binomial(n, p, reps)
    k0 = rng.binomial(n0, p, reps)
    fpr = np.mean([rate_increase_p(int(a), n, int(b), n0) < alpha for a, b in zip(k, k0, strict=True)])
    assert fpr <= alpha + 3 * np.sqrt(alpha * (1 - alpha) / reps)
    # and it has power: a window at 6% against a 2% week is caught about 9 times in 10
    k1 = rng.binomial(n, 0.06, 500)
    power = np.mean(
        [rate_increase_p(int(a), n, int(b), n0) < alpha for a, b in zip(k1, k0[:500], strict=True)]
    )
    assert power > 0.8


def test_alpha_for_a_daily_budget_follows_bonferroni_over_windows() -> None:
    assert alpha_for_budget(1.0, 288, 1) == pytest.approx(1 / 288)
    assert alpha_for_budget(1.0, 288, 3) == pytest.approx((1 / 288) ** (1 / 3))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "x", "metric": "error_rate"}, "give a fire threshold"),
        ({"name": "x", "metric": "p95_latency_ms", "baseline": True}, "baseline: true works for rates"),
        ({"name": "x", "metric": "mean_score", "fire": 0.5}, "needs score_name"),
        ({"name": "x", "metric": "error_rate", "fire": 0.1, "filter": {"colour": 1}}, "unknown filter field"),
        ({"name": "x", "metric": "error_rate", "fire": 0.1, "resolve": 0.2}, "hysteresis"),
        (
            {"name": "x", "metric": "error_rate", "fire": 0.1, "channels": [{"type": "webhook"}]},
            "needs an http",
        ),
        ({"name": "x", "metric": "latency", "fire": 1}, "metric"),
    ],
)
def test_bad_rules_are_refused_with_the_reason(data: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_rule(data)


def _run(store: Store, now: datetime) -> dict[str, int]:
    return AlertRunner(store).tick(now)


def test_an_error_spike_fires_within_its_window_and_resolves_after(store: Store) -> None:
    create_rule(
        store,
        "default",
        _rule(window_s=60, delay_s=0, channels=[{"type": "log"}]),
        start_at=T0,
    )
    add_calls(store, "default", 50, start=T0, spacing_s=1.0, errors=1)  # window 1: 2% errors
    add_calls(store, "default", 50, start=T0 + timedelta(seconds=60), spacing_s=1.0, errors=15)  # spike: 30%
    add_calls(store, "default", 50, start=T0 + timedelta(seconds=120), spacing_s=1.0, errors=0)
    _run(store, T0 + timedelta(seconds=60))
    assert AlertRepository(store).get_rule("errors")["state"] == "ok"
    _run(store, T0 + timedelta(seconds=120))
    rule = AlertRepository(store).get_rule("errors")
    assert rule["state"] == "firing" and rule["last_value"] == pytest.approx(0.3)
    _run(store, T0 + timedelta(seconds=180))
    events = AlertRepository(store).list_events()
    assert [e["kind"] for e in reversed(events)] == ["fired", "resolved"]
    fired = events[-1]
    assert fired["window_start"] == T0 + timedelta(seconds=60) and fired["samples"] == 50
    assert "error_rate = 0.3" in fired["message"]
    assert [d["channel"] for d in fired["deliveries"]] == ["log"]


def test_cost_per_user_names_the_costliest_user(store: Store) -> None:
    create_rule(
        store,
        "default",
        {"name": "spender", "metric": "cost_per_user", "fire": 0.5, "window_s": 60, "delay_s": 0},
        start_at=T0,
    )
    add_calls(store, "default", 10, start=T0, cost=0.01, user="alice")
    add_calls(store, "default", 10, start=T0, cost=0.1, user="mallory")
    _run(store, T0 + timedelta(seconds=60))
    (event,) = AlertRepository(store).list_events()
    assert event["value"] == pytest.approx(1.0) and event["details"]["user_id"] == "mallory"


def test_a_drop_in_acceptance_against_the_previous_week_fires_by_the_test(store: Store) -> None:
    create_rule(
        store,
        "default",
        {
            "name": "accept",
            "metric": "acceptance_rate",
            "baseline": True,
            "alpha": 0.01,
            "window_s": 3600,
            "delay_s": 0,
            "min_samples": 20,
        },
        start_at=T0,
    )
    traces = add_calls(store, "default", 100, start=T0 - timedelta(days=2))
    # The score rows are created now: shift the clock instead, reading windows relative to today.
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    for i, (t, _) in enumerate(traces[:60]):
        feedback(store, "default", t, i % 10 != 0, name="accepted")  # 90% accepted
    repo = AlertRepository(store)
    rule = repo.get_rule("accept")
    # The baseline week holds those 60; the current hour holds 40 more at 40% accepted.
    from sqlalchemy import update

    from loopstack.store.tables import alert_rules, scores

    with store.write() as conn:
        conn.execute(update(scores).values(created_at=now - timedelta(days=1)))
        conn.execute(
            update(alert_rules)
            .where(alert_rules.c.id == rule["id"])
            .values(last_window_end=now - timedelta(hours=1))
        )
    for i, (t, _) in enumerate(traces[60:]):
        feedback(store, "default", t, i % 5 < 2, name="accepted")
    with store.write() as conn:
        conn.execute(
            update(scores)
            .where(scores.c.created_at > now - timedelta(hours=1))
            .values(created_at=now - timedelta(minutes=30))
        )
    _run(store, now)
    (event,) = repo.list_events()
    assert event["kind"] == "fired" and event["details"]["p_value"] < 0.01
    assert event["details"]["baseline"]["samples"] == 60


def test_webhook_deliveries_are_retried_with_backoff_and_failures_kept(store: Store) -> None:
    with Webhook(statuses=[500]) as hook:
        create_rule(
            store,
            "default",
            _rule(window_s=60, delay_s=0, channels=[{"type": "webhook", "url": hook.url}]),
            start_at=T0,
        )
        add_calls(store, "default", 40, start=T0, spacing_s=1.0, errors=20)
        _run(store, T0 + timedelta(seconds=60))
        deliverer = Deliverer(store)
        now = datetime.now(UTC)
        assert deliverer.tick(now) == {"delivered": 0, "retrying": 1, "failed": 0}
        assert deliverer.tick(now) == {"delivered": 0, "retrying": 0, "failed": 0}  # not due yet
        assert deliverer.tick(now + timedelta(seconds=11)) == {"delivered": 1, "retrying": 0, "failed": 0}
        deliverer.close()
    (body,) = hook.received
    assert body["rule"] == "errors" and body["kind"] == "fired" and body["value"] == pytest.approx(0.5)
    (delivery,) = AlertRepository(store).list_events()[0]["deliveries"]
    assert delivery["status"] == "delivered" and delivery["attempts"] == 2


def test_a_webhook_that_hangs_costs_one_timeout_and_is_stored_as_failed(store: Store) -> None:
    with Webhook(hang_s=3) as hook:
        create_rule(
            store,
            "default",
            _rule(window_s=60, delay_s=0, channels=[{"type": "webhook", "url": hook.url}]),
            start_at=T0,
        )
        add_calls(store, "default", 40, start=T0, spacing_s=1.0, errors=20)
        _run(store, T0 + timedelta(seconds=60))
        deliverer = Deliverer(store, timeout_s=0.5, max_attempts=1)
        assert deliverer.tick(datetime.now(UTC)) == {"delivered": 0, "retrying": 0, "failed": 1}
        deliverer.close()
    (delivery,) = AlertRepository(store).list_events()[0]["deliveries"]
    assert delivery["status"] == "failed" and "Timeout" in delivery["last_error"]


def test_email_goes_through_a_real_smtp_server(store: Store) -> None:
    with smtp_server() as (port, messages):
        channel = {"type": "email", "to": ["oncall@example.com"], "smtp_host": "127.0.0.1", "smtp_port": port}
        create_rule(store, "default", _rule(window_s=60, delay_s=0, channels=[channel]), start_at=T0)
        add_calls(store, "default", 40, start=T0, spacing_s=1.0, errors=20)
        _run(store, T0 + timedelta(seconds=60))
        deliverer = Deliverer(store)
        assert deliverer.tick(datetime.now(UTC))["delivered"] == 1
        deliverer.close()
    (envelope,) = messages
    assert envelope.rcpt_tos == ["oncall@example.com"]
    import email

    message = email.message_from_bytes(envelope.content)
    assert message["Subject"] == "[loopstack] errors fired"
    assert "error_rate = 0.5" in message.get_payload(decode=True).decode()
