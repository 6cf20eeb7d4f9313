"""``loopstack quickstart``: copies the packaged project, pushes data and prompts, runs both versions."""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from loopstack.cli.main import cli, main
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


# -- every command the quickstart prints works, in the order it prints them --------------------------


def _loopstack(args: list[str]) -> Result:
    """``loopstack ARGS`` exactly as the console script runs it (an error is one line and exit 1)."""
    entry = click.Command("loopstack", callback=lambda: main(args))
    return CliRunner().invoke(entry, [], terminal_width=200)


def _run_printed(command: str, monkeypatch: pytest.MonkeyPatch) -> int:
    """Run one printed shell command: ``cd``, ``cp`` or ``loopstack …``; anything else fails the test."""
    argv = shlex.split(command)
    if argv[0] == "cd":
        monkeypatch.chdir(argv[1])
        return 0
    if argv[0] == "cp":
        shutil.copyfile(argv[1], argv[2])
        return 0
    assert argv[0] == "loopstack", f"a printed step this test cannot run: {command!r}"
    result = _loopstack(argv[1:])
    assert "Traceback" not in result.output, result.output
    assert result.exit_code == 0, f"{command!r} exited {result.exit_code}:\n{result.output}"
    return result.exit_code


def _printed_steps(output: str) -> list[str]:
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "Try next")
    steps = []
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        command = line.split(" # ", 1)[0].strip()
        if command:
            steps.append(command)
    return steps


def _readme_steps(readme: str) -> list[str]:
    block = readme.split("## Try next", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.split("#", 1)[0].strip()]


def test_every_try_next_command_works_in_the_order_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def answer(request: ModelRequest) -> str:
        few_shot = len(request.messages) > 2  # v2 (and a v3 made from it) has examples
        return '{"sentiment": "negative", "topic": "bug", "actionable": true}' if few_shot else "not json"

    get_model("mock/quick", fn=answer)
    monkeypatch.chdir(tmp_path)
    first = _loopstack(["quickstart", "--dir", "qs", "--model", "mock/quick", "--no-progress"])
    assert first.exit_code == 0, first.output
    steps = _printed_steps(first.output)
    assert steps[0] == "cd qs" and any(s.startswith("loopstack eval compare ") for s in steps)
    assert all("--model mock/quick" in s for s in steps if s.startswith("loopstack eval suite.yaml"))

    for step in steps:
        _run_printed(step, monkeypatch)
        if step.startswith("cp "):  # "then edit triage-v3.yaml": the user's idea
            _edit("prompts/triage-v3.yaml", "and nothing else, ever:")

    assert Path("report.html").is_file()
    store = get_store()
    registry = PromptRegistry(store, "default")
    assert registry.labels("triage") == {"production": 2, "staging": 3}
    assert "nothing else, ever" in registry.get("triage", label="staging").messages[0]["content"]
    runs = RunRepository(store).list_runs()
    latest = [r for r in runs if r.group_id == runs[0].group_id]
    assert sorted(r.prompt_version for r in latest) == [2, 3]

    # The folder's README prints its own list: it works too, on the model the quickstart ran on.
    readme = _readme_steps(Path("README.md").read_text())
    assert any(s.startswith("loopstack prompt push") for s in readme)
    for step in readme:
        if step.startswith("loopstack eval "):
            step += " --model mock/quick"
        _run_printed(step, monkeypatch)
        if step.startswith("cp "):
            _edit("prompts/triage-v3.yaml", "and nothing else, please:")
    assert registry.labels("triage") == {"production": 2, "staging": 4}
    runs = RunRepository(store).list_runs()
    assert sorted(r.prompt_version for r in runs if r.group_id == runs[0].group_id) == [2, 4]


def _edit(path: str, replacement: str) -> None:
    p = Path(path)
    p.write_text(p.read_text().replace("and nothing else:", replacement))


# -- every command of the top-level README's tour works, in order, in the quickstart's folder ---------

README = Path(__file__).resolve().parents[2] / "README.md"


def _tour_blocks(readme: str, lang: str) -> list[str]:
    tour = readme.split("## A short tour", 1)[1].split("\n## ", 1)[0]
    return [part.split("```", 1)[0] for part in tour.split(f"```{lang}\n")[1:]]


def test_the_readme_tour_runs_as_printed_in_the_quickstart_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def answer(request: ModelRequest) -> str:
        return '{"sentiment": "negative", "topic": "bug", "actionable": true}'

    get_model("mock/quick", fn=answer)
    monkeypatch.chdir(tmp_path)
    assert _loopstack(["quickstart", "--dir", "loopstack-quickstart", "--model", "mock/quick"]).exit_code == 0
    monkeypatch.chdir("loopstack-quickstart")
    readme = README.read_text()
    steps = [
        line.split(" # ", 1)[0].strip()
        for block in _tour_blocks(readme, "bash")
        for line in block.splitlines()
        if line.split(" # ", 1)[0].strip()
    ]
    assert any(s.startswith("loopstack eval compare") for s in steps)
    store = get_store()
    for step in steps:
        step = step.replace("-m local/smollm2-135m", "-m mock/quick")
        if step.startswith("loopstack eval suite.yaml"):
            step += " --model mock/quick"
        if "RUN_" in step:  # placeholders: the runs this test has made, newest first
            ids = [r.id for r in RunRepository(store).list_runs()]
            step = step.replace("RUN_ID", ids[0]).replace("RUN_A", ids[1]).replace("RUN_B", ids[0])
        _run_printed(step, monkeypatch)
    registry = PromptRegistry(store, "default")
    assert registry.labels("triage")["production"] == 1  # promoted to 2, then rolled back
    assert DatasetRepository(store).exists("my-reviews")

    # The Python blocks run too (prompt rendering and tracing, on the same local store).
    for block in _tour_blocks(readme, "python"):
        exec(compile(block, "README.md", "exec"), {})  # noqa: S102 - the README's own example code
