"""From a model string (``openai/gpt-4o-mini``, ``local/smollm2-135m``, ``mock/triage``) to a Model.

Built-in providers are imported on first use (so ``import loopstack`` stays light); a third-party
package can make its provider resolvable by exposing it under the ``loopstack.providers`` entry-point
group, or simply by importing a module that uses ``@register_provider``.
"""

from __future__ import annotations

import importlib
import threading
from importlib.metadata import entry_points
from typing import Any

from pydantic import ValidationError

from loopstack.errors import InvalidInput
from loopstack.models._errors import UnknownModel
from loopstack.models._model import Model, RequestLike
from loopstack.models._provider import Provider, _lookup, registered_providers
from loopstack.models._types import ModelResponse

#: provider name -> module that registers it
BUILTIN_PROVIDERS: dict[str, str] = {
    "openai": "loopstack.models._openai",
    "openai-compatible": "loopstack.models._openai",
    "anthropic": "loopstack.models._anthropic",
    "local": "loopstack.models._local",
    "mock": "loopstack.models._mock",
}

_instances: dict[str, Model] = {}
_lock = threading.Lock()


def parse_model_string(model: str) -> tuple[str, str]:
    """``"openai/gpt-4o"`` -> ``("openai", "gpt-4o")``; the model part may itself contain slashes."""
    provider, sep, name = model.partition("/")
    if not sep or not provider or not name:
        raise UnknownModel(
            f"{model!r} is not a model string: use <provider>/<model>, e.g. openai/gpt-4o-mini "
            f"or local/smollm2-135m (providers: {', '.join(sorted(known_provider_names()))})"
        )
    return provider, name


def known_provider_names() -> set[str]:
    """Built-in names plus everything registered or advertised by entry points."""
    names = set(BUILTIN_PROVIDERS) | set(registered_providers())
    names |= {ep.name for ep in entry_points(group="loopstack.providers")}
    return names


def provider_class(name: str) -> type[Provider]:
    """The provider class registered as ``name``, importing a built-in or plugin module if needed."""
    cls = _lookup(name)
    if cls is None and name in BUILTIN_PROVIDERS:
        importlib.import_module(BUILTIN_PROVIDERS[name])
        cls = _lookup(name)
    if cls is None:
        for ep in entry_points(group="loopstack.providers", name=name):
            loaded = ep.load()
            if isinstance(loaded, type) and issubclass(loaded, Provider):
                cls = _lookup(name) or loaded
    if cls is None:
        raise UnknownModel(
            f"no provider named {name!r} (known: {', '.join(sorted(known_provider_names()))}); "
            "register one with @loopstack.models.register_provider"
        )
    return cls


def get_model(model: str | Model, **options: Any) -> Model:
    """The Model for a model string, configured with provider ``options`` (validated, unknown keys rejected).

    Instances are kept per model string: called without options it returns the one already made (so
    the local model loads once and a mock's call counter is shared); called with options it makes a
    new instance that replaces it.
    """
    if isinstance(model, Model):
        return model
    provider_name, name = parse_model_string(model)
    with _lock:
        existing = _instances.get(model)
        if existing is not None and not options:
            return existing
    cls = provider_class(provider_name)
    try:
        opts = cls.Options.model_validate(options)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "options"
        raise InvalidInput(f"{model}: option {where}: {err['msg']}") from None
    instance = Model(cls(name, opts))
    with _lock:
        _instances[model] = instance
    return instance


def forget_models(model: str | None = None) -> None:
    """Drop the cached Model instance of ``model``, or every one (tests; a changed configuration)."""
    with _lock:
        if model is None:
            _instances.clear()
        else:
            _instances.pop(model, None)


async def complete(model: str | Model, request: RequestLike, **kwargs: Any) -> ModelResponse:
    """One call: ``await complete("openai/gpt-4o-mini", "Hello", temperature=0, cache=True)``.

    ``kwargs`` are generation parameters plus ``cache``, ``store`` and ``on_text`` of
    :meth:`Model.generate`.
    """
    return await get_model(model).generate(request, **kwargs)
