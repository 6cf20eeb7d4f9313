"""The eval form: builds a suite, runs it in the background with progress, shows the result, and
downloads the YAML that ``loopstack eval`` runs to the same results; a pasted YAML fills the form."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from click.testing import CliRunner

from loopstack.cli.main import cli
from loopstack.models import forget_models, get_model
from loopstack.store import Store
from loopstack.store.datasets import DatasetItem, DatasetRepository
from loopstack.store.runs import RunRepository
from ui.helpers import add_prompt_versions


@pytest.fixture(autouse=True)
def _models() -> Iterator[None]:
    forget_models()
    get_model("mock/a", fn=lambda r: "bug")
    yield
    forget_models()


def _data(store: Store) -> None:
    add_prompt_versions(store)
    labels = ["bug", "praise", "bug", "question", "bug", "bug"]
    DatasetRepository(store).push(
        "reviews",
        [
            DatasetItem(
                key=f"r{i}", input={"review": f"text {i}"}, expected=lab, split="test" if i < 5 else "train"
            )
            for i, lab in enumerate(labels)
        ],
    )


def _form(**changes: Any) -> dict[str, Any]:
    form = {
        "name": "from the form",
        "dataset": "reviews",
        "split": "test",
        "prompts": "triage@1\ntriage@3",
        "models": "mock/a",
        "epochs": "1",
        "scorer_0": "exact_match",
        "sname_0": "accuracy",
        "threshold_0": "0.5",
        "scorer_1": "regex",
        "params_1": '{"pattern": "^B", "ignore_case": true}',
        "action": "run",
    }
    form.update(changes)
    return form


def _wait(client: httpx.Client, url: str) -> str:
    for _ in range(200):
        page = client.get(url)
        if 'id="job-status">running<' not in page.text:
            return page.text
        time.sleep(0.05)
    raise AssertionError("the eval job did not finish")


def test_form_runs_the_suite_and_its_yaml_reruns_to_the_same_results(
    client: httpx.Client, store: Store, tmp_path: Path
) -> None:
    _data(store)
    started = client.post("/ui/evals/new", data=_form(), follow_redirects=False)
    assert started.status_code == 303, started.text[:1500]
    job_url = started.headers["location"]
    page = _wait(client, job_url)
    assert 'id="job-status">completed<' in page and "10 / 10 items" in page
    means = re.findall(r'<td class="job-mean">([^<]+)</td>', page)
    assert means == ["0.6", "1", "0.6", "1"]  # accuracy: 3 of the 5 test items are "bug"; regex: all
    assert "pass" in page
    suite_yaml = client.get(job_url + "/suite.yaml")
    data = yaml.safe_load(suite_yaml.text)
    assert data["dataset"] == "reviews@1" and data["split"] == "test"
    assert data["scorers"][0] == {"scorer": "exact_match", "name": "accuracy", "threshold": 0.5}
    assert data["scorers"][1] == {"scorer": "regex", "params": {"pattern": "^B", "ignore_case": True}}
    suite_file = tmp_path / "suite.yaml"
    suite_file.write_text(suite_yaml.text)
    form_runs = RunRepository(store).list_runs()
    result = CliRunner().invoke(
        cli, ["eval", str(suite_file), "--no-progress", "--json-out", str(tmp_path / "r.json")]
    )
    assert result.exit_code == 0, result.output
    cli_runs = json.loads((tmp_path / "r.json").read_text())["runs"]
    from loopstack.evals import summarize

    repo = RunRepository(store)
    by_version = {r.prompt_version: summarize(r, repo.items(r.id), {}) for r in form_runs}
    for run in cli_runs:
        form = by_version[run["prompt_version"]]
        for name in ("accuracy", "regex"):
            assert run["scores"][name]["mean"] == form[name].mean
            assert run["scores"][name]["ci_low"] == form[name].ci_low


def test_form_downloads_yaml_and_yaml_fills_the_form(client: httpx.Client, store: Store) -> None:
    _data(store)
    got = client.post("/ui/evals/new", data=_form(action="yaml"))
    assert got.status_code == 200 and "attachment" in got.headers["content-disposition"]
    data = yaml.safe_load(got.text)
    assert data["prompts"] == ["triage@1", "triage@3"] and data["models"] == ["mock/a"]
    filled = client.post("/ui/evals/new", data={"action": "load", "yaml": got.text})
    assert filled.status_code == 200
    assert "triage@1\ntriage@3</textarea>" in filled.text
    assert 'value="accuracy"' in filled.text and 'value="0.5"' in filled.text
    assert "&#34;ignore_case&#34;: true}" in filled.text
    again = client.post("/ui/evals/new", data={**_form(action="yaml")})
    assert yaml.safe_load(again.text) == data  # form -> file -> form -> file


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"prompts": ""}, "form: prompts: List should have at least 1 item"),
        ({"scorer_0": "nosuchscorer"}, "nosuchscorer"),
        ({"params_1": "{ignore"}, "form: scorers[1].params: not a JSON object"),
        ({"threshold_0": "high"}, "form: scorers[0].threshold: 'high' is not a number"),
        ({"dataset": "nosuch"}, "nosuch"),
        ({"models": "nosuchprovider/x"}, "nosuchprovider"),
    ],
)
def test_bad_form_input_is_shown_in_place(
    client: httpx.Client, store: Store, changes: dict[str, Any], message: str
) -> None:
    _data(store)
    page = client.post("/ui/evals/new", data=_form(**changes))
    assert page.status_code == 400
    error = re.search(r'<p class="error" id="form-error">([^<]*)</p>', page.text)
    assert error is not None and message in error.group(1).replace("&#39;", "'")
    assert RunRepository(store).list_runs() == []
    bad_yaml = client.post("/ui/evals/new", data={"action": "load", "yaml": "dataset: [unclosed"})
    assert bad_yaml.status_code == 400


def test_unknown_job_is_404(client: httpx.Client) -> None:
    assert client.get("/ui/evals/jobs/nosuch").status_code == 404
