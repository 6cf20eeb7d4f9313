"""Parsing of query strings and form fields into typed values, with one-line 4xx errors."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import HTTPException


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
    value = opt_str(value)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise HTTPException(400, f"{field}: {value!r} is not a whole number") from None


def opt_time(value: str | None, field: str) -> datetime | None:
    """An ISO date or date-time (UTC when no zone is given)."""
    value = opt_str(value)
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise HTTPException(400, f"{field}: {value!r} is not an ISO date or time") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
