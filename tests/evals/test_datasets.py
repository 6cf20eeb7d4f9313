"""Datasets: loading files and objects, stable keys, versioned pushes, exports, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from loopstack.errors import InvalidInput, NotFound
from loopstack.evals.datasets import Dataset
from loopstack.store import Store
from loopstack.store.datasets import DatasetItem, DatasetRepository


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


ROWS = [
    {"id": "r1", "review": "Great app", "expected": "positive", "split": "test", "cluster": "doc1"},
    {"id": "r2", "review": "Crashes a lot", "expected": "negative", "split": "train", "cluster": "doc1"},
    {"id": "r3", "review": "It is fine", "expected": "neutral", "split": "test"},
]


def test_jsonl_columns_map_to_input_expected_split_cluster(tmp_path: Path) -> None:
    ds = Dataset.load(write_jsonl(tmp_path / "reviews.jsonl", ROWS))
    assert ds.name == "reviews"
    assert [i.key for i in ds] == ["r1", "r2", "r3"]
    first = ds[0]
    assert first.input == {"review": "Great app"}
    assert first.expected == "positive"
    assert (first.split, first.cluster) == ("test", "doc1")
    assert ds[2].cluster is None
    assert ds.splits == ["test", "train"]
    assert len(ds.filter(split="test")) == 2


def test_column_mapping_options(tmp_path: Path) -> None:
    path = tmp_path / "qa.csv"
    path.write_text("qid,question,answer,fold,doc,note\nq1,What?,A,dev,d1,x\nq2,Why?,B,test,d1,y\n")
    ds = Dataset.load(path, id="qid", expected="answer", split="fold", cluster="doc", input=["question"])
    assert ds[0].key == "q1"
    assert ds[0].input == {"question": "What?"}
    assert ds[0].expected == "A"
    assert ds[0].metadata == {"note": "x"}
    assert (ds[1].split, ds[1].cluster) == ("test", "d1")


def test_keys_without_id_are_content_hashes_stable_across_loads(tmp_path: Path) -> None:
    rows = [{"q": "a", "expected": "1"}, {"q": "b", "expected": "2"}]
    one = Dataset.load(write_jsonl(tmp_path / "a.jsonl", rows))
    two = Dataset.load(write_jsonl(tmp_path / "b.jsonl", list(reversed(rows))))
    assert {i.key for i in one} == {i.key for i in two}
    assert one[0].key != one[1].key
    assert one[0].key == two[1].key


def test_nested_input_and_metadata_objects(tmp_path: Path) -> None:
    rows = [
        {"input": {"text": "hi", "lang": "en"}, "expected": {"label": "greeting"}, "metadata": {"src": "web"}}
    ]
    item = Dataset.load(write_jsonl(tmp_path / "n.jsonl", rows))[0]
    assert item.input == {"text": "hi", "lang": "en"}
    assert item.expected == {"label": "greeting"}
    assert item.metadata == {"src": "web"}


def test_dataframe_records_and_to_pandas_objects() -> None:
    df = pd.DataFrame({"text": ["x", "y"], "expected": [1.5, float("nan")], "id": [10, 11]})
    ds = Dataset.load(df)
    assert [i.key for i in ds] == ["10", "11"]
    assert ds[0].expected == 1.5
    assert ds[1].expected is None  # NaN is a missing value, not a float

    class FakeHF:  # the shape of a Hugging Face datasets.Dataset
        def to_pandas(self) -> pd.DataFrame:
            return df

    assert [i.input for i in Dataset.load(FakeHF())] == [{"text": "x"}, {"text": "y"}]
    assert Dataset.load([{"text": "z"}])[0].input == {"text": "z"}


def test_parquet_round_trip(tmp_path: Path) -> None:
    ds = Dataset.load(write_jsonl(tmp_path / "r.jsonl", ROWS))
    out = ds.export(tmp_path / "r.parquet")
    again = Dataset.load(out)
    assert [(i.key, i.input, i.expected, i.split, i.cluster) for i in again] == [
        (i.key, i.input, i.expected, i.split, i.cluster) for i in ds
    ]


@pytest.mark.parametrize("suffix", ["jsonl", "csv", "parquet", "json"])
def test_export_formats_reimport_identically(tmp_path: Path, suffix: str) -> None:
    rows = [
        {"id": "a", "q": "one", "expected": {"x": 1}, "metadata": {"m": True}},
        {"id": "b", "q": "two", "expected": "plain"},
    ]
    ds = Dataset.load(write_jsonl(tmp_path / "in.jsonl", rows))
    again = Dataset.load(ds.export(tmp_path / f"out.{suffix}"))
    assert [(i.key, i.input, i.expected, i.metadata) for i in again] == [
        ("a", {"q": "one"}, {"x": 1}, {"m": True}),
        ("b", {"q": "two"}, "plain", {}),
    ]


def test_bad_jsonl_names_file_row_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"q": "a"}\n\n{"q": "b"}\n{"q": oops}\n')
    with pytest.raises(InvalidInput, match=r"bad\.jsonl: row 3 \(line 4\): invalid JSON"):
        Dataset.load(path)
    path.write_text('{"q": "a"}\n[1, 2]\n')
    with pytest.raises(InvalidInput, match=r"bad\.jsonl: row 2 \(line 2\): expected a JSON object"):
        Dataset.load(path)


def test_bad_csv_row_names_file_and_row(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("q,expected\na,1\nb,2,extra\n")
    with pytest.raises(InvalidInput, match=r"bad\.csv: row 2 \(line 3\): 3 fields, but the header has 2"):
        Dataset.load(path)


@pytest.mark.parametrize("name", ["empty.jsonl", "empty.csv", "empty.json"])
def test_empty_file_says_so(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("\n  \n")
    with pytest.raises(InvalidInput, match=rf"{name.replace('.', '[.]')}: the file is empty"):
        Dataset.load(path)


def test_duplicate_ids_and_duplicate_content_are_named(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"id": "x", "q": "1"}, {"id": "x", "q": "2"}])
    with pytest.raises(InvalidInput, match=r"d\.jsonl: row 2 \(line 2\): same id 'x' as row 1"):
        Dataset.load(path)
    path = write_jsonl(tmp_path / "d.jsonl", [{"q": "1"}, {"q": "1"}])
    with pytest.raises(InvalidInput, match=r"row 2 .*same input and expected value as row 1; add an 'id'"):
        Dataset.load(path)


def test_unknown_suffix_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="not found"):
        Dataset.load(tmp_path / "nope.jsonl")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(InvalidInput, match="unknown file type '.txt'"):
        Dataset.load(tmp_path / "x.txt")


# -- versioned storage (SQLite and PostgreSQL) --------------------------------------------------------


def test_push_versions_and_pins_each_version(store: Store, tmp_path: Path) -> None:
    repo = DatasetRepository(store)
    v1 = Dataset.load(write_jsonl(tmp_path / "v1.jsonl", ROWS)).push("reviews", store=store)
    assert (v1.version, v1.added, v1.changed, v1.removed) == (1, 3, 0, 0)

    same = Dataset.load(write_jsonl(tmp_path / "v1b.jsonl", ROWS)).push("reviews", store=store)
    assert (same.version, same.created_version, same.unchanged) == (1, False, 3)

    changed = [
        dict(ROWS[0], expected="very positive"),
        ROWS[2],
        {"id": "r4", "review": "New", "expected": "x"},
    ]
    v2 = Dataset.load(write_jsonl(tmp_path / "v2.jsonl", changed)).push("reviews", store=store)
    assert (v2.version, v2.added, v2.changed, v2.removed, v2.unchanged) == (2, 1, 1, 1, 1)

    at1 = repo.items("reviews", 1)
    assert [(i.key, i.expected) for i in at1] == [("r1", "positive"), ("r2", "negative"), ("r3", "neutral")]
    at2 = repo.items("reviews", 2)
    assert [(i.key, i.expected) for i in at2] == [("r1", "very positive"), ("r3", "neutral"), ("r4", "x")]
    assert repo.items("reviews") == at2
    assert [i.key for i in repo.items("reviews", 2, split="test")] == ["r1", "r3"]
    assert [(h.valid_from, h.valid_to, h.expected) for h in repo.history("reviews", "r1")] == [
        (1, 2, "positive"),
        (2, None, "very positive"),
    ]
    info = repo.get("reviews")
    assert (info.version, info.item_count) == (2, 3)
    pulled = Dataset.pull("reviews", version=1, store=store)
    assert (pulled.version, len(pulled)) == (1, 3)


def test_unknown_dataset_and_version_are_clear(store: Store) -> None:
    repo = DatasetRepository(store)
    with pytest.raises(NotFound, match="no dataset named 'nope'"):
        repo.items("nope")
    repo.push("small", [DatasetItem(key="a", input={"q": "1"})])
    with pytest.raises(NotFound, match=r"dataset 'small' has no version 5 \(versions: 1..1\)"):
        repo.items("small", 5)


def test_add_items_keeps_the_rest_and_projects_are_separate(store: Store) -> None:
    repo = DatasetRepository(store)
    repo.push("d", [DatasetItem(key="a", input={"q": "1"}), DatasetItem(key="b", input={"q": "2"})])
    result = repo.add_items("d", [DatasetItem(key="c", input={"q": "3"}, source_span_id="00f067aa0ba902b7")])
    assert (result.version, result.added, result.removed) == (2, 1, 0)
    items = repo.items("d")
    assert [i.key for i in items] == ["a", "b", "c"]
    assert items[2].source_span_id == "00f067aa0ba902b7"
    other = DatasetRepository(store, project="other")
    assert other.list_datasets() == []
    assert [d.name for d in repo.list_datasets()] == ["d"]


def test_numbers_and_nested_values_round_trip_unchanged(store: Store) -> None:
    repo = DatasetRepository(store)
    item = DatasetItem(
        key="k", input={"n": 1, "f": 2.5, "l": [1, "a"]}, expected={"a": {"b": None}}, metadata={"m": 1}
    )
    repo.push("t", [item])
    assert repo.push("t", [item]).created_version is False  # no spurious new version after a round trip
    got = repo.items("t")[0]
    assert (got.input, got.expected, got.metadata) == (item.input, item.expected, item.metadata)


def test_concurrent_pushes_make_distinct_versions(store: Store) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def push(i: int) -> int:
        repo = DatasetRepository(store)
        return repo.add_items("shared", [DatasetItem(key=f"k{i}", input={"i": i})]).version

    with ThreadPoolExecutor(max_workers=4) as pool:
        versions = sorted(pool.map(push, range(8)))
    assert versions == list(range(1, 9))
    repo = DatasetRepository(store)
    assert sorted(i.key for i in repo.items("shared")) == sorted(f"k{i}" for i in range(8))
    assert [len(repo.items("shared", v)) for v in (1, 4, 8)] == [1, 4, 8]


def test_unusual_text_survives_jsonl_and_csv(tmp_path: Path) -> None:
    tricky = 'line one\nline two, "quoted"\u2028after a line separator'
    path = write_jsonl(tmp_path / "t.jsonl", [{"id": "a", "text": tricky}, {"id": "b", "text": "x"}])
    path.write_text(
        path.read_text().replace("\\u2028", "\u2028"), encoding="utf-8"
    )  # raw U+2028, as JSON allows
    ds = Dataset.load(path)
    assert [i.input["text"] for i in ds] == [tricky, "x"]
    again = Dataset.load(ds.export(tmp_path / "t.csv"))
    assert [i.input["text"] for i in again] == [tricky, "x"]
    bom = tmp_path / "bom.csv"
    bom.write_bytes("\ufeffq,expected\nhi,there\n".encode())
    assert Dataset.load(bom)[0].input == {"q": "hi"}
    tsv = tmp_path / "x.tsv"
    tsv.write_text("q\texpected\nhi\tthere\n")
    assert Dataset.load(tsv)[0].expected == "there"


def test_a_suite_column_that_is_missing_names_the_file_and_the_columns(tmp_path: Path) -> None:
    from loopstack.evals._dataset import load_dataset as plan_dataset
    from loopstack.evals.suite import parse_suite
    from loopstack.store import get_store

    (tmp_path / "qa.jsonl").write_text('{"qid": "q1", "question": "What?", "answer": "A"}\n')
    suite = parse_suite(
        {
            "dataset": "qa.jsonl",
            "columns": {"id": "qid", "expected": "answr"},
            "prompts": [{"messages": [{"role": "user", "content": "{{ question }}"}]}],
            "models": ["mock/x"],
        },
        path=tmp_path / "suite.yaml",
    )
    with pytest.raises(
        InvalidInput, match=r"^qa.jsonl: no column 'answr' \(the expected column\); columns: 'qid'"
    ):
        plan_dataset(suite, get_store(), "default")
    # default column names stay optional: no 'expected' or 'id' column is fine
    assert Dataset.load(tmp_path / "qa.jsonl")[0].expected is None
