"""Monitoring: dashboard aggregates, online evaluators, alert rules and the server's background worker."""

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
    "RuleState",
    "ScorerRef",
    "SpanFilter",
    "Stats",
    "Worker",
    "compute_dashboard",
    "create_evaluator",
    "create_rule",
    "decide",
    "health",
    "monitoring_worker",
    "parse_filter",
    "parse_rule",
    "parse_spec",
    "prompt_key",
    "resolve_range",
    "sampled",
    "update_evaluator",
]
