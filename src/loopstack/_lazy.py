"""Names a package resolves on first use (PEP 562), so importing it loads none of its modules.

    _LAZY = {"estimate": "loopstack.evals.stats._estimate", ...}
    __getattr__ = lazy_names(__name__, _LAZY)

Each package also imports the names under ``TYPE_CHECKING``, which is what type checkers read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


def lazy_names(
    package: str, table: Mapping[str, str], aliases: Mapping[str, str] | None = None
) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``table[name]`` and returns its attribute ``name`` (or
    ``aliases[name]``, when the package exports it under another name)."""
    renamed = dict(aliases or {})

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        import importlib

        return getattr(importlib.import_module(module), renamed.get(name, name))

    return __getattr__
