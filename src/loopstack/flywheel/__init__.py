"""The flywheel: production traces -> curated data -> teacher labels -> a fine-tuned student -> served, promoted.

Kept light on import: each name loads its module on first use, so ``import loopstack.flywheel`` pulls
in neither torch nor TRL.
"""

from typing import Any

_LAZY: dict[str, str] = {}

# -- fine-tune, student vs teacher, serve, promote, demo (parts 4-7) --------------------------------
_LAZY.update(
    {
        "FinetuneResult": "loopstack.flywheel._finetune",
        "finetune": "loopstack.flywheel._finetune",
        "loss_curve_svg": "loopstack.flywheel._finetune_curve",
    }
)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'loopstack.flywheel' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = sorted(_LAZY)
