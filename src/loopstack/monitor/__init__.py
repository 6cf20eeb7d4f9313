"""Monitoring: dashboard aggregates over production spans and scores."""

from loopstack.monitor.aggregates import (
    RANGES,
    Dashboard,
    DashboardScore,
    Stats,
    compute_dashboard,
    prompt_key,
    resolve_range,
)
from loopstack.store.scores import FEEDBACK_SOURCES

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
