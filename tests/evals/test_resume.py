"""Kill a running ``loopstack eval`` with SIGKILL, resume it: same results, no finished item re-sent."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from loopstack.cli.main import cli
from loopstack.evals.runner import collect_results, evaluate, resume_run
from loopstack.models import forget_models
from loopstack.store import get_store
from loopstack.store.runs import RunItemRecord, RunRepository

STUB = Path(__file__).with_name("openai_stub.py")
N = 80


@pytest.fixture
def stub(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """The stub server in its own process, logging every request it receives."""
    log = tmp_path / "calls.txt"
    proc = subprocess.Popen(
        [sys.executable, str(STUB), "--latency", "0.05", "--log", str(log)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("PORT "), line
    yield int(line.split()[1]), log
    proc.terminate()
    proc.wait(timeout=10)


def _project(tmp_path: Path, port: int) -> Path:
    rows = [
        {
            "id": f"item{i:03d}",
            "review": f"review number {i}",
            "expected": f"review number {i}" if i % 3 else "x",
        }
        for i in range(N)
    ]
    (tmp_path / "data.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "dataset: data.jsonl\n"
        "prompts:\n  - name: echo\n    messages: [{role: user, content: '{{ review }}'}]\n"
        f"models:\n  - name: openai-compatible/stub\n    options: {{base_url: 'http://127.0.0.1:{port}/v1'}}\n"
        "scorers: [exact_match]\nconcurrency: 4\ncache: false\n"
    )
    return suite


def _items_stored(db: Path) -> int:
    import sqlite3

    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return int(conn.execute("select count(*) from run_items").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def test_sigkill_then_resume_equals_an_uninterrupted_run(
    tmp_path: Path, loopstack_home: Path, stub: tuple[int, Path]
) -> None:
    port, log = stub
    suite = _project(tmp_path, port)
    env = {**os.environ, "LOOPSTACK_HOME": str(loopstack_home)}
    loopstack = [sys.executable, "-c", "import sys; from loopstack.cli.main import main; sys.exit(main())"]
    proc = subprocess.Popen([*loopstack, "eval", str(suite), "--no-progress"], env=env, cwd=tmp_path)
    db = loopstack_home / "loopstack.db"
    deadline = time.monotonic() + 60
    while _items_stored(db) < 15 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "the eval finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)

    repo = RunRepository(get_store())
    (run,) = repo.list_runs()
    assert run.status == "running"  # killed: nobody marked it
    finished_before = {k for k, _ in repo.finished_keys(run.id)}
    assert 15 <= len(finished_before) < N

    result = CliRunner().invoke(cli, ["eval", "--resume", run.id, "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "exact_match" in result.output

    resumed = repo.get(run.id)
    assert resumed.status == "completed"
    items = repo.items(run.id)
    assert len(items) == N and all(i.error is None for i in items)

    calls = Counter(json.loads(line) for line in log.read_text().splitlines())
    for key in finished_before:
        i = int(key.removeprefix("item"))
        assert calls[f"review number {i}"] == 1, f"{key} was sent to the model again"
    # Only items not yet stored at the kill are asked again: at most the 4 calls in flight plus the
    # answers that were queued for the writer's next transaction.
    assert N <= sum(calls.values()) <= N + 8

    # An uninterrupted run of the same suite gives the same per-item results and the same summary.
    forget_models()
    fresh = evaluate(suite)
    fresh_items = repo.items(fresh.runs[0].run.id)
    assert _pairs(fresh_items) == _pairs(items)
    again = asyncio.run(collect_results(repo, run.group_id or run.id, [], suite_name="suite"))
    assert again.runs[0]["exact_match"].mean == pytest.approx(fresh.runs[0]["exact_match"].mean)
    assert again.runs[0]["exact_match"].mean == pytest.approx(53 / 80)


def _pairs(items: list[RunItemRecord]) -> list[tuple[str, str | None, float | None]]:
    out = []
    for i in items:
        score = i.score("exact_match")
        out.append((i.item_key, i.output, score.value if score else None))
    return out


def test_ctrl_c_stops_cleanly_and_prints_how_to_resume(
    tmp_path: Path, loopstack_home: Path, stub: tuple[int, Path]
) -> None:
    port, _ = stub
    suite = _project(tmp_path, port)
    env = {**os.environ, "LOOPSTACK_HOME": str(loopstack_home)}
    loopstack = [sys.executable, "-c", "import sys; from loopstack.cli.main import main; sys.exit(main())"]
    proc = subprocess.Popen(
        [*loopstack, "eval", str(suite), "--no-progress"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    db = loopstack_home / "loopstack.db"
    deadline = time.monotonic() + 60
    while _items_stored(db) < 10 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "the eval finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, out + err

    repo = RunRepository(get_store())
    (run,) = repo.list_runs()
    assert run.status == "interrupted"
    assert f"loopstack eval --resume {run.id}" in out
    assert "Traceback" not in err
    stored = repo.count_items(run.id)
    assert 10 <= stored < N
    assert all(i.output is not None and i.score("exact_match") is not None for i in repo.items(run.id))


def test_resume_retries_only_the_errored_items_of_a_completed_run(tmp_path: Path) -> None:
    from loopstack.models import ModelRequest, ProviderError, get_model

    forget_models()
    rows = [{"id": f"k{i}", "review": f"r{i}", "expected": f"r{i}"} for i in range(10)]
    (tmp_path / "data.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "dataset: data.jsonl\nprompts:\n  - messages: [{role: user, content: '{{ review }}'}]\n"
        "models: [mock/flaky]\nscorers: [exact_match]\ncache: false\n"
    )
    seen: list[str] = []
    failing = {"r3", "r7"}

    def answer(request: ModelRequest) -> str:
        text = request.messages[-1].content
        seen.append(text)
        if text in failing:
            raise ProviderError("503 from upstream", provider="mock", retryable=False)
        return text

    get_model("mock/flaky", fn=answer)
    first = evaluate(suite)
    assert first.runs[0].n_errors == 2
    failing.clear()  # the upstream recovered
    seen.clear()
    resumed = asyncio.run(resume_run(first.runs[0].run.id))
    assert sorted(seen) == ["r3", "r7"]
    assert resumed.runs[0].n_errors == 0 and resumed.runs[0]["exact_match"].mean == 1.0
    assert RunRepository(get_store()).count_items(first.runs[0].run.id) == 10


def test_resume_refuses_when_the_dataset_file_changed(tmp_path: Path) -> None:
    from loopstack.cli.main import main
    from loopstack.models import ModelRequest, ProviderError, get_model

    forget_models()
    rows = [{"id": f"k{i}", "review": f"r{i}", "expected": f"r{i}"} for i in range(6)]
    data = tmp_path / "data.jsonl"
    original = "\n".join(json.dumps(r) for r in rows) + "\n"
    data.write_text(original)
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "dataset: data.jsonl\nprompts:\n  - messages: [{role: user, content: '{{ review }}'}]\n"
        "models: [mock/edited]\nscorers: [exact_match]\ncache: false\n"
    )
    seen: list[str] = []
    failing = {"r2"}

    def answer(request: ModelRequest) -> str:
        text = request.messages[-1].content
        seen.append(text)
        if text in failing:
            raise ProviderError("503 from upstream", provider="mock", retryable=False)
        return text

    get_model("mock/edited", fn=answer)
    first = evaluate(suite)
    run_id = first.runs[0].run.id
    assert first.runs[0].n_errors == 1

    rows[4]["expected"] = "changed"  # someone fixed a label in between
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    seen.clear()
    result = CliRunner().invoke(cli, ["eval", "--resume", run_id, "--no-progress"])
    assert result.exit_code != 0
    message = str(result.exception)
    assert message.startswith(f"cannot resume run {run_id}: its dataset file {data} changed since the run")
    assert "mix two versions" in message
    assert seen == []  # nothing was sent
    with pytest.raises(SystemExit) as exited:
        main(["eval", "--resume", run_id, "--no-progress"])
    assert exited.value.code == 1

    data.write_text(original)  # the same items again: resuming is safe
    failing.clear()
    resumed = asyncio.run(resume_run(run_id))
    assert seen == ["r2"] and resumed.runs[0].n_errors == 0
