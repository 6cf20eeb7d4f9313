"""Data out: spans and run items streamed to Parquet, CSV and JSONL, and to pandas, on both dialects."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import loopstack
from loopstack.cli.main import cli
from loopstack.store import Store
from loopstack.store.exports import SPAN_COLUMNS, span_chunks
from ui.helpers import XSS, add_runs, add_trace


def _traces(store: Store) -> None:
    pid = store.project_id("default")
    for i in range(5):
        add_trace(
            store,
            pid,
            model="openai/a" if i % 2 else "openai/b",
            output=XSS if i == 0 else f"out {i}",
            error=i == 4,
            session=f"s-{i % 2}",
        )


def test_spans_stream_in_chunks_and_to_pandas_filters(store: Store) -> None:
    _traces(store)
    chunks = list(span_chunks(store, "default", chunk=3))
    assert [len(c) for c in chunks] == [3, 3, 3, 1]  # 10 spans: 5 traces of 2
    df = loopstack.traces.to_pandas(store=store)
    assert len(df) == 10 and list(df.columns) == list(SPAN_COLUMNS)
    llm = loopstack.traces.to_pandas(store=store, model="openai/a")
    assert len(llm) == 2 and set(llm["model"]) == {"openai/a"}
    assert len(loopstack.traces.to_pandas(store=store, errors_only=True)) == 2
    assert len(loopstack.traces.to_pandas(store=store, session="s-1")) == 2  # session is on the root spans
    assert XSS in set(df["output"])


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_traces_export_cli_writes_every_span(store: Store, tmp_path: Path, fmt: str) -> None:
    _traces(store)
    out = tmp_path / f"spans.{fmt}"
    result = CliRunner().invoke(cli, ["traces", "export", str(out), "--format", fmt])
    assert result.exit_code == 0, result.output
    assert f"wrote 10 span(s) to {out}" in result.output
    if fmt == "parquet":
        table = pq.read_table(out)
        assert table.num_rows == 10 and table.schema.field("start_time").type.tz == "UTC"
        attrs = json.loads(table.column("attributes")[0].as_py())
        assert isinstance(attrs, dict)
    elif fmt == "csv":
        rows = list(csv.DictReader(out.open()))
        assert len(rows) == 10 and set(rows[0]) == set(SPAN_COLUMNS)
    else:
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        assert len(rows) == 10 and {r["model"] for r in rows} >= {"openai/a", "openai/b"}
    only = tmp_path / f"a.{fmt}"
    CliRunner().invoke(cli, ["traces", "export", str(only), "--model", "openai/a"])
    assert (
        "wrote 2 span(s)"
        in CliRunner().invoke(cli, ["traces", "export", str(only), "--model", "openai/a"]).output
    )


def test_bad_export_input_is_one_line(store: Store, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["traces", "export", str(tmp_path / "x.parquet"), "--since", "yesterday"]
    )
    assert result.exit_code == 2 and "--since" in result.output
    result = CliRunner().invoke(cli, ["runs", "export", "nosuchrun", "-o", str(tmp_path / "r.csv")])
    assert result.exit_code != 0 and "run 'nosuchrun' not found" in str(result.exception)
    assert not (tmp_path / "r.csv").exists()


def test_runs_to_pandas_and_export_have_one_row_per_item_with_score_columns(
    store: Store, tmp_path: Path
) -> None:
    a, b = add_runs(store)
    df = loopstack.runs.to_pandas([a, b[:8]], store=store)
    assert len(df) == 24 and "exact_match" in df.columns
    assert df.groupby("model")["exact_match"].mean().round(3).to_dict() == {"mock/a": 0.917, "mock/b": 0.75}
    assert df.loc[0, "input"] == {"review": "review number 0"}
    out = tmp_path / "runs.parquet"
    result = CliRunner().invoke(cli, ["runs", "export", a, b, "-o", str(out)])
    assert result.exit_code == 0 and "wrote 24 item(s) of 2 run(s)" in result.output
    table = pq.read_table(out).to_pandas()
    assert len(table) == 24 and table["exact_match"].sum() == 11 + 9
    assert json.loads(table.loc[0, "input"]) == {"review": "review number 0"}
    out_csv = tmp_path / "runs.csv"
    CliRunner().invoke(cli, ["runs", "export", a, "-o", str(out_csv)])
    rows = list(csv.DictReader(out_csv.open()))
    assert len(rows) == 12 and rows[0]["exact_match"] in ("1.0", "0.0")
