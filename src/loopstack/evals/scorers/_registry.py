"""The scorer registry: built-ins and users' scorers are registered the same way, by name.

``@scorer("name")`` on a function or a ``Scorer`` subclass registers it; a suite file names it;
``get_scorer(name, **params)`` builds a configured instance. Plugins published as packages register
through the ``loopstack.scorers`` entry-point group (loaded the first time a name is unknown).
"""

from __future__ import annotations

import inspect
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, TypeVar

from loopstack.errors import InvalidInput, NotFound
from loopstack.evals.scorers._base import FunctionScorer, Scorer

T = TypeVar("T")

ENTRY_POINT_GROUP = "loopstack.scorers"
_GENERIC_PARAMS = ("alias", "threshold")


@dataclass(frozen=True)
class ScorerSpec:
    """A registered scorer: how to build it and what it accepts."""

    name: str
    version: str
    factory: Callable[..., Scorer]
    description: str
    params: tuple[str, ...]
    """Parameter names it accepts besides ``alias`` and ``threshold`` (empty if it takes ``**kwargs``)."""
    accepts_any: bool = False
    higher_is_better: bool = True
    """False for costs and errors (TER, latency, tokens, cost): lower values are better."""


_registry: dict[str, ScorerSpec] = {}
_lock = threading.Lock()
_plugins_loaded = False


def _accepted(fn: Callable[..., Any], skip: int) -> tuple[tuple[str, ...], bool]:
    sig = inspect.signature(fn)
    names: list[str] = []
    any_kw = False
    for i, p in enumerate(sig.parameters.values()):
        if i < skip:
            continue
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            any_kw = True
        elif p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
            names.append(p.name)
    return tuple(n for n in names if n not in _GENERIC_PARAMS), any_kw


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().split("\n", 1)[0]


def scorer(name: str | None = None, *, version: str = "1", higher_is_better: bool = True) -> Callable[[T], T]:
    """Register a function ``fn(sample, **params)`` or a ``Scorer`` subclass under ``name``.

    The function may be sync or async and may return a bool, a number, a label, a ``Score`` or a list
    of ``Score``. The decorated object is returned unchanged, so it can still be called directly.
    """

    def register(obj: T) -> T:
        if isinstance(obj, type) and issubclass(obj, Scorer):
            reg_name = name or obj.__name__
            obj.name = reg_name
            obj.version = version
            if not higher_is_better:
                obj.higher_is_better = False
            params, any_kw = _accepted(obj.__init__, skip=1)
            spec = ScorerSpec(
                reg_name, version, obj, _first_line(obj.__doc__), params, any_kw, obj.higher_is_better
            )
        elif callable(obj):
            fn: Callable[..., Any] = obj
            reg_name = name or fn.__name__
            params, any_kw = _accepted(fn, skip=1)

            def factory(**kwargs: Any) -> Scorer:
                return FunctionScorer(fn, reg_name, version, higher_is_better=higher_is_better, **kwargs)

            spec = ScorerSpec(
                reg_name, version, factory, _first_line(fn.__doc__), params, any_kw, higher_is_better
            )
            obj.__loopstack_scorer__ = reg_name  # type: ignore[attr-defined]
        else:
            raise TypeError(f"@scorer needs a function or a Scorer subclass, got {obj!r}")
        with _lock:
            _registry[reg_name] = spec
        return obj

    return register


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            ep.load()  # importing the module runs its @scorer decorators
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not break every other scorer
            import warnings

            warnings.warn(f"scorer plugin {ep.name!r} failed to load: {exc}", stacklevel=2)


def scorer_spec(name: str) -> ScorerSpec:
    """The registration of ``name``; ``NotFound`` lists the known names."""
    spec = _registry.get(name)
    if spec is None:
        _load_plugins()
        spec = _registry.get(name)
    if spec is None:
        known = ", ".join(sorted(_registry))
        raise NotFound(f"no scorer named {name!r} (known: {known})")
    return spec


def get_scorer(name: str, **params: Any) -> Scorer:
    """A configured instance of the scorer registered as ``name``.

    ``alias`` and ``threshold`` are accepted by every scorer; an unknown parameter is an
    ``InvalidInput`` that names the scorer and what it does accept.
    """
    spec = scorer_spec(name)
    if not spec.accepts_any:
        unknown = [p for p in params if p not in spec.params and p not in _GENERIC_PARAMS]
        if unknown:
            takes = ", ".join((*spec.params, *_GENERIC_PARAMS))
            raise InvalidInput(f"scorer {name!r} has no parameter {unknown[0]!r} (it takes: {takes})")
    try:
        return spec.factory(**params)
    except (TypeError, ValueError, re.error) as exc:
        raise InvalidInput(f"scorer {name!r}: {exc}") from None


def list_scorers() -> list[ScorerSpec]:
    """Every registered scorer, sorted by name (plugins included)."""
    _load_plugins()
    return [_registry[k] for k in sorted(_registry)]


def as_scorer(obj: Any, **params: Any) -> Scorer:
    """A ``Scorer`` from whatever a user hands over: an instance, a registered name, a decorated function
    or class, or any plain function ``fn(sample)`` (used under its own name, not registered)."""
    if isinstance(obj, Scorer):
        if params:
            raise InvalidInput(f"parameters given for an already configured scorer {obj!r}")
        return obj
    if isinstance(obj, str):
        return get_scorer(obj, **params)
    registered = getattr(obj, "__loopstack_scorer__", None)
    if isinstance(registered, str):
        return get_scorer(registered, **params)
    if isinstance(obj, type) and issubclass(obj, Scorer):
        if obj.name not in _registry:
            scorer(obj.__name__)(obj)
        return get_scorer(obj.name, **params)
    if callable(obj):
        # Not registered: a throwaway function must not replace a registered scorer of the same name.
        return FunctionScorer(obj, getattr(obj, "__name__", "custom"), "1", **params)
    raise InvalidInput(f"not a scorer: {obj!r}")
