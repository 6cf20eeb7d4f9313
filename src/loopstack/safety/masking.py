"""Masking text with what the analyzer found: redact, numbered placeholders, or salted hashes.

``PiiMasker`` is a plain ``str -> str`` callable, so it is the SDK's ``mask=`` hook as it is
(``loopstack.init(mask=pii_masker())``). Placeholders are numbered per trace: the same e-mail address
is ``<EMAIL_1>`` in every span of one trace, and a different address in that trace is ``<EMAIL_2>``.
The tracing SDK hands the masker the span's trace id (``for_trace``); outside a trace the numbering is
per call of ``scope()`` (one dataset record, one model request).
"""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal

from loopstack.errors import ConfigError, InvalidInput
from loopstack.safety._pii_engine import Finding, PiiAnalyzer, PiiConfig, analyzer_for

Strategy = Literal["redact", "placeholder", "hash"]
STRATEGIES: tuple[str, ...] = ("redact", "placeholder", "hash")
REDACTED = "[REDACTED]"
#: Short labels for placeholders (``<EMAIL_1>``); other types use their own name.
LABELS = {
    "EMAIL_ADDRESS": "EMAIL",
    "PHONE_NUMBER": "PHONE",
    "CREDIT_CARD": "CREDIT_CARD",
    "IBAN_CODE": "IBAN",
    "IP_ADDRESS": "IP",
    "URL": "URL",
    "US_SSN": "SSN",
}
#: Traces whose placeholder numbering is remembered (least recently used forgotten first).
MAX_TRACES = 10_000
_NO_SCOPE = ""
_scope_var: contextvars.ContextVar[_Numbering | None] = contextvars.ContextVar(
    "loopstack_pii_scope", default=None
)


class _Numbering:
    """Placeholder numbers of one scope (a trace, a record): value -> number, per entity type."""

    __slots__ = ("counts", "numbers")

    def __init__(self) -> None:
        self.numbers: dict[tuple[str, str], int] = {}
        self.counts: Counter[str] = Counter()

    def number(self, entity: str, value: str) -> int:
        key = (entity, value)
        found = self.numbers.get(key)
        if found is None:
            self.counts[entity] += 1
            found = self.numbers[key] = self.counts[entity]
        return found


def check_strategy(strategy: str) -> Strategy:
    """``strategy`` if it is one we know, else an error listing them."""
    if strategy not in STRATEGIES:
        raise InvalidInput(f"unknown PII masking strategy {strategy!r}; use one of: {', '.join(STRATEGIES)}")
    return strategy  # type: ignore[return-value]


class PiiMasker:
    """Finds PII with an offline Presidio analyzer and replaces it by ``strategy``.

    Call it on a string (``masker(text)``); ``masker.counts`` holds how many values of each type it
    replaced since it was made. The analyzer is built on the first call, not before.
    """

    def __init__(
        self, config: PiiConfig, strategy: Strategy = "placeholder", salt: str | None = None
    ) -> None:
        self.config = config
        self.strategy = check_strategy(strategy)
        if self.strategy == "hash" and not salt:
            raise ConfigError("PII strategy 'hash' needs a salt: set LOOPSTACK_PII_SALT (or pass salt=...)")
        self._salt = (salt or "").encode()
        self._analyzer: PiiAnalyzer | None = None
        self._traces: OrderedDict[str, _Numbering] = OrderedDict()
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    @property
    def analyzer(self) -> PiiAnalyzer:
        """The Presidio analyzer (built, once per config and process, on first use)."""
        if self._analyzer is None:
            self._analyzer = analyzer_for(self.config)
        return self._analyzer

    def find(self, text: str) -> list[Finding]:
        """What would be masked in ``text``."""
        return self.analyzer.analyze(text)

    def __call__(self, value: Any) -> Any:
        """``value`` with its PII replaced when it is a string; anything else is returned as it is."""
        if not isinstance(value, str):
            return value
        return self._mask(value, _scope_var.get())

    def mask(self, text: str, counts: Counter[str] | None = None) -> str:
        """``text`` masked in the current scope; ``counts`` (if given) gains the types replaced."""
        return self._mask(text, _scope_var.get(), counts)

    def for_trace(self, trace_id: str) -> Callable[[Any], Any]:
        """The masker with placeholders numbered for the trace ``trace_id`` (the tracing SDK calls this)."""
        numbering = self._trace_numbering(trace_id)
        return lambda value: self._mask(value, numbering) if isinstance(value, str) else value

    @contextmanager
    def scope(self, trace_id: str | None = None) -> Iterator[None]:
        """Number placeholders consistently inside the block: per trace id, or fresh when None."""
        numbering = self._trace_numbering(trace_id) if trace_id else _Numbering()
        token = _scope_var.set(numbering)
        try:
            yield
        finally:
            _scope_var.reset(token)

    def _trace_numbering(self, trace_id: str) -> _Numbering:
        with self._lock:
            found = self._traces.get(trace_id)
            if found is None:
                found = self._traces[trace_id] = _Numbering()
                if len(self._traces) > MAX_TRACES:
                    self._traces.popitem(last=False)
            else:
                self._traces.move_to_end(trace_id)
            return found

    def _mask(self, text: str, numbering: _Numbering | None, counts: Counter[str] | None = None) -> str:
        findings = self.analyzer.analyze(text)
        if not findings:
            return text
        if numbering is None:
            numbering = _Numbering()  # no scope: numbered within this text only
        parts: list[str] = []
        at = 0
        for f in findings:
            parts.append(text[at : f.start])
            parts.append(self._replacement(f.entity, text[f.start : f.end], numbering))
            at = f.end
        parts.append(text[at:])
        found = Counter(f.entity for f in findings)
        with self._lock:
            self.counts.update(found)
        if counts is not None:
            counts.update(found)
        return "".join(parts)

    def _replacement(self, entity: str, value: str, numbering: _Numbering) -> str:
        label = LABELS.get(entity, entity)
        if self.strategy == "redact":
            return REDACTED
        if self.strategy == "placeholder":
            with self._lock:
                n = numbering.number(entity, value)
            return f"<{label}_{n}>"
        digest = hmac.new(self._salt, f"{entity}\x00{value}".encode(), hashlib.sha256).hexdigest()[:16]
        return f"<{label}_{digest}>"


def pii_masker(
    strategy: Strategy = "placeholder",
    *,
    entities: Iterable[str] | None = None,
    recognizers: Iterable[Mapping[str, Any]] = (),
    score_threshold: float | None = None,
    ner_model: str | None = None,
    salt: str | None = None,
    config: PiiConfig | Mapping[str, Any] | None = None,
) -> PiiMasker:
    """A ready-made masker for ``loopstack.init(mask=...)`` and everything else that masks.

    ``entities`` (default: email, phone, card, IBAN, IP, URL, US SSN), custom ``recognizers``
    (``{"name", "entity", "regex", "score", "context"}``) and ``ner_model`` (an installed spaCy
    package, for PERSON/LOCATION) configure what is found; ``salt`` defaults to ``LOOPSTACK_PII_SALT``.
    Bad entity names and regexes are reported here, not on the first span.
    """
    data: dict[str, Any] = dict(PiiConfig.checked(config).model_dump()) if config is not None else {}
    if entities is not None:
        data["entities"] = list(entities)
    if recognizers:
        data["recognizers"] = [dict(r) for r in recognizers]
    if score_threshold is not None:
        data["score_threshold"] = score_threshold
    if ner_model is not None:
        data["ner_model"] = ner_model
    checked = PiiConfig.checked(data)
    if salt is None:
        from loopstack.config import get_settings

        salt = get_settings().pii_salt
    _validate_early(checked)
    return PiiMasker(checked, strategy, salt)


def _validate_early(config: PiiConfig) -> None:
    from loopstack.safety._pii_engine import _check_custom, resolved_entities

    for spec in config.recognizers:
        _check_custom(spec)
    resolved_entities(config)


def mask_records(
    records: Iterable[Mapping[str, Any]],
    masker: PiiMasker | None = None,
    *,
    keys: Iterable[str] | None = None,
    skip: Iterable[str] = ("id", "split", "cluster"),
    strategy: Strategy = "placeholder",
) -> list[dict[str, Any]]:
    """Copies of ``records`` (dataset items, teacher-labelling requests) with every string masked.

    Strings nested in dicts and lists are masked too; ``keys`` limits masking to those top-level
    fields and ``skip`` leaves some out (an item's id, split and cluster by default). Placeholders are
    numbered per record, so a value keeps one placeholder across a record's input and expected output.
    """
    masker = masker or pii_masker(strategy)
    only = set(keys) if keys is not None else None
    left = set(skip)
    out: list[dict[str, Any]] = []
    for record in records:
        with masker.scope():
            out.append(
                {
                    k: (_deep(v, masker) if (only is None or k in only) and k not in left else v)
                    for k, v in record.items()
                }
            )
    return out


def _deep(value: Any, masker: PiiMasker) -> Any:
    if isinstance(value, str):
        return masker.mask(value)
    if isinstance(value, Mapping):
        return {k: _deep(v, masker) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_deep(v, masker) for v in value]
    return value
