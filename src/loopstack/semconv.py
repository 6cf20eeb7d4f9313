"""Span attribute names shared by the parts that write spans and the server that reads them.

We follow the OpenTelemetry GenAI semantic conventions (``gen_ai.*``) where they name a thing, and use
``loopstack.*`` for what they do not cover. The models layer sets these on every call it makes; the
ingest side also understands OpenInference (``llm.*``, ``input.value``) — ``store/_spanmap.py`` is the
mapping.
"""

from __future__ import annotations

# GenAI semantic conventions
GEN_AI_OPERATION = "gen_ai.operation.name"  # "chat"
GEN_AI_PROVIDER = "gen_ai.provider.name"  # "openai", "anthropic", "local", "mock", ...
GEN_AI_SYSTEM = "gen_ai.system"  # older name of the provider attribute, still common in the wild
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL = "gen_ai.response.model"
GEN_AI_REQUEST_TEMPERATURE = "gen_ai.request.temperature"
GEN_AI_REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_TOP_P = "gen_ai.request.top_p"
GEN_AI_RESPONSE_ID = "gen_ai.response.id"
GEN_AI_RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_TOKENS = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_REASONING_TOKENS = "gen_ai.usage.reasoning.output_tokens"
GEN_AI_CONVERSATION_ID = "gen_ai.conversation.id"

# OpenInference (Arize): what LangChain, LlamaIndex and other instrumentors emit
OI_SPAN_KIND = "openinference.span.kind"  # "LLM" marks a model call; CHAIN, TOOL, RETRIEVER, ...
OI_MODEL_NAME = "llm.model_name"
OI_PROVIDER = "llm.provider"
OI_INVOCATION_PARAMETERS = "llm.invocation_parameters"  # JSON text of the call's parameters

# Loopstack's own
INPUT = "loopstack.input"  # JSON text (chat messages for model calls, arguments for @observe)
OUTPUT = "loopstack.output"  # text, or JSON text
COST = "loopstack.cost_usd"
CACHE_HIT = "loopstack.cache_hit"
PROMPT_NAME = "loopstack.prompt.name"
PROMPT_VERSION = "loopstack.prompt.version"
PROMPT_VARIABLES = "loopstack.prompt.variables"  # JSON object: the variables a prompt was rendered with
ROLLOUT_ID = "loopstack.rollout.id"  # the rollout whose arm served the prompt
ROLLOUT_ARM = "loopstack.rollout.arm"  # "control", "candidate" or "outside" (control version, no arm)
ROLLOUT_STEP = "loopstack.rollout.step"  # the ramp step (index) the SDK assigned under
ROLLOUT_UNIT = "loopstack.rollout.unit"  # the user or session id the arm was picked by
SESSION_ID = "loopstack.session_id"
USER_ID = "loopstack.user_id"
TAGS = "loopstack.tags"
SPAN_TYPE = "loopstack.span.type"  # "generation", "span", "eval"
RUN_ID = "loopstack.run_id"
