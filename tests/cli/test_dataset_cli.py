"""``loopstack dataset``: push / list / show / export, asserting on output and on the database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from loopstack.cli.main import cli
from loopstack.store import Store
from loopstack.store.datasets import DatasetRepository


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        from loopstack.errors import LoopstackError

        if isinstance(result.exception, LoopstackError):
            return 1, str(result.exception)
        raise result.exception
    return result.exit_code, result.output


def test_push_list_show_export(store: Store, tmp_path: Path) -> None:
    data = tmp_path / "reviews.csv"
    data.write_text("id,review,label,fold\nr1,Great,positive,test\nr2,Bad,negative,train\n")
    code, out = run(
        "dataset", "push", str(data), "--name", "rev", "--expected-column", "label", "--split-column", "fold"
    )
    assert code == 0, out
    assert "Pushed rev v1: 2 added, 0 changed, 0 removed, 0 unchanged (2 items)." in out
    items = DatasetRepository(store).items("rev")
    assert [(i.key, i.input, i.expected, i.split) for i in items] == [
        ("r1", {"review": "Great"}, "positive", "test"),
        ("r2", {"review": "Bad"}, "negative", "train"),
    ]

    code, out = run(
        "dataset", "push", str(data), "--name", "rev", "--expected-column", "label", "--split-column", "fold"
    )
    assert "rev is unchanged at v1 (2 items)." in out

    data.write_text("id,review,label,fold\nr1,Great!,positive,test\n")
    code, out = run(
        "dataset",
        "push",
        str(data),
        "--name",
        "rev",
        "--expected-column",
        "label",
        "--split-column",
        "fold",
        "--json",
    )
    assert json.loads(out) == {
        "name": "rev",
        "version": 2,
        "created_version": True,
        "added": 0,
        "changed": 1,
        "removed": 1,
        "unchanged": 0,
    }

    code, out = run("dataset", "list", "--json")
    assert [(d["name"], d["version"], d["items"]) for d in json.loads(out)] == [("rev", 2, 1)]
    code, out = run("dataset", "list")
    assert "rev" in out and code == 0

    code, out = run("dataset", "show", "rev", "--version", "1", "--json")
    shown = json.loads(out)
    assert shown["version"] == 1 and [i["key"] for i in shown["items"]] == ["r1", "r2"]
    code, out = run("dataset", "show", "rev")
    assert "rev v2" in out and "Great!" in out and "1 items." in out

    target = tmp_path / "out.jsonl"
    code, out = run("dataset", "export", "rev", "-o", str(target), "--version", "1")
    assert code == 0 and "Wrote 2 items of rev v1" in out
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert lines[0] == {"id": "r1", "review": "Great", "expected": "positive", "split": "test"}


def test_errors_are_one_line(store: Store, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"q": 1}\nnot json\n')
    code, out = run("dataset", "push", str(bad))
    assert code == 1 and out.startswith("bad.jsonl: row 2 (line 2): invalid JSON")
    code, out = run("dataset", "show", "missing")
    assert code == 1 and "no dataset named 'missing'" in out


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_export_other_formats(store: Store, tmp_path: Path, suffix: str) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text('{"id": "a", "q": "x", "expected": "y"}\n')
    assert run("dataset", "push", str(data))[0] == 0
    target = tmp_path / f"d.{suffix}"
    code, _ = run("dataset", "export", "d", "-o", str(target))
    assert code == 0 and target.exists()
    code, out = run("dataset", "push", str(target), "--name", "d")
    assert "d is unchanged at v1" in out


def test_entry_point_prints_one_line_and_exits_1(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from loopstack.cli.main import main

    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(SystemExit) as exc:
        main(["dataset", "push", str(empty), "--name", "x"])
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert err.strip() == "Error: empty.csv: the file is empty (no rows)"
    assert DatasetRepository(store).list_datasets() == []


@pytest.mark.parametrize(
    ("option", "column", "role"),
    [("--expected-column", "lable", "expected"), ("--id-column", "review_id", "id")],
)
def test_a_named_column_that_is_missing_is_an_error(
    store: Store, tmp_path: Path, option: str, column: str, role: str
) -> None:
    data = tmp_path / "reviews.csv"
    data.write_text("id,review,label\nr1,Great,positive\nr2,Bad,negative\n")
    code, out = run("dataset", "push", str(data), option, column)
    assert code == 1
    assert out == f"reviews.csv: no column {column!r} (the {role} column); columns: 'id', 'review', 'label'"
    assert DatasetRepository(store).list_datasets() == []
