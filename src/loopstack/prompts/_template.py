"""Jinja2 chat templates: a sandboxed environment with strict undefined variables.

Templates and the values rendered into them may come from model output or other untrusted text, so
rendering runs in Jinja's immutable sandbox (no attribute access to internals, no mutation).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from loopstack.errors import InvalidInput

if TYPE_CHECKING:  # Jinja2 is imported on first render, keeping ``import loopstack`` light.
    from jinja2 import Template
    from jinja2.sandbox import ImmutableSandboxedEnvironment


class TemplateError(InvalidInput):
    """A template does not compile or cannot be rendered with the variables given."""


@functools.lru_cache(maxsize=1)
def environment() -> ImmutableSandboxedEnvironment:
    """The one environment every prompt template is compiled in."""
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    return ImmutableSandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )


@functools.lru_cache(maxsize=2048)
def compile_template(source: str) -> Template:
    """Compile ``source`` (cached: many fetches of one version share the compiled template)."""
    return environment().from_string(source)


@functools.lru_cache(maxsize=2048)
def variables_of(source: str) -> frozenset[str]:
    """Names a template reads from its context (loop variables and ``set`` targets excluded)."""
    from jinja2 import meta

    return frozenset(meta.find_undeclared_variables(environment().parse(source)))


def syntax_error(source: str) -> str | None:
    """A one-line description of the template's syntax error, or None when it compiles."""
    from jinja2 import TemplateSyntaxError

    try:
        environment().parse(source)
    except TemplateSyntaxError as exc:
        return f"template syntax error on line {exc.lineno}: {exc.message}"
    return None
