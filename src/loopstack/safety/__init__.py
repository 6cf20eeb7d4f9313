"""Safety: PII detection and masking with Presidio, offline.

from loopstack.safety import pii_masker
loopstack.init(mask=pii_masker("placeholder"))   # spans leave the process masked

Names load their module on first use, and Presidio loads only when a masker first analyzes text, so
importing this package costs nothing until masking is configured.
"""

from typing import TYPE_CHECKING

from loopstack._lazy import lazy_names

if TYPE_CHECKING:
    from loopstack.safety._pii_engine import (
        DEFAULT_ENTITIES,
        CustomRecognizer,
        Finding,
        PiiConfig,
        known_entities,
    )
    from loopstack.safety._pii_policy import (
        PiiPolicy,
        apply_project_pii_policy,
        disable_pii_policy,
        enable_pii_policy,
        mask_span_rows,
        project_pii_policy,
        set_project_pii_policy,
    )
    from loopstack.safety.masking import STRATEGIES, PiiMasker, mask_records, pii_masker

_LAZY = {
    "DEFAULT_ENTITIES": "loopstack.safety._pii_engine",
    "CustomRecognizer": "loopstack.safety._pii_engine",
    "Finding": "loopstack.safety._pii_engine",
    "PiiConfig": "loopstack.safety._pii_engine",
    "known_entities": "loopstack.safety._pii_engine",
    "PiiPolicy": "loopstack.safety._pii_policy",
    "apply_project_pii_policy": "loopstack.safety._pii_policy",
    "disable_pii_policy": "loopstack.safety._pii_policy",
    "enable_pii_policy": "loopstack.safety._pii_policy",
    "mask_span_rows": "loopstack.safety._pii_policy",
    "project_pii_policy": "loopstack.safety._pii_policy",
    "set_project_pii_policy": "loopstack.safety._pii_policy",
    "STRATEGIES": "loopstack.safety.masking",
    "PiiMasker": "loopstack.safety.masking",
    "mask_records": "loopstack.safety.masking",
    "pii_masker": "loopstack.safety.masking",
}


__getattr__ = lazy_names(__name__, _LAZY)

__all__ = [
    "DEFAULT_ENTITIES",
    "STRATEGIES",
    "CustomRecognizer",
    "Finding",
    "PiiConfig",
    "PiiMasker",
    "PiiPolicy",
    "apply_project_pii_policy",
    "disable_pii_policy",
    "enable_pii_policy",
    "known_entities",
    "mask_records",
    "mask_span_rows",
    "pii_masker",
    "project_pii_policy",
    "set_project_pii_policy",
]
