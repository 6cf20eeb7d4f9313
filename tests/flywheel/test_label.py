"""Teacher labelling against a local OpenAI-compatible stub server: every label stored once, resumable
after kill -9 with no stored item asked again, a budget never passed, a failing teacher stopped."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from loopstack.cli.main import cli
from loopstack.errors import InvalidInput
from loopstack.flywheel import label_dataset
from loopstack.models import forget_models
from loopstack.store import Store, get_store
from loopstack.store.datasets import DatasetItem, DatasetRepository
from loopstack.store.teacher_labels import TeacherLabelRepository

STUB = Path(__file__).parent.parent / "evals" / "openai_stub.py"
TEACHER = "openai-compatible/stub"


@pytest.fixture
def stub(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The stub in its own process (echoes the last user message after 50 ms, logging each request)."""
    log = tmp_path / "calls.txt"
    proc = subprocess.Popen(
        [sys.executable, str(STUB), "--latency", "0.05", "--log", str(log)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("PORT "), line
    yield f"http://127.0.0.1:{line.split()[1]}/v1", log
    proc.terminate()
    proc.wait(timeout=10)
    forget_models()


def _dataset(store: Store, n: int, name: str = "reviews") -> None:
    items = [DatasetItem(key=f"item{i:03d}", input={"review": f"review number {i}"}) for i in range(n)]
    DatasetRepository(store).push(name, items)


def _calls(log: Path) -> Counter[str]:
    return Counter(json.loads(line) for line in log.read_text().splitlines()) if log.exists() else Counter()


def _labels(store: Store, name: str = "reviews") -> TeacherLabelRepository:
    return TeacherLabelRepository(store, "default", DatasetRepository(store).get(name).id)


def test_every_item_is_labelled_once_and_a_rerun_asks_for_nothing(
    store: Store, stub: tuple[str, Path]
) -> None:
    url, log = stub
    _dataset(store, 30)
    report = label_dataset(
        "reviews", teacher=TEACHER, model_options={"base_url": url}, concurrency=8, store=store
    )
    assert (report.labelled, report.errors, report.stopped) == (30, 0, None)
    labels = _labels(store).labels()
    assert len(labels) == 30 and {lb.item_key for lb in labels} == {f"item{i:03d}" for i in range(30)}
    one = next(lb for lb in labels if lb.item_key == "item007")
    assert one.output == "review number 7" and one.teacher == TEACHER and one.source == "api"
    assert one.input_tokens == 3 and one.created_at is not None
    again = label_dataset("reviews", teacher=TEACHER, model_options={"base_url": url}, store=store)
    assert (again.already, again.labelled) == (30, 0)
    assert sum(_calls(log).values()) == 30


def test_max_cost_stops_before_the_budget_is_passed(
    store: Store, stub: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from loopstack.config import get_settings

    prices = tmp_path / "prices.yaml"
    prices.write_text(
        "prices:\n  - {match: 'openai-compatible/stub', since: 2024-01-01, input: 1000, output: 1000}\n"
    )
    monkeypatch.setenv("LOOPSTACK_PRICE_FILE", str(prices))
    get_settings.cache_clear()
    url, log = stub
    _dataset(store, 40)
    # $0.001 a token; each answer echoes 3 words (3 + 3 tokens = $0.006), estimated at $0.028 a call
    report = label_dataset(
        "reviews",
        teacher=TEACHER,
        model_options={"base_url": url},
        params={"max_tokens": 16},
        concurrency=4,
        max_cost=0.1,
        store=store,
    )
    assert report.stopped == "max-cost"
    assert 0 < report.labelled < 40 and report.cost <= 0.1
    assert sum(lb.cost or 0 for lb in _labels(store).labels()) <= 0.1
    assert sum(_calls(log).values()) == report.labelled  # no call was made that did not fit
    assert "stopped before passing the budget of $0.1" in (report.message or "")


def test_a_teacher_failing_every_item_stops_with_its_error(store: Store, stub: tuple[str, Path]) -> None:
    url, _ = stub
    _dataset(store, 50)
    report = label_dataset(
        "reviews",
        teacher=TEACHER,
        model_options={"base_url": url.removesuffix("/v1") + "/wrong", "max_retries": 0},
        concurrency=1,
        max_consecutive_errors=5,
        store=store,
    )
    assert report.stopped == "errors" and report.errors == 5 and report.labelled == 0
    assert "failed 5 items in a row" in (report.message or "")
    result = CliRunner().invoke(
        cli,
        ["label", "reviews", "--teacher", TEACHER, "-o", f"base_url={url}/nope", "-o", "max_retries=0"],
    )
    assert result.exit_code == 1
    assert "failed 20 items in a row" in str(result.exception)


def test_bad_input_fails_before_any_call(store: Store, stub: tuple[str, Path]) -> None:
    url, log = stub
    DatasetRepository(store).push("empty", [])
    with pytest.raises(InvalidInput, match="has no items to label"):
        label_dataset("empty", teacher=TEACHER, model_options={"base_url": url}, store=store)
    _dataset(store, 3)
    from loopstack.prompts import PromptRegistry

    PromptRegistry(store).push("p", [{"role": "user", "content": "{{ text }}"}], labels=["production"])
    with pytest.raises(InvalidInput, match="text"):
        label_dataset("reviews", teacher=TEACHER, prompt="p@production", store=store)
    assert not _calls(log)


def _stored(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return int(conn.execute("select count(*) from teacher_labels").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def test_kill_9_then_rerun_never_asks_again_for_a_stored_item(
    tmp_path: Path, loopstack_home: Path, stub: tuple[str, Path]
) -> None:
    url, log = stub
    n = 300
    _dataset(get_store(), n)
    env = {**os.environ, "LOOPSTACK_HOME": str(loopstack_home)}
    command = [sys.executable, "-c", "import sys; from loopstack.cli.main import main; sys.exit(main())"]
    args = ["label", "reviews", "--teacher", TEACHER, "-o", f"base_url={url}", "-c", "4", "--no-progress"]
    proc = subprocess.Popen([*command, *args], env=env, cwd=tmp_path)
    db = loopstack_home / "loopstack.db"
    deadline = time.monotonic() + 60
    while _stored(db) < 40 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, "labelling finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)

    store = get_store()
    before = {lb.item_key for lb in _labels(store).labels()}
    assert 40 <= len(before) < n
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["already"] == len(before)
    labels = _labels(store).labels()
    assert len(labels) == n and len({lb.item_key for lb in labels}) == n
    calls = _calls(log)
    for key in before:
        i = int(key.removeprefix("item"))
        assert calls[f"review number {i}"] == 1, f"{key} was stored, yet asked for again"


def test_with_the_cache_a_request_answered_before_is_replayed_not_asked_again(
    store: Store, stub: tuple[str, Path]
) -> None:
    """``cache=True``: a second dataset with the same inputs is labelled from the response cache (the
    stub sees no new call) and the report counts the replays; without it every item is a call."""
    url, log = stub
    _dataset(store, 12)
    _dataset(store, 12, name="again")
    first = label_dataset(
        "reviews", teacher=TEACHER, model_options={"base_url": url}, cache=True, store=store
    )
    assert (first.labelled, first.replayed) == (12, 0)
    assert sum(_calls(log).values()) == 12
    second = label_dataset("again", teacher=TEACHER, model_options={"base_url": url}, cache=True, store=store)
    assert (second.labelled, second.replayed) == (12, 12)
    assert sum(_calls(log).values()) == 12
    stored = {lb.item_key: lb.output for lb in _labels(store, "again").labels()}
    assert stored["item005"] == "review number 5" and len(stored) == 12
    _dataset(store, 12, name="uncached")
    label_dataset("uncached", teacher=TEACHER, model_options={"base_url": url}, store=store)
    assert sum(_calls(log).values()) == 24


def test_the_cli_measures_the_teacher_against_the_items_people_answered(
    store: Store, stub: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``loopstack label`` without --missing-only also labels the items with a human answer, and says
    how often the teacher gave it (the stub echoes the review: right on the 15 even items of 30)."""
    url, _ = stub
    monkeypatch.setenv("LOOPSTACK_DATABASE_URL", store.url)
    items = [
        DatasetItem(
            key=f"item{i:03d}",
            input={"review": f"review number {i}"},
            expected=f"review number {i}" if i % 2 == 0 else "something else",
        )
        for i in range(30)
    ] + [DatasetItem(key=f"new{i}", input={"review": f"fresh {i}"}) for i in range(5)]
    DatasetRepository(store).push("reviews", items)
    result = CliRunner().invoke(
        cli, ["label", "reviews", "--teacher", TEACHER, "-o", f"base_url={url}", "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    assert "teacher vs people on 30 items with both: exact agreement 0.50" in result.output
    as_json = CliRunner().invoke(
        cli, ["label", "reviews", "--teacher", TEACHER, "-o", f"base_url={url}", "--json"]
    )
    agreement = json.loads(as_json.output)["agreement_with_people"]
    assert (agreement["items"], agreement["exact"]) == (30, 0.5)
