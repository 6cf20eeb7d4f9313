"""Rendering: strict variables with a message naming prompt@version, and a sandbox for untrusted text."""

from __future__ import annotations

import pytest

from loopstack.prompts import Prompt, TemplateError


def _prompt(*contents: str) -> Prompt:
    return Prompt("triage", 2, [{"role": "user", "content": c} for c in contents])


def test_missing_variable_names_variable_and_version() -> None:
    with pytest.raises(TemplateError) as err:
        _prompt("Review: {{ review }}").render(text="hello")
    assert str(err.value) == "prompt triage@2 needs variable 'review' (given: text)"
    with pytest.raises(TemplateError, match=r"needs variables 'a', 'b' \(given: nothing\)"):
        _prompt("{{ a }}", "{{ b }}").render()


def test_render_fills_every_message_and_reports_variables() -> None:
    p = _prompt("{% for t in tags %}#{{ t }} {% endfor %}", "{{ text | upper }}")
    assert p.variables == {"tags", "text"}
    assert p.render(tags=["a", "b"], text="hi") == [
        {"role": "user", "content": "#a #b "},
        {"role": "user", "content": "HI"},
    ]


def test_values_are_not_templates_and_internals_are_off_limits() -> None:
    p = _prompt("Review: {{ review }}")
    assert p.render(review="{{ 7 * 7 }}")[0]["content"] == "Review: {{ 7 * 7 }}"
    evil = _prompt("{{ ''.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(TemplateError, match="prompt triage@2"):
        evil.render()
    mutate = _prompt("{{ items.append(1) }}")
    with pytest.raises(TemplateError, match="not allowed"):
        mutate.render(items=[])
