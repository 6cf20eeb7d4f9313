"""Prompt registry: versioned chat templates with labels, diffs, history, YAML files and an SDK cache.

Application code calls ``get_prompt``; tools (CLI, server) use ``PromptRegistry``. Names backed by the
database are imported on first use so ``import loopstack`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopstack._lazy import lazy_names
from loopstack.prompts._template import TemplateError
from loopstack.prompts._types import (
    HistoryEntry,
    LabelMove,
    PromptSpec,
    PromptSummary,
    PromptVersion,
    PushResult,
    content_hash,
)
from loopstack.prompts.client import PromptClient, clear_prompt_cache, get_prompt, prompt_client
from loopstack.prompts.prompt import Prompt, PromptMessages
from loopstack.prompts.source import LocalPromptSource, PromptSource, make_source

if TYPE_CHECKING:
    from loopstack.prompts._author import default_author
    from loopstack.prompts.diff import ConfigChange, MessageDiff, PromptDiff, diff_versions
    from loopstack.prompts.files import dump_prompt, load_prompt_files, load_prompt_text, push_files
    from loopstack.prompts.registry import PromptRegistry

_LAZY = {
    "PromptRegistry": "loopstack.prompts.registry",
    "PromptDiff": "loopstack.prompts.diff",
    "MessageDiff": "loopstack.prompts.diff",
    "ConfigChange": "loopstack.prompts.diff",
    "diff_versions": "loopstack.prompts.diff",
    "dump_prompt": "loopstack.prompts.files",
    "load_prompt_files": "loopstack.prompts.files",
    "load_prompt_text": "loopstack.prompts.files",
    "push_files": "loopstack.prompts.files",
    "default_author": "loopstack.prompts._author",
}


__getattr__ = lazy_names(__name__, _LAZY)

__all__ = [
    "ConfigChange",
    "HistoryEntry",
    "LabelMove",
    "LocalPromptSource",
    "MessageDiff",
    "Prompt",
    "PromptClient",
    "PromptDiff",
    "PromptMessages",
    "PromptRegistry",
    "PromptSource",
    "PromptSpec",
    "PromptSummary",
    "PromptVersion",
    "PushResult",
    "TemplateError",
    "clear_prompt_cache",
    "content_hash",
    "default_author",
    "diff_versions",
    "dump_prompt",
    "get_prompt",
    "load_prompt_files",
    "load_prompt_text",
    "make_source",
    "prompt_client",
    "push_files",
]
