"""Models behind one interface: providers, model strings, cache, retries, rate limits, cost, spans.

from loopstack.models import get_model
answer = await get_model("local/smollm2-135m").generate("Say hi", max_tokens=20)
"""

from loopstack.models._catalog import catalog
from loopstack.models._compose import Composed, PromptLike, compose_request, parse_prompt_ref, parse_vars
from loopstack.models._errors import (
    AuthenticationError,
    BadRequest,
    ContextTooLong,
    MissingExtra,
    ProviderError,
    RateLimited,
    UnknownModel,
)
from loopstack.models._mock import MockOptions, MockProvider
from loopstack.models._model import Model, RequestLike
from loopstack.models._policy import (
    PolicyResult,
    RequestPolicy,
    RequestRefused,
    is_external,
    register_request_policy,
    request_policies,
    unregister_request_policy,
)
from loopstack.models._pricing import Price, cost_for, price_for
from loopstack.models._provider import (
    Capabilities,
    Provider,
    ProviderOptions,
    TextCallback,
    register_provider,
    registered_providers,
)
from loopstack.models._resolve import (
    BUILTIN_PROVIDERS,
    complete,
    forget_models,
    get_model,
    parse_model_string,
    provider_class,
)
from loopstack.models._types import Message, ModelRequest, ModelResponse, Usage

__all__ = [
    "BUILTIN_PROVIDERS",
    "AuthenticationError",
    "BadRequest",
    "Capabilities",
    "Composed",
    "ContextTooLong",
    "Message",
    "MissingExtra",
    "MockOptions",
    "MockProvider",
    "Model",
    "ModelRequest",
    "ModelResponse",
    "PolicyResult",
    "Price",
    "PromptLike",
    "Provider",
    "ProviderError",
    "ProviderOptions",
    "RateLimited",
    "RequestLike",
    "RequestPolicy",
    "RequestRefused",
    "TextCallback",
    "UnknownModel",
    "Usage",
    "catalog",
    "complete",
    "compose_request",
    "cost_for",
    "forget_models",
    "get_model",
    "is_external",
    "parse_model_string",
    "parse_prompt_ref",
    "parse_vars",
    "price_for",
    "provider_class",
    "register_provider",
    "register_request_policy",
    "registered_providers",
    "request_policies",
    "unregister_request_policy",
]
