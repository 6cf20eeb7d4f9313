"""Which traffic a span belongs to: ``eval`` runs, or the app's deployment environment.

Eval runs send their spans to the same store as production, so every span carries an ``environment``
(filled at ingest by ``span_environment``) and production views leave evals out by default
(``environment_clause``): the trace list, ``/api/traces``, the dashboard and its rollups.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement

from loopstack import semconv as sc

EVAL = "eval"
PRODUCTION = "production"
#: The filter value that selects every environment, evals included.
ALL = "all"
_RESOURCE_KEYS = ("deployment.environment.name", "deployment.environment")


def span_environment(attributes: Mapping[str, Any], resource: Mapping[str, Any]) -> str:
    """``eval`` for a span of an eval run (a ``loopstack.run_id``, even empty, or an eval span type),
    else the OTel resource's ``deployment.environment``, else ``production``.

    The SDK gives every span started inside an eval span its run id (tracing/_context.py), so a trace
    of an eval item is eval traffic whole."""
    if sc.RUN_ID in attributes or attributes.get(sc.SPAN_TYPE) == EVAL:
        return EVAL
    for key in _RESOURCE_KEYS:
        value = resource.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:50]
    return PRODUCTION


def check_environment(value: str | None) -> str | None:
    """A filter value as given by a user (query string, form): None/blank is the default view."""
    if value is None or not value.strip():
        return None
    return value.strip()[:50]


def environment_clause(column: Any, environment: str | None) -> ColumnElement[bool] | None:
    """The condition for an environment filter on ``column``: None (the default, production views)
    leaves evals out, ``all`` keeps everything (returns None), any other value selects that one."""
    if environment is None:
        return column != EVAL  # type: ignore[no-any-return]
    if environment == ALL:
        return None
    return column == environment  # type: ignore[no-any-return]
