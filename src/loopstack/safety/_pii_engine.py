"""Presidio's analyzer, offline: a blank spaCy pipeline, the regex/checksum recognisers, no downloads.

Presidio's default ``AnalyzerEngine()`` asks spaCy for ``en_core_web_lg`` and downloads it when it is
missing (presidio#1447, #1205); its e-mail recogniser asks tldextract, which fetches the public-suffix
list on first use. Here the NLP engine is ``spacy.blank("en")`` (a tokenizer, no model: context words
still boost a match), tldextract reads only the snapshot bundled in its wheel, and a spaCy NER model
is loaded only when the config names an installed package — it is never downloaded.

Presidio is imported on first use (it takes seconds and pulls in transformers where installed), so
nothing here costs anything until masking is configured.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from loopstack.errors import ConfigError, InvalidInput, LoopstackError

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine, EntityRecognizer

INSTALL_HINT = "pip install 'loopstack[safety]'"

#: What is masked when a config names no entities: the types found by pattern and checksum.
DEFAULT_ENTITIES = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "IP_ADDRESS",
    "URL",
    "US_SSN",
)
#: Types a spaCy NER model finds (only with ``ner_model`` set).
NER_ENTITIES = ("PERSON", "LOCATION")
#: Recognisers that need no model, by the entity they find (Presidio class names).
_PATTERN_RECOGNIZERS = {
    "EMAIL_ADDRESS": "EmailRecognizer",
    "PHONE_NUMBER": "PhoneRecognizer",
    "CREDIT_CARD": "CreditCardRecognizer",
    "IBAN_CODE": "IbanRecognizer",
    "IP_ADDRESS": "IpRecognizer",
    "URL": "UrlRecognizer",
    "US_SSN": "UsSsnRecognizer",
    "CRYPTO": "CryptoRecognizer",
    "MAC_ADDRESS": "MacAddressRecognizer",
    "DATE_TIME": "DateRecognizer",
    "US_BANK_NUMBER": "UsBankRecognizer",
    "US_PASSPORT": "UsPassportRecognizer",
    "UK_NHS": "NhsRecognizer",
}
_ENTITY_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")


class CustomRecognizer(BaseModel):
    """A recogniser declared in config: a regex for one entity type, with a score and context words."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    entity: str
    """Entity type it reports, upper case (e.g. ``ORDER_ID``); a new type or a built-in one."""
    regex: str
    score: float = Field(default=0.8, gt=0, le=1)
    context: list[str] = []
    """Words near a match that raise its score (Presidio's context enhancement)."""


class PiiConfig(BaseModel):
    """What to find: entity types, the score a match needs, custom recognisers, an optional NER model."""

    model_config = ConfigDict(extra="forbid")

    entities: list[str] | None = None
    """Entity types to mask; None = the pattern types (``DEFAULT_ENTITIES``, plus custom and NER ones)."""
    score_threshold: float = Field(default=0.4, ge=0, le=1)
    """Least score a match needs; Presidio's phone matches score 0.4, most patterns 0.5–1.0."""
    recognizers: list[CustomRecognizer] = []
    phone_regions: list[str] = ["US", "GB", "DE", "FR", "IL", "IN", "CA", "BR"]
    """Countries whose national formats are recognised (international ``+NN`` numbers are found anyway)."""
    phone_leniency: int = Field(default=2, ge=0, le=3)
    """libphonenumber's matching: 1 any valid number, 2 (default) also grouped as that country groups
    it, 3 grouped exactly so. At 1, order numbers such as ``2024-648821`` pass as phones."""
    ner_model: str | None = None
    """An installed spaCy pipeline package (e.g. ``en_core_web_sm``) or a saved pipeline folder, for
    PERSON and LOCATION; never downloaded."""
    language: str = "en"

    @classmethod
    def checked(cls, data: Any) -> PiiConfig:
        """``model_validate`` with one readable line naming the field on error."""
        if isinstance(data, PiiConfig):
            return data
        try:
            return cls.model_validate(data or {})
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "config"
            raise InvalidInput(f"PII config {where}: {err['msg']}") from None

    def key(self) -> str:
        """A stable key for caching the engine built from this config."""
        return self.model_dump_json()


@dataclass(frozen=True)
class Finding:
    """One match: where, which type, how sure."""

    start: int
    end: int
    entity: str
    score: float


def _import_presidio() -> Any:
    try:
        import presidio_analyzer
        import spacy  # noqa: F401
    except ImportError as exc:
        raise LoopstackError(
            f"PII masking needs Presidio and spaCy ({exc.name} is missing): {INSTALL_HINT}"
        ) from None
    return presidio_analyzer


_TLD_LOCK = threading.Lock()
_TLD: Any = None


def offline_tldextract() -> Any:
    """A tldextract extractor that reads only the public-suffix snapshot shipped in its wheel."""
    global _TLD
    with _TLD_LOCK:
        if _TLD is None:
            import tldextract

            _TLD = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)
        return _TLD


def _email_recognizer(presidio: Any, language: str) -> Any:
    base = presidio.predefined_recognizers.EmailRecognizer

    class OfflineEmailRecognizer(base):  # type: ignore[misc, valid-type]
        """Presidio's e-mail recogniser, validating the domain against the bundled suffix list."""

        def validate_result(self, pattern_text: str) -> bool:
            return bool(offline_tldextract()(pattern_text).fqdn)

    return OfflineEmailRecognizer(supported_language=language)


#: Mastercard's 2-series (2221-2720, issued since 2017), which Presidio's card pattern leaves out.
_MASTERCARD_2_SERIES = (
    r"\b(2(?:22[1-9]|2[3-9]\d|[3-6]\d{2}|7[01]\d|720))[- ]?(\d{4})[- ]?(\d{4})[- ]?(\d{4})\b"
)


def _card_recognizer(presidio: Any, language: str) -> Any:
    """Presidio's card recogniser (Luhn-validated) with the Mastercard 2-series pattern added."""
    cls = presidio.predefined_recognizers.CreditCardRecognizer
    patterns = [*cls.PATTERNS, presidio.Pattern("Mastercard 2-series (weak)", _MASTERCARD_2_SERIES, 0.3)]
    return cls(patterns=patterns, supported_language=language)


def _nlp_engine(presidio: Any, config: PiiConfig) -> Any:
    import spacy

    spacy_engine = presidio.nlp_engine.SpacyNlpEngine
    ner_model = config.ner_model

    class BlankSpacyNlpEngine(spacy_engine):  # type: ignore[misc, valid-type]
        """SpacyNlpEngine that loads ``spacy.blank`` (or an installed NER package), never downloading."""

        def load(self) -> None:
            self.nlp = {config.language: _spacy_pipeline(spacy, config.language, ner_model)}

        def _doc_to_nlp_artifact(self, doc: Any, language: str) -> Any:
            artifacts = super()._doc_to_nlp_artifact(doc, language)
            if not any(artifacts.lemmas):  # a blank pipeline has no lemmatizer: match context words as typed
                artifacts.lemmas = [token.lower_ for token in doc]
                artifacts.keywords = artifacts.set_keywords(self, artifacts.lemmas, language)
            return artifacts

    engine = BlankSpacyNlpEngine(models=[{"lang_code": config.language, "model_name": ner_model or "blank"}])
    engine.load()
    return engine


def _spacy_pipeline(spacy: Any, language: str, ner_model: str | None) -> Any:
    if ner_model is None:
        return spacy.blank(language)
    if not spacy.util.is_package(ner_model) and not Path(ner_model).is_dir():
        raise ConfigError(
            f"PII ner_model {ner_model!r} is not an installed spaCy package; install it yourself "
            "(Loopstack never downloads models) or leave ner_model unset for the pattern recognisers only"
        )
    return spacy.load(ner_model)


def _check_custom(spec: CustomRecognizer) -> None:
    try:
        re.compile(spec.regex)
    except re.error as exc:
        raise InvalidInput(
            f"PII recogniser {spec.name!r}: regex {spec.regex!r} does not compile ({exc})"
        ) from None
    if not _ENTITY_NAME.match(spec.entity):
        raise InvalidInput(
            f"PII recogniser {spec.name!r}: entity {spec.entity!r} must be upper case letters, digits, '_'"
        )


def _custom(presidio: Any, spec: CustomRecognizer, language: str) -> Any:
    pattern = presidio.Pattern(name=spec.name, regex=spec.regex, score=spec.score)
    return presidio.PatternRecognizer(
        supported_entity=spec.entity,
        name=spec.name,
        patterns=[pattern],
        context=spec.context or None,
        supported_language=language,
    )


def known_entities(config: PiiConfig | None = None) -> list[str]:
    """Every entity type a config can name: the built-in recognisers', NER's, and its custom ones'."""
    names = set(_PATTERN_RECOGNIZERS) | set(NER_ENTITIES)
    if config is not None:
        names |= {r.entity for r in config.recognizers}
    return sorted(names)


def resolved_entities(config: PiiConfig) -> list[str]:
    """The entity types ``config`` masks; an unknown one is an error listing the known ones."""
    custom = [r.entity for r in config.recognizers]
    if config.entities is None:
        wanted = list(DEFAULT_ENTITIES) + (list(NER_ENTITIES) if config.ner_model else []) + custom
        return list(dict.fromkeys(wanted))
    known = known_entities(config)
    unknown = [e for e in config.entities if e not in known]
    if unknown:
        raise InvalidInput(
            f"unknown PII entity type {', '.join(repr(u) for u in unknown)}; known: {', '.join(known)}"
        )
    needs_ner = [e for e in config.entities if e in NER_ENTITIES and e not in custom]
    if needs_ner and not config.ner_model:
        raise ConfigError(
            f"PII entity {needs_ner[0]} needs a spaCy NER model: set ner_model to an installed package "
            "(e.g. en_core_web_sm)"
        )
    return list(dict.fromkeys(config.entities))


class PiiAnalyzer:
    """A Presidio AnalyzerEngine built offline for one config, with the entity types it masks."""

    def __init__(self, config: PiiConfig) -> None:
        self.config = config
        for spec in config.recognizers:
            _check_custom(spec)
        self.entities = resolved_entities(config)
        presidio = _import_presidio()
        recognizers: list[EntityRecognizer] = [
            _custom(presidio, r, config.language) for r in config.recognizers
        ]
        predefined = presidio.predefined_recognizers
        for entity in self.entities:
            cls_name = _PATTERN_RECOGNIZERS.get(entity)
            if entity == "EMAIL_ADDRESS":
                recognizers.append(_email_recognizer(presidio, config.language))
            elif entity == "PHONE_NUMBER":
                recognizers.append(
                    predefined.PhoneRecognizer(
                        supported_language=config.language,
                        supported_regions=tuple(config.phone_regions),
                        leniency=config.phone_leniency,
                    )
                )
            elif entity == "CREDIT_CARD":
                recognizers.append(_card_recognizer(presidio, config.language))
            elif cls_name is not None:
                recognizers.append(getattr(predefined, cls_name)(supported_language=config.language))
        nlp_engine = _nlp_engine(presidio, config)
        if config.ner_model and any(e in NER_ENTITIES for e in self.entities):
            recognizers.append(
                predefined.SpacyRecognizer(
                    supported_language=config.language, supported_entities=list(NER_ENTITIES)
                )
            )
        registry = presidio.RecognizerRegistry(supported_languages=[config.language])
        for recognizer in recognizers:
            registry.add_recognizer(recognizer)
        self.engine: AnalyzerEngine = presidio.AnalyzerEngine(
            registry=registry,
            nlp_engine=nlp_engine,
            supported_languages=[config.language],
            default_score_threshold=config.score_threshold,
        )
        self._lock = threading.Lock()

    def analyze(self, text: str) -> list[Finding]:
        """Non-overlapping findings in ``text``, left to right (higher score, then longer, wins)."""
        if not text or not text.strip():
            return []
        with self._lock:  # spaCy's tokenizer and Presidio's registry are not documented thread-safe
            results = self.engine.analyze(text=text, language=self.config.language, entities=self.entities)
        return _non_overlapping(
            [_trimmed(text, Finding(r.start, r.end, r.entity_type, float(r.score))) for r in results]
        )


def _trimmed(text: str, finding: Finding) -> Finding:
    """A URL match without the sentence punctuation Presidio's pattern takes after it."""
    if finding.entity != "URL":
        return finding
    end = finding.end
    while end > finding.start + 1 and text[end - 1] in ".,;:!?)]}'\"":
        end -= 1
    return Finding(finding.start, end, finding.entity, finding.score)


def _non_overlapping(findings: Sequence[Finding]) -> list[Finding]:
    chosen: list[Finding] = []
    for f in sorted(findings, key=lambda f: (-f.score, -(f.end - f.start), f.start)):
        if all(f.end <= c.start or f.start >= c.end for c in chosen):
            chosen.append(f)
    return sorted(chosen, key=lambda f: f.start)


_ANALYZERS: dict[str, PiiAnalyzer] = {}
_ANALYZERS_LOCK = threading.Lock()


def analyzer_for(config: PiiConfig) -> PiiAnalyzer:
    """The analyzer for ``config``, built once per process (building one costs about a second)."""
    key = config.key()
    with _ANALYZERS_LOCK:
        found = _ANALYZERS.get(key)
        if found is None:
            found = _ANALYZERS[key] = PiiAnalyzer(config)
        return found
