"""Monitoring: dashboard aggregates over production spans and scores."""

from loopstack.monitor.aggregates import (
    FEEDBACK_SOURCES,
    RANGES,
    Dashboard,
    DashboardScore,
    Stats,
    compute_dashboard,
    prompt_key,
    resolve_range,
)

__all__ = [
    "FEEDBACK_SOURCES",
    "RANGES",
    "Dashboard",
    "DashboardScore",
    "Stats",
    "compute_dashboard",
    "prompt_key",
    "resolve_range",
]
