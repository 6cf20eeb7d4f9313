"""Turning function arguments and results into bounded span attribute text, through the masking hook."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

#: Marker appended to text that was cut at the size limit.
TRUNCATED = "…[truncated]"
_MAX_ITEMS = 200  # longest list/dict kept before encoding: bounds the work for huge containers
_MAX_DEPTH = 6
_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


class Capture:
    """Settings for capturing values: the size limit (characters) and an optional masking hook.

    The mask receives every string inside a captured value (the arguments dict, the return value,
    nested in dicts and lists, dict keys included, and the text of any other object) and returns what
    to record instead. If it raises, the whole value is replaced by a marker, so unmasked data never
    leaks.
    """

    __slots__ = ("limit", "mask")

    #: A mask may offer ``for_trace(trace_id_hex) -> mask`` to be bound to the span's trace (so a
    #: placeholder stays the same across the spans of one trace: ``loopstack.safety.pii_masker``).

    def __init__(self, limit: int = 8000, mask: Callable[[Any], Any] | None = None) -> None:
        self.limit = limit
        self.mask = mask

    def text(self, value: Any, trace_id: int = 0) -> str:
        """``value`` as text of at most ``limit`` characters (plus the truncation marker).

        ``trace_id`` (the span's) binds a mask that has ``for_trace`` to that trace.
        """
        if self.mask is not None:
            try:
                value = _masked(_shrink(value, self.limit * 2), trace_mask(self.mask, trace_id))
            except Exception:  # noqa: BLE001 - never record what the mask failed to clean
                return "[masking failed]"
        return to_text(value, self.limit)


def trace_mask(mask: Callable[[Any], Any], trace_id: int) -> Callable[[Any], Any]:
    """``mask`` bound to the trace ``trace_id`` when it supports that (``for_trace``), else ``mask``."""
    bind = getattr(mask, "for_trace", None)
    if trace_id and callable(bind):
        bound: Callable[[Any], Any] = bind(f"{trace_id:032x}")
        return bound
    return mask


def mask_text(text: str, mask: Callable[[Any], Any]) -> str:
    """Text someone else recorded (a JSON document or plain text), with ``mask`` applied to every
    string in it, as ``Capture.text`` does to a captured value. Raises what the mask raises."""
    if text[:1] in ("[", "{"):
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
        else:
            return orjson.dumps(_masked(value, mask), default=_default, option=_OPTIONS).decode()
    masked = mask(text)
    return masked if isinstance(masked, str) else to_text(masked, len(text) * 2 + 100)


def _masked(value: Any, mask: Callable[[Any], Any], depth: int = 0) -> Any:
    """``value`` with ``mask`` applied to every string in it, however deep.

    Strings are cut (at twice the capture limit) before they get here, so a match that straddles the
    final cut is still masked. Objects other than plain containers are turned into their JSON form
    first, so the strings of a dataclass or a pydantic model reach the mask too.
    """
    if isinstance(value, str):
        return mask(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if depth > _MAX_DEPTH:
        return mask(repr(value)[:200])
    if isinstance(value, dict):
        return {(mask(k) if isinstance(k, str) else k): _masked(v, mask, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(v, mask, depth + 1) for v in value]
    try:
        plain = orjson.loads(orjson.dumps(value, default=_default, option=_OPTIONS))
    except (TypeError, orjson.JSONEncodeError):
        return mask(repr(value))
    return _masked(plain, mask, depth + 1)


def _default(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)  # pydantic models
    if callable(dump):
        try:
            return dump(mode="json")
        except Exception:  # noqa: BLE001
            pass
    if isinstance(value, set | frozenset):
        return list(value)
    return repr(value)


def _shrink(value: Any, limit: int, depth: int = 0) -> Any:
    """A copy of ``value`` cut to what can show within ``limit`` characters, before encoding."""
    if isinstance(value, str):
        return value[: limit + 1] if len(value) > limit else value
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    if depth >= _MAX_DEPTH:
        return value if isinstance(value, int | float | bool) or value is None else repr(value)[:200]
    if isinstance(value, dict):
        if len(value) > _MAX_ITEMS:
            value = dict(list(value.items())[:_MAX_ITEMS])
        return {k: _shrink(v, limit, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if len(value) > _MAX_ITEMS:
            value = value[:_MAX_ITEMS]
        return [_shrink(v, limit, depth + 1) for v in value]
    return value


def to_text(value: Any, limit: int) -> str:
    """Text for ``value``: strings as they are, anything else as JSON; cut at ``limit`` characters."""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = orjson.dumps(_shrink(value, limit), default=_default, option=_OPTIONS).decode()
        except (TypeError, orjson.JSONEncodeError):
            text = repr(value)[: limit + 1]
    if len(text) > limit:
        return text[:limit] + TRUNCATED
    return text
