"""JSON scorers: valid JSON, JSON Schema conformance, and field-by-field match against an expected object.

Small models wrap JSON in Markdown code fences or add a sentence around it, so every scorer here looks
for the JSON inside the output before judging it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from loopstack.evals.scorers._base import Sample, Score, Scorer
from loopstack.evals.scorers._registry import scorer

_FENCE = re.compile(r"```[ \t]*(?:json|JSON|jsonc|js|javascript)?[ \t]*\r?\n?(.*?)```", re.DOTALL)


def extract_json(text: str) -> Any:
    """The JSON value in ``text``: the whole text, a fenced code block, or the first balanced
    ``{...}``/``[...]`` inside it. Raises ``ValueError`` when there is none."""
    stripped = text.strip()
    candidates = [stripped]
    candidates.extend(m.group(1).strip() for m in _FENCE.finditer(text))
    if stripped.startswith("```"):  # an unterminated fence (the model ran out of tokens)
        candidates.append(stripped.split("\n", 1)[1] if "\n" in stripped else "")
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except json.JSONDecodeError:
            continue
    decoder = json.JSONDecoder()
    for i, ch in enumerate(text):
        if ch in "{[":
            try:
                value, _ = decoder.raw_decode(text, i)
            except json.JSONDecodeError:
                continue
            return value
    raise ValueError("no JSON found in the output")


def _expected_object(sample: Sample) -> dict[str, Any]:
    expected = sample.expected
    if isinstance(expected, str):
        try:
            expected = extract_json(expected)
        except ValueError:
            raise ValueError("the expected value is not a JSON object") from None
    if not isinstance(expected, dict):
        raise ValueError(f"the expected value must be a JSON object, got {type(expected).__name__}")
    return expected


@scorer("json_valid", version="1")
class JsonValid(Scorer):
    """The output contains valid JSON (code fences tolerated unless ``strict``).

    ``require_object`` accepts only a JSON object.
    """

    data_type = "boolean"

    def __init__(
        self,
        *,
        strict: bool = False,
        require_object: bool = False,
        alias: str | None = None,
        threshold: float | None = None,
    ) -> None:
        super().__init__(alias=alias, threshold=threshold, strict=strict, require_object=require_object)
        self._strict = strict
        self._object = require_object

    def compute(self, sample: Sample) -> Score:
        text = sample.output_text
        try:
            value = json.loads(text) if self._strict else extract_json(text)
        except ValueError as exc:
            return self.make_score(False, explanation=str(exc).split(":")[0])
        if self._object and not isinstance(value, dict):
            return self.make_score(False, explanation=f"JSON {type(value).__name__}, not an object")
        return self.make_score(True)


@scorer("json_schema", version="1")
class JsonSchema(Scorer):
    """The output's JSON validates against ``schema`` (a JSON Schema object; default: the expected value)."""

    data_type = "boolean"

    def __init__(
        self,
        *,
        schema: dict[str, Any] | None = None,
        alias: str | None = None,
        threshold: float | None = None,
    ) -> None:
        params: dict[str, Any] = {"schema": schema} if schema is not None else {}
        super().__init__(alias=alias, threshold=threshold, **params)
        self._schema = schema
        if schema is not None:
            self._validator_for(schema)  # a broken schema fails when the scorer is built, not per item

    @staticmethod
    def _validator_for(schema: dict[str, Any]) -> Any:
        from jsonschema import validators  # type: ignore[import-untyped]
        from jsonschema.exceptions import SchemaError  # type: ignore[import-untyped]

        cls = validators.validator_for(schema)
        try:
            cls.check_schema(schema)
        except SchemaError as exc:
            raise ValueError(f"invalid JSON schema: {exc.message}") from None
        return cls(schema)

    def compute(self, sample: Sample) -> Score:
        schema = self._schema if self._schema is not None else _expected_object(sample)
        validator = self._validator_for(schema)
        try:
            value = extract_json(sample.output_text)
        except ValueError:
            return self.make_score(False, explanation="no JSON found in the output")
        errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
        if not errors:
            return self.make_score(True)
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(root)"
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        return self.make_score(False, explanation=f"{where}: {first.message}{more}")


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def values_match(got: Any, want: Any, *, case_sensitive: bool = False, tolerance: float = 0.0) -> bool:
    """Field equality as a reader means it: strings stripped (and case-folded unless ``case_sensitive``),
    numbers equal within ``tolerance`` even when one is written as text, lists and objects recursively."""
    if isinstance(want, dict):
        return (
            isinstance(got, dict)
            and set(got) == set(want)
            and all(
                values_match(got[k], want[k], case_sensitive=case_sensitive, tolerance=tolerance)
                for k in want
            )
        )
    if isinstance(want, list):
        return (
            isinstance(got, list)
            and len(got) == len(want)
            and all(
                values_match(g, w, case_sensitive=case_sensitive, tolerance=tolerance)
                for g, w in zip(got, want, strict=True)
            )
        )
    if isinstance(want, bool) or isinstance(got, bool) or want is None or got is None:
        return got is want or got == want
    gn, wn = _number(got), _number(want)
    if gn is not None and wn is not None and not (isinstance(got, str) and isinstance(want, str)):
        return abs(gn - wn) <= tolerance
    if isinstance(got, str) and isinstance(want, str):
        g, w = got.strip(), want.strip()
        return g == w if case_sensitive else g.casefold() == w.casefold()
    return bool(got == want)


@scorer("json_field_match", version="1")
class JsonFieldMatch(Scorer):
    """Per-field match of the output's JSON object against the expected object, plus the overall share.

    Reports ``<name>`` (fraction of fields matched, 0..1) and ``<name>.<field>`` (pass/fail per field).
    An output with no JSON object scores 0 on every field: that is the model's failure, not the scorer's.
    """

    def __init__(
        self,
        *,
        fields: list[str] | None = None,
        case_sensitive: bool = False,
        tolerance: float = 0.0,
        alias: str | None = None,
        threshold: float | None = None,
    ) -> None:
        params: dict[str, Any] = {"case_sensitive": case_sensitive, "tolerance": tolerance}
        if fields is not None:
            params["fields"] = list(fields)
        super().__init__(alias=alias, threshold=threshold, **params)
        self._fields = list(fields) if fields is not None else None
        self._case = case_sensitive
        self._tol = tolerance

    def compute(self, sample: Sample) -> list[Score]:
        expected = _expected_object(sample)
        fields = self._fields if self._fields is not None else list(expected)
        if not fields:
            raise ValueError("the expected object has no fields to compare")
        missing_expected = [f for f in fields if f not in expected]
        if missing_expected:
            raise ValueError(f"field {missing_expected[0]!r} is not in the expected object")
        try:
            got = extract_json(sample.output_text)
        except ValueError:
            got = None
        note = None if isinstance(got, dict) else "the output has no JSON object"
        scores: list[Score] = []
        matched = 0
        for f in fields:
            if not isinstance(got, dict):
                ok, why = False, note
            elif f not in got:
                ok, why = False, "missing from the output"
            else:
                ok = values_match(got[f], expected[f], case_sensitive=self._case, tolerance=self._tol)
                why = None if ok else f"got {got[f]!r}, expected {expected[f]!r}"
            matched += ok
            scores.append(self.make_score(ok, name=f"{self.score_name}.{f}", explanation=why))
        overall = self.make_score(
            matched / len(fields),
            explanation=note or f"{matched}/{len(fields)} fields match",
            metadata={"matched": matched, "fields": len(fields)},
            passed=(matched == len(fields)) if self.threshold is None else None,
        )
        return [overall, *scores]
