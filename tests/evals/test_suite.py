"""Suite files: valid ones parse into the matrix they describe; malformed ones name the file and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loopstack.errors import InvalidInput
from loopstack.evals.suite import InlinePrompt, PromptRef, load_suite

GOOD = """
name: triage
dataset: reviews.jsonl
split: test
prompts:
  - triage@production
  - triage@3
  - triage
  - name: terse
    messages:
      - {role: user, content: "Classify: {{ review }}"}
models: [mock/echo, local/smollm2-135m]
params: {temperature: 0, max_tokens: 40}
scorers:
  - json_valid
  - scorer: json_field_match
    name: sentiment
    params: {field: sentiment}
    threshold: 0.7
    threshold_on: ci_low
epochs: 2
concurrency: 4
cache: false
"""


def _write(tmp_path: Path, text: str, name: str = "suite.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_a_full_suite_parses_into_its_matrix(tmp_path: Path) -> None:
    (tmp_path / "reviews.jsonl").write_text('{"input": {"review": "ok"}}\n')
    suite = load_suite(_write(tmp_path, GOOD))
    assert suite.display_name == "triage"
    assert suite.prompts[:3] == [
        PromptRef(name="triage", label="production"),
        PromptRef(name="triage", version=3),
        PromptRef(name="triage"),
    ]
    inline = suite.prompts[3]
    assert isinstance(inline, InlinePrompt) and inline.messages[0].content == "Classify: {{ review }}"
    assert suite.models == ["mock/echo", "local/smollm2-135m"]
    assert [s.score_name for s in suite.scorers] == ["json_valid", "sentiment"]
    assert suite.scorers[1].threshold == 0.7 and suite.scorers[1].threshold_on == "ci_low"
    assert (suite.epochs, suite.concurrency, suite.cache, suite.split) == (2, 4, False, "test")
    assert suite.dataset_file() == tmp_path / "reviews.jsonl"


def test_a_registered_dataset_reference_with_a_version(tmp_path: Path) -> None:
    suite = load_suite(_write(tmp_path, "dataset: reviews@4\nprompts: triage@staging\nmodels: mock/x\n"))
    assert suite.dataset_file() is None
    assert suite.dataset_ref() == ("reviews", 4)
    assert suite.display_name == "suite"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "dataset: d\nprompts: [p@1]\nmodels: [m]\n"
            "scorers:\n  - json_valid\n  - scorer: x\n    threshold: high\n",
            "suite.yaml: scorers[1].threshold: Input should be a valid number",
        ),
        ("dataset: d\nprompts: [p@1]\nmodels: [m]\nepoch: 3\n", "suite.yaml: epoch: unknown field"),
        ("dataset: d\nprompts: [p@1, 'Bad Name']\nmodels: [m]\n", "prompts[1]: 'Bad Name' is not"),
        ("prompts: [p@1]\nmodels: [m]\n", "suite.yaml: dataset: Field required"),
        ("dataset: d\nprompts: [p@1]\nmodels: []\n", "suite.yaml: models: List should have at least 1 item"),
        ("dataset: d\nprompts: [p@1]\nmodels: [m]\nconcurrency: 0\n", "suite.yaml: concurrency: Input"),
        (
            "dataset: d\nprompts:\n  - messages: [{role: user, text: hi}]\nmodels: [m]\n",
            "suite.yaml: prompts[0].messages[0]",
        ),
        (
            "dataset: d\nprompts: [p]\nmodels: [m]\nscorers: [exact, exact]\n",
            "two scorers are named 'exact'",
        ),
        ("dataset: d\nprompts: [p\nmodels: [m]\n", "suite.yaml:3:"),
        ("- just\n- a list\n", "suite.yaml: a suite must be a YAML mapping"),
        (
            "dataset: d\nprompts: [p]\nmodels: [m]\nparams: {temprature: 0}\n",
            "suite.yaml: params: unknown parameter 'temprature' (did you mean 'temperature'?)",
        ),
        (
            "dataset: d\nprompts:\n  - messages: [{role: user, content: hi}]\n    params: {max_token: 3}\n"
            "models: [m]\n",
            "suite.yaml: prompts[0].params: unknown parameter 'max_token' (did you mean 'max_tokens'?)",
        ),
    ],
)
def test_malformed_suites_name_the_file_and_the_field(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as err:
        load_suite(_write(tmp_path, text))
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_a_missing_dataset_file_is_reported(tmp_path: Path) -> None:
    suite = load_suite(_write(tmp_path, "dataset: data/missing.jsonl\nprompts: p\nmodels: m\n"))
    with pytest.raises(InvalidInput, match="dataset: file 'data/missing.jsonl' not found"):
        suite.dataset_file()


def test_a_missing_suite_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="not found"):
        load_suite(tmp_path / "nope.yaml")


# -- scorers from the suite's own Python files ------------------------------------------------------

MY_SCORERS = '''
from loopstack import scorer
from helpers import shout  # a neighbour of this file: the folder is importable while it loads


@scorer("says_positive")
def says_positive(sample):
    """Does the answer contain the expected word?"""
    return shout(sample.expected) in shout(sample.output or "")


def short(sample, max_chars=5):
    return len(sample.output or "") <= max_chars
'''


def _scorer_suite(tmp_path: Path, scorers: str, extra: str = "") -> Path:
    rows = [
        {"id": f"i{i}", "review": f"r{i}", "expected": "positive" if i % 2 else "negative"} for i in range(6)
    ]
    (tmp_path / "reviews.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    checks = tmp_path / "checks"
    checks.mkdir(exist_ok=True)
    (checks / "my_scorers.py").write_text(MY_SCORERS)
    (checks / "helpers.py").write_text("def shout(text):\n    return str(text).upper()\n")
    return _write(
        tmp_path,
        "name: custom\ndataset: reviews.jsonl\n"
        "prompts:\n  - name: inline\n    messages: [{role: user, content: '{{ review }}'}]\n"
        f"models: [mock/custom]\n{extra}scorers:\n{scorers}",
    )


def test_a_suite_names_scorers_from_its_own_python_files(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from loopstack.cli.main import cli
    from loopstack.models import forget_models, get_model
    from loopstack.store import get_store
    from loopstack.store.runs import RunRepository

    forget_models()
    get_model("mock/custom", fn=lambda r: "positive")
    suite = _scorer_suite(
        tmp_path,
        "  - says_positive\n"
        "  - python: checks/my_scorers.py:short\n    name: brief\n    params: {max_chars: 3}\n",
        extra="scorers_module: checks/my_scorers.py\n",
    )
    result = CliRunner().invoke(cli, ["eval", str(suite), "--no-progress", "--json"])
    forget_models()
    assert result.exit_code == 0, result.output
    (run,) = RunRepository(get_store()).list_runs()
    items = RunRepository(get_store()).items(run.id)
    positive = {it.item_key: it.score("says_positive") for it in items}
    assert {k: s.value if s else None for k, s in positive.items()} == {
        f"i{i}": (1.0 if i % 2 else 0.0) for i in range(6)
    }
    assert {it.score("brief").value for it in items if it.score("brief")} == {0.0}  # "positive" > 3 chars
    assert len([it for it in items if it.score("brief")]) == 6


@pytest.mark.parametrize(
    ("scorers", "extra", "message"),
    [
        (
            "  - exact_match\n",
            "scorers_module: checks/nope.py\n",
            "suite.yaml: scorers_module: file 'checks/nope.py' not found",
        ),
        (
            "  - python: checks/my_scorers.py:shortest\n",
            "",
            "suite.yaml: scorers[0].python: checks/my_scorers.py has no function 'shortest' "
            "(it defines: says_positive, short)",
        ),
        (
            "  - python: checks/gone.py:short\n",
            "",
            "suite.yaml: scorers[0].python: file 'checks/gone.py' not found",
        ),
        (
            "  - python: checks/my_scorers.py\n",
            "",
            "suite.yaml: scorers[0]: python: 'checks/my_scorers.py' is",
        ),
        ("  - tone_check\n", "", "suite.yaml: scorers[0]: no scorer named 'tone_check'"),
    ],
)
def test_a_missing_scorer_module_or_function_names_the_file_and_field(
    tmp_path: Path, scorers: str, extra: str, message: str
) -> None:
    from loopstack.evals.runner import build_scorers

    suite_file = _scorer_suite(tmp_path, scorers, extra)
    with pytest.raises(InvalidInput) as err:
        build_scorers(load_suite(suite_file))
    assert str(err.value).startswith(message), str(err.value)
    assert "\n" not in str(err.value)
