"""What the SDK hands to application code: a ``Prompt`` that renders to attributed ``PromptMessages``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loopstack.prompts._template import TemplateError, compile_template, variables_of

if TYPE_CHECKING:
    from loopstack.prompts._rollout import RolloutArms


class PromptMessages(list[dict[str, str]]):
    """Rendered chat messages that remember which prompt version produced them.

    A plain ``list`` of ``{"role", "content"}`` dicts (pass it to any chat client); instrumentation reads
    ``prompt_name`` and ``prompt_version`` to attribute the model call to the prompt version, and
    ``prompt_variables`` (what it was rendered with) so a traced call can become a dataset item.
    ``rollout_id``/``rollout_arm`` say which arm of a running rollout served them (None outside one).
    """

    prompt_name: str
    prompt_version: int
    prompt_variables: dict[str, Any]
    rollout_id: str | None
    rollout_arm: str | None

    def __init__(
        self,
        messages: list[dict[str, str]],
        prompt_name: str,
        prompt_version: int,
        variables: dict[str, Any] | None = None,
        rollout: tuple[str, str] | None = None,
    ) -> None:
        super().__init__(messages)
        self.prompt_name = prompt_name
        self.prompt_version = prompt_version
        self.prompt_variables = dict(variables or {})
        self.rollout_id, self.rollout_arm = rollout or (None, None)


@dataclass(frozen=True)
class Prompt:
    """A prompt ready to render: a stored version (see ``PromptVersion``), or messages given in code.

    ``version`` is 0 for messages given in code; ``is_fallback`` is True when they were served because
    the registry could not serve the prompt. ``label`` is the label it was fetched by, if any.
    While a rollout runs on that label, ``rollout`` carries its arms (the label's own version is the
    control); a prompt picked for a user by ``get_prompt(..., user_id=…)`` has ``rollout_id`` and
    ``rollout_arm`` set.
    """

    name: str
    version: int
    messages: list[dict[str, str]]
    model: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    label: str | None = None
    is_fallback: bool = False
    rollout: RolloutArms | None = None
    rollout_id: str | None = None
    rollout_arm: str | None = None

    @property
    def ref(self) -> str:
        """``name@version`` (``name@fallback`` for the code fallback)."""
        return f"{self.name}@{'fallback' if self.is_fallback else self.version}"

    @property
    def variables(self) -> frozenset[str]:
        """Every variable the templates read."""
        out: frozenset[str] = frozenset()
        for m in self.messages:
            out |= variables_of(m["content"])
        return out

    def render(self, **variables: Any) -> PromptMessages:
        """Fill the templates with ``variables``; a missing variable names itself and the version."""
        from jinja2 import TemplateError as JinjaTemplateError
        from jinja2 import UndefinedError
        from jinja2.exceptions import SecurityError

        rendered: list[dict[str, str]] = []
        for i, m in enumerate(self.messages):
            try:
                content = compile_template(m["content"]).render(variables)
            except UndefinedError as exc:
                raise self._undefined(variables, exc) from None
            except SecurityError as exc:
                raise TemplateError(f"prompt {self.ref}: messages[{i}] is not allowed: {exc}") from None
            except JinjaTemplateError as exc:
                raise TemplateError(f"prompt {self.ref}: messages[{i}]: {exc}") from None
            rendered.append({"role": m["role"], "content": content})
        arm = (self.rollout_id, self.rollout_arm) if self.rollout_id and self.rollout_arm else None
        return PromptMessages(rendered, self.name, self.version, variables, arm)

    def _undefined(self, given: dict[str, Any], exc: Exception) -> TemplateError:
        given_text = ", ".join(sorted(given)) or "nothing"
        missing = sorted(self.variables - set(given))
        if missing:
            names = ", ".join(repr(n) for n in missing)
            noun = "variable" if len(missing) == 1 else "variables"
            return TemplateError(f"prompt {self.ref} needs {noun} {names} (given: {given_text})")
        return TemplateError(f"prompt {self.ref}: {exc} (given: {given_text})")
