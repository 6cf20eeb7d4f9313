"""``loopstack quickstart``: copies the packaged project, pushes data and prompts, runs both versions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from loopstack.cli.main import cli
from loopstack.evals.quickstart import DATASET_NAME, copy_project
from loopstack.models import ModelRequest, forget_models, get_model
from loopstack.prompts import PromptRegistry
from loopstack.store import get_store
from loopstack.store.datasets import DatasetRepository
from loopstack.store.runs import RunRepository


@pytest.fixture(autouse=True)
def _fresh_models() -> Iterator[None]:
    forget_models()
    yield
    forget_models()


def test_quickstart_runs_both_prompt_versions_on_the_test_split(tmp_path: Path) -> None:
    def answer(request: ModelRequest) -> str:
        few_shot = len(request.messages) > 2  # v2 has examples: make it the better prompt
        return '{"sentiment": "negative", "topic": "bug", "actionable": true}' if few_shot else "not json"

    get_model("mock/quick", fn=answer)
    folder = tmp_path / "qs"
    result = CliRunner().invoke(
        cli, ["quickstart", "--dir", str(folder), "--model", "mock/quick"], terminal_width=120
    )
    assert result.exit_code == 0, result.output

    assert (folder / "reviews.jsonl").is_file() and (folder / "suite.yaml").is_file()
    assert sorted(p.name for p in (folder / "prompts").glob("*.yaml")) == ["triage-v1.yaml", "triage-v2.yaml"]
    store = get_store()
    info = DatasetRepository(store).get(DATASET_NAME)
    test_items = DatasetRepository(store).items(DATASET_NAME, split="test")
    assert info.item_count >= 150 and len(test_items) >= 30
    assert set(test_items[0].expected) == {"sentiment", "topic", "actionable"}
    assert set(test_items[0].input) == {"app", "review"}
    registry = PromptRegistry(store, "default")
    assert registry.get("triage", label="production").version == 1
    assert registry.get("triage", label="staging").version == 2

    runs = RunRepository(store).list_runs()
    assert sorted(r.prompt_version for r in runs) == [1, 2] and len({r.group_id for r in runs}) == 1
    assert all(RunRepository(store).count_items(r.id) == len(test_items) for r in runs)
    out = result.output
    for text in ("json_valid", "fields.sentiment", "fields.topic", "fields.actionable", "sentiment.macro_f1"):
        assert text in out
    assert "triage@2 · mock/quick vs baseline triage@1 · mock/quick" in out and "better" in out
    assert "Try next" in out and "loopstack eval compare" in out


def test_copy_refuses_to_overwrite_a_changed_file(tmp_path: Path) -> None:
    copy_project(tmp_path)
    (tmp_path / "suite.yaml").write_text("mine")
    from loopstack.errors import InvalidInput

    with pytest.raises(InvalidInput, match="suite.yaml already exist"):
        copy_project(tmp_path)
    copy_project(tmp_path, force=True)
    assert (tmp_path / "suite.yaml").read_text() != "mine"


def test_the_copied_project_has_its_readme_data_prompts_and_suite(tmp_path: Path) -> None:
    copy_project(tmp_path)
    names = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert names == [
        "README.md",
        "prompts/triage-v1.yaml",
        "prompts/triage-v2.yaml",
        "reviews.jsonl",
        "suite.yaml",
    ]
    assert (
        "labelling" in (tmp_path / "README.md").read_text().lower()
        or "labels" in (tmp_path / "README.md").read_text()
    )
