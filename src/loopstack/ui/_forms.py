"""Parsing of query strings and form fields into typed values, with one-line 4xx errors."""

from __future__ import annotations

from datetime import datetime

from fastapi import HTTPException

from loopstack._inputs import parse_int, parse_time


def opt_str(value: str | None, limit: int = 500) -> str | None:
    """A trimmed value, or ``None`` when blank."""
    if value is None:
        return None
    value = value.strip()
    return value[:limit] or None


def opt_float(value: str | None, field: str) -> float | None:
    value = opt_str(value)
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        raise HTTPException(400, f"{field}: {value!r} is not a number") from None


def opt_int(value: str | None, field: str) -> int | None:
    """A whole number the database can hold (0 to 2^31 - 1), or ``None`` when blank; 400 otherwise."""
    value = opt_str(value)
    if value is None:
        return None
    try:
        return parse_int(value, field)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None


def opt_time(value: str | None, field: str) -> datetime | None:
    """An ISO date or date-time in UTC (UTC when no zone is given); 400 when not one or out of range."""
    value = opt_str(value)
    if value is None:
        return None
    try:
        return parse_time(value, field)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
