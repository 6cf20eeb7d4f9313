"""``loopstack eval compare A B``: the paired table and the regressed items with both outputs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from evalrun_helpers import push_two_versions, write_suite

from loopstack.cli.main import cli
from loopstack.evals.compare import compare_stored_runs
from loopstack.evals.runner import evaluate
from loopstack.models import ModelRequest, forget_models, get_model
from loopstack.store import get_store
from loopstack.store.runs import RunRepository


@pytest.fixture(autouse=True)
def _fresh_models() -> Iterator[None]:
    forget_models()
    yield
    forget_models()


def _two_runs(tmp_path: Path) -> tuple[str, str]:
    push_two_versions()

    def answer(request: ModelRequest) -> str:
        text = request.messages[-1].content
        if text.startswith("Candidate") and "hate" in text:
            return "positive"  # the candidate gets every negative review wrong
        return "positive" if "love" in text else "negative"

    get_model("mock/cmp", fn=answer)
    result = evaluate(write_suite(tmp_path, model="mock/cmp"), baseline="production")
    base, cand = result.runs
    return base.run.id, cand.run.id


def test_compare_lists_exactly_the_items_that_got_worse(tmp_path: Path) -> None:
    base, cand = _two_runs(tmp_path)
    comparison, regressed = compare_stored_runs(RunRepository(get_store()), base, cand)
    assert comparison.scores["accuracy"].losses == 15 and comparison.scores["accuracy"].wins == 0
    assert [r.item_key for r in regressed] == [f"i{i:02d}" for i in range(0, 30, 2)]
    first = regressed[0]
    assert first.baseline is not None and first.baseline.output == "negative"
    assert first.candidate is not None and first.candidate.output == "positive"
    assert first.scores == ["accuracy"]


def test_compare_command_shows_both_outputs_side_by_side(tmp_path: Path) -> None:
    base, cand = _two_runs(tmp_path)
    result = CliRunner().invoke(
        cli, ["eval", "compare", base[:10], cand[:10], "--limit", "3"], terminal_width=160
    )
    assert result.exit_code == 0, result.output
    assert "15 regressed item(s)" in result.output
    assert "i00" in result.output and "i04" in result.output and "i06" not in result.output
    assert "… and 12 more" in result.output
    assert "negative" in result.output and "positive" in result.output

    as_json = CliRunner().invoke(cli, ["eval", "compare", base, cand, "--json"])
    data = json.loads(as_json.output)
    assert len(data["regressed_items"]) == 15
    assert data["regressed_items"][0] == {
        "item_key": "i00", "epoch": 0, "scores": ["accuracy"],
        "baseline_output": "negative", "candidate_output": "positive", "candidate_error": None,
    }  # fmt: skip


def test_the_ui_compare_page_says_worse_for_more_tokens(tmp_path: Path) -> None:
    from fastapi import FastAPI
    from starlette.testclient import TestClient

    from loopstack.ui import mount_ui

    push_two_versions()

    def answer(request: ModelRequest) -> str:
        text = request.messages[-1].content
        i = int(text.split("#")[-1])
        words = (30 + i % 7) if text.startswith("Candidate") else (2 + i % 3)
        return " ".join(["word"] * words)

    get_model("mock/tokens", fn=answer)
    rows = [{"id": f"i{i:02d}", "review": f"r #{i}", "expected": "x"} for i in range(40)]
    (tmp_path / "d.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "name: t\ndataset: d.jsonl\nprompts: [triage@staging]\nmodels: [mock/tokens]\ncache: false\n"
        "scorers:\n  - scorer: tokens\n"
    )
    result = evaluate(suite, baseline="production")
    (c,) = result.comparisons
    app = FastAPI()
    mount_ui(app, get_store())
    with TestClient(app, base_url="http://testserver") as client:
        forward = client.get(f"/ui/compare?a={c.baseline.id}&b={c.candidate.id}").text
        backward = client.get(f"/ui/compare?a={c.candidate.id}&b={c.baseline.id}").text
    paired = forward.split('id="paired"')[1].split("</table>")[0]
    assert '<span class="pill down">worse</span>' in paired and "better" not in paired
    paired = backward.split('id="paired"')[1].split("</table>")[0]
    assert '<span class="pill up">better</span>' in paired and "worse" not in paired
