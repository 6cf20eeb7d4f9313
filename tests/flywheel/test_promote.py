"""Promotion is a new prompt version naming the student and a production move; rollback undoes it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from loopstack.errors import InvalidInput


def _setup(tiny_model: Path) -> None:
    from loopstack.models._finetuned import FinetunedModel, register_finetuned
    from loopstack.prompts import PromptRegistry
    from loopstack.store import get_store

    registry = PromptRegistry(get_store(), "default")
    registry.push(
        "triage",
        [{"role": "user", "content": "v1 {{ review }}"}],
        model="local/smollm2-135m",
        labels=["production"],
    )
    registry.push(
        "triage",
        [{"role": "user", "content": "v2 {{ review }}"}],
        model="local/smollm2-135m",
        labels=["production"],
    )
    register_finetuned(
        FinetunedModel(
            name="triage-student",
            model="local/triage-student",
            backend="local",
            base="tiny",
            path=str(tiny_model),
            messages=[{"role": "system", "content": "Triage."}, {"role": "user", "content": "{{ review }}"}],
        )
    )


def test_promote_then_rollback_through_the_cli(tiny_model: Path, loopstack_home: Path) -> None:
    from loopstack.cli.main import cli
    from loopstack.prompts import PromptRegistry
    from loopstack.store import get_store

    _setup(tiny_model)
    runner = CliRunner()
    out = runner.invoke(cli, ["flywheel", "promote", "local/triage-student", "--prompt", "triage"])
    assert out.exit_code == 0, out.output
    assert "triage: production v2 -> v3 (local/triage-student)" in out.output
    registry = PromptRegistry(get_store(), "default")
    prod = registry.get("triage", label="production")
    assert prod.version == 3 and prod.model == "local/triage-student"
    assert prod.messages == [
        {"role": "system", "content": "Triage."},
        {"role": "user", "content": "{{ review }}"},
    ]
    assert prod.params == {"temperature": 0, "max_tokens": 64}

    back = runner.invoke(cli, ["prompt", "rollback", "triage"])
    assert back.exit_code == 0, back.output
    assert "production v3 -> v2" in back.output
    prod = registry.get("triage", label="production")
    assert prod.version == 2 and prod.model == "local/smollm2-135m"


def test_promoting_an_unknown_student_writes_nothing(tiny_model: Path, loopstack_home: Path) -> None:
    from loopstack.flywheel._promote import promote
    from loopstack.models import UnknownModel
    from loopstack.prompts import PromptRegistry
    from loopstack.store import get_store

    _setup(tiny_model)
    with pytest.raises(InvalidInput, match="not a registered fine-tune"):
        promote("mock/someone", prompt="triage")
    with pytest.raises(UnknownModel):
        promote("local/no-such-student", prompt="triage")
    assert PromptRegistry(get_store(), "default").get("triage", label="production").version == 2
