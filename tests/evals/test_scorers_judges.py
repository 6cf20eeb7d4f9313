"""LLM judges against the scripted ``mock`` provider (the sanctioned fake model)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from loopstack.evals.runner import evaluate
from loopstack.evals.scorers import Sample, get_scorer, parse_rating, parse_verdict
from loopstack.evals.scorers._judges import JudgeParseError, PairwiseJudge
from loopstack.models import MockProvider, ModelRequest, forget_models, get_model
from loopstack.store import Store
from loopstack.store.runs import RunRepository

STUB = Path(__file__).with_name("openai_stub.py")


@pytest.fixture(autouse=True)
def fresh_models() -> Iterator[None]:
    forget_models()
    yield
    forget_models()


def judge_model(*outputs: str) -> MockProvider:
    provider = get_model("mock/judge", outputs=list(outputs)).provider
    assert isinstance(provider, MockProvider)
    return provider


SAMPLE = Sample(input={"question": "Capital of France?"}, output="Paris", expected="Paris")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('{"reasoning": "matches", "score": 4}', 4.0),
        ('```json\n{"score": "5/5", "reasoning": "ok"}\n```', 5.0),
        ("The answer is right but terse.\nScore: 3", 3.0),
        ("**Rating:** 2 out of 5", 2.0),
        ("I would give it 4/5.", 4.0),
        ("5", 5.0),
        ("Score: 9\nSorry, on the 1-5 scale: Score: 4", 4.0),
    ],
)
def test_parse_rating_reads_the_formats_judges_use(text: str, value: float) -> None:
    assert parse_rating(text, 1, 5)[0] == value


@pytest.mark.parametrize("text", ["I think it is good.", "Score: 7", "between 2 and 4", ""])
def test_parse_rating_refuses_missing_or_out_of_range(text: str) -> None:
    with pytest.raises(JudgeParseError):
        parse_rating(text, 1, 5)


async def test_rubric_judge_scores_and_records_model_params_and_reasoning() -> None:
    provider = judge_model('{"reasoning": "Correct capital.", "score": 5}')
    judge = get_scorer("rubric_judge", model="mock/judge", rubric="Is the capital right?")
    (s,) = await judge.score(SAMPLE)
    assert (s.value, s.passed, s.error, s.source) == (1.0, None, None, "llm")
    assert s.explanation == "Correct capital."
    assert s.metadata == {"raw": 5.0, "scale": [1, 5], "attempts": 1}
    assert s.params["model"] == "mock/judge" and s.params["rubric"] == "Is the capital right?"
    prompt = provider.requests[0].messages[-1].content
    assert "Is the capital right?" in prompt and "Capital of France?" in prompt and "Paris" in prompt
    assert provider.requests[0].temperature == 0


async def test_rubric_judge_retries_a_bounded_number_of_times_then_errors_the_score() -> None:
    provider = judge_model("Looks great to me!", "Score: 4")
    (s,) = await get_scorer("rubric_judge", model="mock/judge", normalize=False).score(SAMPLE)
    assert (s.value, s.metadata["attempts"]) == (4.0, 2)
    retry = provider.requests[1].messages
    assert retry[-2].content == "Looks great to me!" and "JSON" in retry[-1].content

    judge_model("meh", "still meh", "nope")  # a different judge under the same name: no replay
    (bad,) = await get_scorer("rubric_judge", model="mock/judge", max_retries=2, cache=False).score(SAMPLE)
    assert bad.value is None and bad.error is not None
    assert "unparseable after 3 attempt(s): 'nope'" in bad.error


async def test_judge_model_failure_is_an_errored_score() -> None:
    judge_model()  # no scripted answers: the provider raises
    (s,) = await get_scorer("rubric_judge", model="mock/judge", max_retries=0).score(SAMPLE)
    assert s.error is not None and "exhausted" in s.error


@pytest.mark.parametrize(
    ("text", "verdict"),
    [('{"winner": "A"}', "a"), ("[[B]]", "b"), ("Both are equal. Verdict: tie", "tie"), ("B", "b"),
     ("Winner: Response A", "a")],
)  # fmt: skip
def test_parse_verdict(text: str, verdict: str) -> None:
    assert parse_verdict(text) == verdict


def _by_order(first: str, second: str) -> MockProvider:
    """A judge that answers by which response is shown first: consistent or position-biased."""

    def answer(request: ModelRequest) -> str:
        prompt = request.messages[-1].content
        a_block = prompt.split("[Response A]")[1].split("[Response B]")[0]
        return first if "Paris" in a_block else second

    provider = get_model("mock/judge", fn=answer).provider
    assert isinstance(provider, MockProvider)
    return provider


async def test_pairwise_counts_only_order_consistent_wins() -> None:
    judge = get_scorer("pairwise_judge", model="mock/judge", cache=False)  # two judges, one name
    assert isinstance(judge, PairwiseJudge)

    _by_order('{"winner": "A"}', '{"winner": "B"}')  # prefers Paris in both orders
    result = await judge.compare({"q": "Capital?"}, "Paris", "Lyon")
    assert (result.winner, result.consistent) == ("a", True)

    provider = _by_order('{"winner": "A"}', '{"winner": "A"}')  # always picks the first shown
    biased = await judge.compare({"q": "Capital?"}, "Paris", "Lyon")
    assert (biased.winner, biased.consistent, biased.first, biased.second) == ("tie", False, "a", "b")
    assert len(provider.requests) == 2


async def test_pairwise_as_a_scorer_against_the_baseline_output() -> None:
    _by_order('{"winner": "B"}', '{"winner": "A"}')  # prefers the response that is not Paris
    sample = Sample(input={"q": "Capital?"}, output="Paris", metadata={"baseline_output": "Lyon"})
    (s,) = await get_scorer("pairwise_judge", model="mock/judge").score(sample)
    assert (s.value, s.passed, s.metadata["outcome"]) == (0.0, False, "loss")


def test_a_malformed_judge_model_fails_when_the_scorer_is_built() -> None:
    from loopstack.errors import LoopstackError

    with pytest.raises(LoopstackError, match="'gpt4' is not a model string"):
        get_scorer("rubric_judge", model="gpt4")


@pytest.fixture
def chat_stub(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """The OpenAI-compatible stub in its own process, logging the last user message of every request."""
    log = tmp_path / "calls.txt"
    proc = subprocess.Popen([sys.executable, str(STUB), "--log", str(log)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("PORT "), line
    yield int(line.split()[1]), log
    proc.terminate()
    proc.wait(timeout=10)


def test_a_rerun_of_a_judged_suite_asks_the_judge_nothing_and_scores_the_same(
    tmp_path: Path, store: Store, chat_stub: tuple[int, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, log = chat_stub
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    rows = [{"id": f"i{i}", "answer": str(1 + i)} for i in range(5)]  # five different judge prompts
    (tmp_path / "data.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    suite = tmp_path / "suite.yaml"
    suite.write_text(  # the stub echoes: the task answers the digit, the judge answers "Score: <digit>"
        "dataset: data.jsonl\n"
        "prompts:\n  - name: echo\n    messages: [{role: user, content: '{{ answer }}'}]\n"
        "models: [openai-compatible/stub]\n"
        "scorers:\n  - scorer: rubric_judge\n"
        "    params: {model: openai-compatible/stub, template: 'Judged: {{ output }}'}\n"
        "cache: false\n"  # the task itself is asked again: only the judge's answers may be replayed
    )

    def judge_calls() -> int:
        return sum(json.loads(line).startswith("Judged: ") for line in log.read_text().splitlines())

    def scores(run_id: str) -> list[tuple[str, float | None, str | None]]:
        items = RunRepository(store).items(run_id)
        return sorted((i.item_key, i.scores[0].value, i.scores[0].error) for i in items)

    first = evaluate(suite, store=store)
    assert judge_calls() == len(rows)
    forget_models()
    second = evaluate(suite, store=store)
    assert judge_calls() == len(rows)  # no judge request the second time
    assert len(log.read_text().splitlines()) == 3 * len(rows)  # the task was asked twice
    before, after = scores(first.runs[0].run.id), scores(second.runs[0].run.id)
    assert before == after
    assert all(error is None for _, _, error in before), before
    assert {value for _, value, _ in before} == {0.0, 0.25, 0.5, 0.75, 1.0}
