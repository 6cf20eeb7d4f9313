"""String-matching scorers: exact match with normalisation, contains, regex, starts-with."""

from __future__ import annotations

import re
import string
import unicodedata
from typing import Any

from loopstack.evals.scorers._base import Sample, Score, Scorer
from loopstack.evals.scorers._registry import scorer

_PUNCT = str.maketrans("", "", string.punctuation)
_WS = re.compile(r"\s+")


def normalise(
    text: str,
    *,
    case_sensitive: bool = True,
    strip: bool = True,
    collapse_whitespace: bool = False,
    ignore_punctuation: bool = False,
) -> str:
    """Text after the chosen normalisations (NFC first, so equal-looking strings compare equal)."""
    out = unicodedata.normalize("NFC", text)
    if not case_sensitive:
        out = out.casefold()
    if ignore_punctuation:
        out = out.translate(_PUNCT)
    if collapse_whitespace:
        out = _WS.sub(" ", out)
    if strip:
        out = out.strip()
    return out


def _targets(sample: Sample, value: Any) -> list[str]:
    """The reference strings: an explicit parameter, else the sample's expected value (a list = any)."""
    ref = sample.expected if value is None else value
    if ref is None:
        raise ValueError("no expected value to compare with")
    if isinstance(ref, list | tuple):
        return [str(r) for r in ref]
    return [str(ref)]


@scorer("exact_match", version="1")
class ExactMatch(Scorer):
    """Output equals the expected value after optional normalisation (a list of references = any)."""

    data_type = "boolean"

    def __init__(
        self,
        *,
        case_sensitive: bool = True,
        strip: bool = True,
        collapse_whitespace: bool = False,
        ignore_punctuation: bool = False,
        alias: str | None = None,
        threshold: float | None = None,
    ) -> None:
        super().__init__(
            alias=alias,
            threshold=threshold,
            case_sensitive=case_sensitive,
            strip=strip,
            collapse_whitespace=collapse_whitespace,
            ignore_punctuation=ignore_punctuation,
        )
        self._norm = {
            "case_sensitive": case_sensitive,
            "strip": strip,
            "collapse_whitespace": collapse_whitespace,
            "ignore_punctuation": ignore_punctuation,
        }

    def compute(self, sample: Sample) -> Score:
        out = normalise(sample.output_text, **self._norm)
        refs = _targets(sample, None)
        hit = any(out == normalise(r, **self._norm) for r in refs)
        return self.make_score(hit, explanation=None if hit else f"expected {refs[0]!r}")


class _Pattern(Scorer):
    """Shared body of contains / icontains / starts_with: a reference string from ``value`` or expected."""

    data_type = "boolean"

    _case_sensitive = True

    def __init__(
        self,
        *,
        value: str | list[str] | None = None,
        alias: str | None = None,
        threshold: float | None = None,
    ) -> None:
        super().__init__(alias=alias, threshold=threshold, **({"value": value} if value is not None else {}))
        self._value = value

    def _test(self, output: str, ref: str) -> bool:
        raise NotImplementedError

    def compute(self, sample: Sample) -> bool:
        out = sample.output_text
        refs = _targets(sample, self._value)
        if not self._case_sensitive:
            out = out.casefold()
            refs = [r.casefold() for r in refs]
        return any(self._test(out, r) for r in refs)


@scorer("contains", version="1")
class Contains(_Pattern):
    """Output contains the reference (``value`` param, else expected; a list = any of them)."""

    def _test(self, output: str, ref: str) -> bool:
        return ref in output


@scorer("icontains", version="1")
class IContains(_Pattern):
    """Output contains the reference, ignoring case."""

    _case_sensitive = False

    def _test(self, output: str, ref: str) -> bool:
        return ref in output


@scorer("starts_with", version="1")
class StartsWith(_Pattern):
    """Output (leading whitespace stripped) starts with the reference."""

    def _test(self, output: str, ref: str) -> bool:
        return output.lstrip().startswith(ref)


@scorer("regex", version="1")
class Regex(Scorer):
    """Output matches a regular expression (``pattern`` param, else the expected value), searched."""

    data_type = "boolean"

    def __init__(
        self,
        *,
        pattern: str | None = None,
        ignore_case: bool = False,
        full_match: bool = False,
        alias: str | None = None,
        threshold: float | None = None,
    ) -> None:
        params: dict[str, Any] = {"ignore_case": ignore_case, "full_match": full_match}
        if pattern is not None:
            params["pattern"] = pattern
        super().__init__(alias=alias, threshold=threshold, **params)
        self._flags = re.IGNORECASE if ignore_case else 0
        self._full = full_match
        self._compiled = re.compile(pattern, self._flags) if pattern is not None else None

    def compute(self, sample: Sample) -> bool:
        out = sample.output_text
        patterns = (
            [self._compiled]
            if self._compiled is not None
            else [re.compile(p, self._flags) for p in _targets(sample, None)]
        )
        if self._full:
            return any(p.fullmatch(out.strip()) for p in patterns)
        return any(p.search(out) for p in patterns)
