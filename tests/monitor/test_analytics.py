"""Product analytics: acceptance and feedback rates per prompt version and model, with Wilson intervals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from loopstack.evals.stats import wilson_interval
from loopstack.monitor.analytics import product_analytics
from loopstack.store import Store
from monitor.helpers import add_calls, feedback


def test_rates_per_prompt_version_and_model_with_wilson_intervals(store: Store) -> None:
    now = datetime.now(UTC)
    v1 = add_calls(store, "default", 10, start=now - timedelta(minutes=30), prompt=("triage", 1))
    v2 = add_calls(
        store, "default", 4, start=now - timedelta(minutes=20), prompt=("triage", 2), model="openai/x"
    )
    for i, (trace, _) in enumerate(v1[:8]):
        feedback(store, "default", trace, i < 6)
    feedback(store, "default", v2[0][0], False)
    start = now - timedelta(hours=2)
    buckets, series = product_analytics(
        store, store.project_id("default"), start, now + timedelta(minutes=1), 600
    )
    by = {(s.kind, s.label): s for s in series}
    one = by[("prompt", "triage v1")]
    assert (one.requests, one.acceptance.k, one.acceptance.n, one.feedback.k) == (10, 6, 8, 8)
    assert one.acceptance.interval == wilson_interval(6, 8) and one.feedback.value == 0.8
    assert by[("prompt", "triage v2")].acceptance.value == 0.0
    assert by[("model", "openai/x")].requests == 4 and by[("model", "openai/gpt-4o-mini")].feedback.k == 8
    assert sum(r.n for r in one.acceptance_by_bucket) == 8 and len(one.acceptance_by_bucket) == len(buckets)
