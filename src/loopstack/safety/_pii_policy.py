"""Where masking is applied by policy: at ingest (per project) and on requests to external models.

A project's policy is one stored setting (``project_settings`` key ``pii``): the strategy applied to
spans as they are ingested, and what happens to requests for external providers (``mask`` them, or
``refuse`` to send one that holds PII). ``enable_pii_policy`` registers the external-request policy
into the models layer's hook (models does not import safety); the span of a masked call records
``loopstack.pii.masked=true`` and a count per entity type.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from opentelemetry import trace
from pydantic import BaseModel, ConfigDict, ValidationError

from loopstack.errors import InvalidInput
from loopstack.models import Message, ModelRequest, Provider, RequestRefused, register_request_policy
from loopstack.models import unregister_request_policy as _unregister
from loopstack.safety._pii_engine import PiiConfig
from loopstack.safety.masking import PiiMasker, Strategy, pii_masker
from loopstack.store import Store

POLICY_NAME = "loopstack.safety.pii"
SETTING_KEY = "pii"
MASKED_ATTR = "loopstack.pii.masked"
COUNT_ATTR_PREFIX = "loopstack.pii.count."
ExternalMode = Literal["off", "mask", "refuse"]
IngestMode = Literal["off", "redact", "placeholder", "hash"]


class PiiPolicy(BaseModel):
    """A project's PII policy: what ingest does to spans, and what external providers may receive."""

    model_config = ConfigDict(extra="forbid")

    ingest: IngestMode = "off"
    """Strategy applied to spans before they are stored (``off``: stored as they arrive)."""
    external: ExternalMode = "off"
    """Requests for external providers: ``mask`` them, ``refuse`` one holding PII, or ``off``."""
    external_strategy: Strategy = "placeholder"
    """How ``external: mask`` replaces what it finds."""
    config: PiiConfig = PiiConfig()
    """Entity types, score threshold, custom recognisers and NER model used by both."""

    @classmethod
    def checked(cls, data: Any) -> PiiPolicy:
        """``model_validate`` with one line naming the field on error."""
        try:
            return cls.model_validate(data or {})
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "policy"
            raise InvalidInput(f"PII policy {where}: {err['msg']}") from None


def project_pii_policy(store: Store, project: str) -> PiiPolicy:
    """The stored policy of ``project`` (all ``off`` when none was set)."""
    from loopstack.store.project_settings import ProjectSettingsRepository

    stored = ProjectSettingsRepository(store, project).get(SETTING_KEY)
    return PiiPolicy.checked(stored) if stored else PiiPolicy()


def set_project_pii_policy(store: Store, project: str, **changes: Any) -> PiiPolicy:
    """Change fields of ``project``'s policy (unset ones keep their value); returns the new policy.

    The masker is built (recognisers compiled, entity names checked) before anything is stored, so a
    bad config is refused and the old policy stays.
    """
    from loopstack.store.project_settings import ProjectSettingsRepository

    current = project_pii_policy(store, project)
    data = current.model_dump()
    data.update({k: v for k, v in changes.items() if v is not None})
    policy = PiiPolicy.checked(data)
    for strategy in {policy.ingest, policy.external_strategy} - {"off"}:
        pii_masker(strategy, config=policy.config)  # type: ignore[arg-type]
    ProjectSettingsRepository(store, project).set(SETTING_KEY, policy.model_dump(mode="json"))
    return policy


_maskers: dict[str, PiiMasker] = {}
_maskers_lock = threading.Lock()


def _masker(strategy: Strategy, config: PiiConfig) -> PiiMasker:
    """One masker per (strategy, config) in this process, so placeholder numbering per trace persists."""
    key = f"{strategy}:{config.key()}"
    with _maskers_lock:
        found = _maskers.get(key)
        if found is None:
            found = _maskers[key] = pii_masker(strategy, config=config)
        return found


#: Row fields masked at ingest (ids, names, models and times are kept as they are).
_ROW_TEXT = ("input", "output", "status_message")
_ROW_JSON = ("attributes", "events")


def ingest_masker(store: Store, project: str) -> PiiMasker | None:
    """The masker ingest applies to ``project``'s spans, or None when its policy leaves them alone."""
    policy = project_pii_policy(store, project)
    if policy.ingest == "off":
        return None
    return _masker(policy.ingest, policy.config)


def mask_span_rows(rows: Sequence[dict[str, Any]], masker: PiiMasker) -> list[dict[str, Any]]:
    """Span rows (``span_row`` dicts) with their text masked, placeholders numbered per trace."""
    out: list[dict[str, Any]] = []
    for row in rows:
        with masker.scope(str(row.get("trace_id") or "")):
            new = dict(row)
            for key in _ROW_TEXT:
                if isinstance(new.get(key), str):
                    new[key] = _mask_text(new[key], masker)
            for key in _ROW_JSON:
                if new.get(key):
                    new[key] = _deep(new[key], masker)
            out.append(new)
    return out


def _mask_text(text: str, masker: PiiMasker) -> str:
    """Text that may be a JSON document: every string inside it masked, the document kept valid."""
    if text[:1] in ("[", "{"):
        import orjson

        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
        else:
            return orjson.dumps(_deep(value, masker)).decode()
    return masker.mask(text)


def _deep(value: Any, masker: PiiMasker) -> Any:
    if isinstance(value, str):
        return masker.mask(value)
    if isinstance(value, Mapping):
        return {k: _deep(v, masker) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_deep(v, masker) for v in value]
    return value


class _ExternalPolicy:
    """The request policy registered into the models layer: mask or refuse PII bound for outside."""

    def __init__(self, mode: ExternalMode, masker: PiiMasker) -> None:
        self.mode = mode
        self.masker = masker

    def __call__(self, request: ModelRequest, provider: Provider) -> tuple[ModelRequest, dict[str, Any]]:
        counts: Counter[str] = Counter()
        ctx = trace.get_current_span().get_span_context()
        trace_id = f"{ctx.trace_id:032x}" if ctx.is_valid else None
        with self.masker.scope(trace_id):
            messages = [
                Message(role=m.role, content=self.masker.mask(m.content, counts)) for m in request.messages
            ]
            variables = _deep(request.prompt_variables, self.masker) if request.prompt_variables else None
        if not counts:
            return request, {MASKED_ATTR: False}
        found = ", ".join(f"{entity} ×{n}" for entity, n in sorted(counts.items()))
        if self.mode == "refuse":
            raise RequestRefused(
                f"{provider.model_string}: the request holds PII ({found}); the PII policy refuses to "
                "send it to an external provider (mask it instead: loopstack pii set --external mask; "
                "or use a local model)",
                provider=provider.name,
            )
        masked = request.model_copy(update={"messages": messages, "prompt_variables": variables})
        attrs: dict[str, Any] = {MASKED_ATTR: True}
        attrs.update({f"{COUNT_ATTR_PREFIX}{entity}": n for entity, n in counts.items()})
        return masked, attrs


def enable_pii_policy(
    mode: ExternalMode = "mask",
    *,
    strategy: Strategy = "placeholder",
    config: PiiConfig | Mapping[str, Any] | None = None,
) -> PiiMasker | None:
    """Make every request for an external provider pass the PII policy (``off`` removes it).

    Returns the masker in force (its ``counts`` say what was found), or None when turned off.
    """
    if mode == "off":
        _unregister(POLICY_NAME)
        return None
    if mode not in ("mask", "refuse"):
        raise InvalidInput(f"unknown PII policy {mode!r} for external providers; use off, mask or refuse")
    masker = _masker(strategy, PiiConfig.checked(config))
    register_request_policy(POLICY_NAME, _ExternalPolicy(mode, masker))
    return masker


def disable_pii_policy() -> None:
    """Stop applying the PII policy to model requests."""
    _unregister(POLICY_NAME)


def apply_project_pii_policy(store: Store | None = None, project: str | None = None) -> PiiPolicy:
    """Install the external-request policy ``project`` declares (else ``LOOPSTACK_PII_POLICY``).

    Commands that call models (``loopstack eval``, ``loopstack run``) call this first.
    """
    from loopstack.config import get_settings

    settings = get_settings()
    if store is None:
        from loopstack.store import get_store

        store = get_store()
    policy = project_pii_policy(store, project or settings.project)
    if policy.external == "off" and settings.pii_policy != "off":
        policy = policy.model_copy(
            update={"external": PiiPolicy.checked({"external": settings.pii_policy}).external}
        )
    enable_pii_policy(policy.external, strategy=policy.external_strategy, config=policy.config)
    return policy
