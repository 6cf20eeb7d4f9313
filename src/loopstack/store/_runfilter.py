"""The runs filter language: ``model=openai/x accuracy>0.8 tag:baseline prompt=triage version>=2``.

A filter is terms separated by spaces, all of which must hold:

* ``KEY OP VALUE`` — ``OP`` is one of ``= != > >= < <= ~`` (``~`` is "contains", for text keys). A
  key naming a run parameter (``model``, ``prompt``, ``version``, ``dataset``, …) compares that
  parameter; any other key is a metric (a scorer's mean, or ``cost``, ``latency_ms``, ``errors``,
  ``items``) and takes a number.
* ``tag:NAME`` — the run carries that tag.
* a bare word — the run's name, suite, prompt, model or id contains it.

Values with spaces are quoted: ``note~"needs review"``. A term that does not parse is an
``InvalidInput`` naming its position (1-based) and what was expected there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from loopstack.errors import InvalidInput

#: parameter key -> (runs column or relation, value type)
TEXT_PARAMS = (
    "model",
    "prompt",
    "suite",
    "status",
    "dataset",
    "git",
    "name",
    "id",
    "note",
    "hash",
    "group",
    "kind",
)
INT_PARAMS = ("version", "dataset_version")
OPERATORS = (">=", "<=", "!=", "=", ">", "<", "~")

Op = Literal[">=", "<=", "!=", "=", ">", "<", "~"]


@dataclass(frozen=True)
class Condition:
    """``key op value``: on a parameter (``param=True``) or a metric's mean."""

    key: str
    op: Op
    value: str | float | int
    param: bool


@dataclass(frozen=True)
class TagTerm:
    tag: str


@dataclass(frozen=True)
class TextTerm:
    text: str


Term = Condition | TagTerm | TextTerm

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")


class FilterError(InvalidInput):
    """A filter expression that does not parse."""


def _fail(expr: str, pos: int, expected: str) -> FilterError:
    got = f"{expr[pos : pos + 12]!r}" if pos < len(expr) else "the end of the filter"
    return FilterError(f"filter: at position {pos + 1}: expected {expected}, got {got}")


def _value(expr: str, pos: int) -> tuple[str, int]:
    """A quoted or bare value starting at ``pos``; (value, position after it)."""
    if pos < len(expr) and expr[pos] in "\"'":
        quote = expr[pos]
        end = expr.find(quote, pos + 1)
        if end < 0:
            raise FilterError(f"filter: at position {pos + 1}: the quote {quote} is never closed")
        return expr[pos + 1 : end], end + 1
    end = pos
    while end < len(expr) and not expr[end].isspace():
        end += 1
    return expr[pos:end], end


def parse_filter(expr: str) -> list[Term]:
    """The terms of ``expr`` (empty for a blank filter); FilterError names the place that is wrong."""
    terms: list[Term] = []
    pos, n = 0, len(expr)
    while True:
        while pos < n and expr[pos].isspace():
            pos += 1
        if pos >= n:
            return terms
        if expr.startswith("tag:", pos):
            tag, end = _value(expr, pos + 4)
            if not tag:
                raise _fail(expr, pos + 4, "a tag name after 'tag:'")
            terms.append(TagTerm(tag))
            pos = end
            continue
        if expr[pos] in "\"'":
            text, pos = _value(expr, pos)
            terms.append(TextTerm(text))
            continue
        m = _KEY.match(expr, pos)
        if m is None:
            if expr[pos] in "=!<>~":
                raise _fail(expr, pos, "a key (a parameter or metric name), 'tag:NAME' or a word")
            word, pos = _value(expr, pos)
            terms.append(TextTerm(word))
            continue
        key, after = m.group(0), m.end()
        op = next((o for o in OPERATORS if expr.startswith(o, after)), None)
        if op is None:
            if after < n and not expr[after].isspace():
                raise _fail(expr, after, f"an operator ({' '.join(OPERATORS)}) after {key!r}")
            terms.append(TextTerm(key))
            pos = after
            continue
        vpos = after + len(op)
        raw, end = _value(expr, vpos)
        if raw == "" and (vpos >= n or expr[vpos].isspace()):
            raise _fail(expr, vpos, f"a value after '{key}{op}'")
        terms.append(_condition(expr, key, op, raw, vpos))  # type: ignore[arg-type]
        pos = end


def _condition(expr: str, key: str, op: Op, raw: str, vpos: int) -> Condition:
    if key in TEXT_PARAMS:
        if op not in ("=", "!=", "~"):
            raise FilterError(
                f"filter: at position {vpos - len(op) + 1}: {key!r} is text; use = != or ~, not {op}"
            )
        return Condition(key, op, raw, True)
    if key in INT_PARAMS:
        if op == "~":
            raise FilterError(f"filter: at position {vpos}: {key!r} is a number; ~ is for text")
        if not re.fullmatch(r"\d+", raw):
            raise _fail(expr, vpos, f"a whole number for {key!r}")
        return Condition(key, op, int(raw), True)
    if op == "~":
        raise FilterError(f"filter: at position {vpos}: metric {key!r} is a number; ~ is for text")
    if not _NUMBER.match(raw):
        raise _fail(expr, vpos, f"a number for metric {key!r}")
    return Condition(key, op, float(raw), False)
