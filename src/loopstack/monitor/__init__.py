"""Monitoring: dashboard aggregates, online evaluators, alert rules, rollouts and the background worker.

Rollout names (numpy/scipy underneath) are imported on first use.
"""

from loopstack._lazy import lazy_names
from loopstack.monitor.aggregates import (
    RANGES,
    Dashboard,
    DashboardScore,
    Stats,
    compute_dashboard,
    prompt_key,
    resolve_range,
)
from loopstack.monitor.alerts import (
    METRICS,
    AlertSpec,
    Channel,
    Measure,
    RuleState,
    create_rule,
    decide,
    parse_rule,
)
from loopstack.monitor.evaluators import (
    EvaluatorSpec,
    ScorerRef,
    SpanFilter,
    create_evaluator,
    health,
    parse_filter,
    parse_spec,
    sampled,
    update_evaluator,
)
from loopstack.monitor.worker import Job, Worker, monitoring_worker
from loopstack.store.scores import FEEDBACK_SOURCES

_LAZY = {
    "RolloutPolicy": "loopstack.monitor.rollouts",
    "decide_rollout": "loopstack.monitor.rollouts",
    "start_rollout": "loopstack.monitor.rollout_runner",
    "stop_rollout": "loopstack.monitor.rollout_runner",
    "promote_rollout": "loopstack.monitor.rollout_runner",
    "product_analytics": "loopstack.monitor.analytics",
}


__getattr__ = lazy_names(__name__, _LAZY, aliases={"decide_rollout": "decide"})

__all__ = [
    "FEEDBACK_SOURCES",
    "METRICS",
    "RANGES",
    "AlertSpec",
    "Channel",
    "Dashboard",
    "DashboardScore",
    "EvaluatorSpec",
    "Job",
    "Measure",
    "RolloutPolicy",
    "RuleState",
    "ScorerRef",
    "SpanFilter",
    "Stats",
    "Worker",
    "compute_dashboard",
    "create_evaluator",
    "create_rule",
    "decide",
    "decide_rollout",
    "health",
    "monitoring_worker",
    "parse_filter",
    "parse_rule",
    "parse_spec",
    "product_analytics",
    "promote_rollout",
    "prompt_key",
    "resolve_range",
    "sampled",
    "start_rollout",
    "stop_rollout",
    "update_evaluator",
]
