"""Request parameters shared by the REST routers: bounded whole numbers, times in range, and the error
responses every route may give (declared in the OpenAPI document, so clients and fuzzers know them)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Query
from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, ValidationInfo

from loopstack._inputs import MAX_INT, parse_time, to_utc


def _parse(value: Any, info: ValidationInfo) -> Any:
    # Text is read as ISO 8601 only: pydantic's lax mode would also take "0.5" as a Unix timestamp.
    return parse_time(value, info.field_name or "time", assume_utc=False) if isinstance(value, str) else value


def _utc(value: datetime, info: ValidationInfo) -> datetime:
    return to_utc(value, info.field_name or "time")


#: An ISO 8601 time with a zone, converted to UTC; out-of-range or zone-less values are a 422.
UTCTime = Annotated[datetime, BeforeValidator(_parse), AfterValidator(_utc)]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=MAX_INT, description="rows to skip (next_offset of the last page)")]
#: A version number (prompts, datasets, spans' prompt version): what an INTEGER column holds.
VersionNumber = Annotated[int, Field(ge=0, le=MAX_INT)]


class ErrorBody(BaseModel):
    """What an error response carries: one message naming what was wrong."""

    detail: str | list[Any] = Field(description="the message (a list of problems for a 422)")


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The request cannot be carried out as asked"},
    401: {"model": ErrorBody, "description": "An API key is required, or the one sent is unknown or revoked"},
    403: {"model": ErrorBody, "description": "Refused: an untrusted Host header in open mode"},
    404: {"model": ErrorBody, "description": "No such item in this project"},
    503: {"model": ErrorBody, "description": "The database is unavailable; retry after Retry-After seconds"},
}
