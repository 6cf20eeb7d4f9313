"""Bounds on values that arrive in requests (query strings, forms, cursors): what the database can hold.

One place decides them, so the REST API, the UI and page cursors answer a value the store cannot take
with a 4xx that names the field, instead of letting the database driver fail with a 500.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime

#: Largest whole number a request may carry for a version, an offset or a count: INTEGER columns on
#: PostgreSQL are 32-bit, and no listing has 2^31 rows to skip.
MAX_INT = 2**31 - 1


def check_int(value: int, field: str, *, minimum: int = 0) -> int:
    """``value`` when it lies in ``minimum..MAX_INT``; ValueError naming ``field`` otherwise."""
    if not minimum <= value <= MAX_INT:
        raise ValueError(f"{field}: {value} is out of range ({minimum} to {MAX_INT})")
    return value


def parse_int(text: str, field: str, *, minimum: int = 0) -> int:
    """A whole number from text, in ``minimum..MAX_INT``; ValueError naming ``field`` otherwise."""
    try:
        value = int(text.strip())
    except ValueError:
        raise ValueError(f"{field}: {text!r} is not a whole number") from None
    return check_int(value, field, minimum=minimum)


def to_utc(value: datetime, field: str, *, assume_utc: bool = False) -> datetime:
    """``value`` in UTC; ValueError when it has no zone (unless ``assume_utc``) or when it falls outside
    the years 1 to 9999 once in UTC (``0001-01-01T00:00:00+01:00`` is still year 0 in UTC)."""
    if value.tzinfo is None:
        if not assume_utc:
            raise ValueError(f"{field} needs a time zone (e.g. 2026-01-31T12:00:00Z)")
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{field}: {value.isoformat()} is out of range once in UTC") from None


def parse_time(text: str, field: str, *, assume_utc: bool = True) -> datetime:
    """An ISO 8601 date or date-time from text, in UTC (see ``to_utc``); ValueError naming ``field``."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{field}: {text!r} is not an ISO date or time") from None
    return to_utc(parsed, field, assume_utc=assume_utc)


def encode_cursor(moment: datetime, key: str) -> str:
    """An opaque page cursor for keyset paging on ``(time, key)``."""
    raw = f"{moment.isoformat()}|{key}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, field: str = "cursor") -> tuple[datetime, str]:
    """The ``(time, key)`` of a cursor made by ``encode_cursor``; ValueError naming ``field`` when it is
    not one (including one that encodes a time out of range)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, key = raw.split("|", 1)
        return parse_time(stamp, field, assume_utc=False), key
    except (ValueError, UnicodeDecodeError):
        message = f"{field}: not a page cursor of this listing; start again from the first page"
        raise ValueError(message) from None
