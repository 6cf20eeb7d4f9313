"""Reading and writing dataset files (JSONL, JSON, CSV/TSV, Parquet) and turning rows into items.

Errors name the file and the row (and the line, for JSONL), because "invalid dataset" on a
10,000-row file is useless.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loopstack.errors import InvalidInput
from loopstack.store._types import json_default
from loopstack.store.datasets import DatasetItem

FORMATS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
}


@dataclass(frozen=True)
class ColumnMapping:
    """Which columns hold what. Every other column is an input variable.

    A column named ``input`` holding an object is taken as the whole input (nested form), and a
    ``metadata`` column holding an object as the item's metadata.
    """

    expected: str = "expected"
    id: str = "id"
    split: str = "split"
    cluster: str = "cluster"
    metadata: str = "metadata"
    input: tuple[str, ...] | None = None
    """Only these columns are input variables (the rest go to metadata). ``None``: every other column."""

    def reserved(self) -> set[str]:
        return {self.expected, self.id, self.split, self.cluster, self.metadata}


@dataclass(frozen=True)
class Row:
    """One raw row and where it came from, for error messages."""

    number: int
    """1-based data row (header excluded)."""
    line: int | None
    data: dict[str, Any]


def detect_format(path: Path, fmt: str | None = None) -> str:
    if fmt:
        if fmt not in set(FORMATS.values()):
            raise InvalidInput(f"unknown dataset format {fmt!r} (use one of jsonl, json, csv, tsv, parquet)")
        return fmt
    found = FORMATS.get(path.suffix.lower())
    if found is None:
        raise InvalidInput(
            f"{path.name}: unknown file type {path.suffix!r} (use .jsonl, .json, .csv, .tsv or .parquet)"
        )
    return found


def read_rows(path: str | Path, fmt: str | None = None) -> list[Row]:
    """Every data row of a dataset file; an empty file or a malformed row is an ``InvalidInput``."""
    p = Path(path)
    if not p.is_file():
        raise InvalidInput(f"dataset file {str(p)!r} not found")
    kind = detect_format(p, fmt)
    if kind == "parquet":
        rows = _parquet_rows(p)
    else:
        try:
            text = p.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"{p.name}: not UTF-8 text (byte {exc.start})") from None
        if not text.strip():
            raise InvalidInput(f"{p.name}: the file is empty (no rows)")
        if kind == "jsonl":
            rows = list(_jsonl_rows(p.name, text))
        elif kind == "json":
            rows = _json_rows(p.name, text)
        else:
            rows = list(_csv_rows(p.name, text, "\t" if kind == "tsv" else ","))
    if not rows:
        raise InvalidInput(f"{p.name}: the file has no data rows")
    return rows


def _jsonl_rows(name: str, text: str) -> Iterator[Row]:
    number = 0
    # Split on "\n" only: str.splitlines() also breaks on U+2028 and friends, which JSON strings may hold.
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        number += 1
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInput(
                f"{name}: row {number} (line {lineno}): invalid JSON: {exc.msg} at column {exc.colno}"
            ) from None
        if not isinstance(data, dict):
            raise InvalidInput(
                f"{name}: row {number} (line {lineno}): expected a JSON object, got {type(data).__name__}"
            )
        yield Row(number, lineno, data)


def _json_rows(name: str, text: str) -> list[Row]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{name}: line {exc.lineno}: invalid JSON: {exc.msg}") from None
    if isinstance(data, dict):
        # {"items": [...]} or {"data": [...]}: the common wrappers
        for key in ("items", "data", "rows", "examples"):
            if isinstance(data.get(key), list):
                data = data[key]
                break
    if not isinstance(data, list):
        raise InvalidInput(f"{name}: expected a JSON array of objects (or JSONL, one object per line)")
    rows = []
    for i, obj in enumerate(data, start=1):
        if not isinstance(obj, dict):
            raise InvalidInput(f"{name}: row {i}: expected a JSON object, got {type(obj).__name__}")
        rows.append(Row(i, None, obj))
    return rows


def _csv_rows(name: str, text: str, delimiter: str) -> Iterator[Row]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidInput(f"{name}: the file is empty (no rows)") from None
    except csv.Error as exc:
        raise InvalidInput(f"{name}: header: {exc}") from None
    header = [h.strip() for h in header]
    if not any(header):
        raise InvalidInput(f"{name}: line 1: the header row is empty")
    dupes = {h for h in header if header.count(h) > 1}
    if dupes:
        raise InvalidInput(f"{name}: header: column {sorted(dupes)[0]!r} appears twice")
    number = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InvalidInput(f"{name}: row {number + 1} (line {reader.line_num}): {exc}") from None
        if not cells or all(not c.strip() for c in cells):
            continue
        number += 1
        if len(cells) != len(header):
            raise InvalidInput(
                f"{name}: row {number} (line {reader.line_num}): {len(cells)} fields, "
                f"but the header has {len(header)}"
            )
        yield Row(number, reader.line_num, dict(zip(header, cells, strict=True)))


def _parquet_rows(p: Path) -> list[Row]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(p)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for a bad file
        raise InvalidInput(f"{p.name}: not a readable Parquet file ({exc})") from None
    if table.num_rows == 0:
        raise InvalidInput(f"{p.name}: the file is empty (no rows)")
    return [Row(i, None, _plain(r)) for i, r in enumerate(table.to_pylist(), start=1)]


def records_from(obj: Any) -> list[Row]:
    """Rows from a pandas DataFrame, anything with ``.to_pandas()`` (a Hugging Face ``datasets.Dataset``)
    or an iterable of dicts."""
    if hasattr(obj, "to_dict") and hasattr(obj, "columns"):  # a pandas DataFrame
        records = obj.to_dict(orient="records")
    elif hasattr(obj, "to_pandas"):
        records = obj.to_pandas().to_dict(orient="records")
    elif isinstance(obj, Iterable) and not isinstance(obj, str | bytes | Mapping):
        records = list(obj)
    else:
        raise InvalidInput(
            f"cannot read a dataset from {type(obj).__name__}: give a file path, a pandas DataFrame, "
            "a Hugging Face dataset or a list of dicts"
        )
    rows = []
    for i, rec in enumerate(records, start=1):
        if not isinstance(rec, Mapping):
            raise InvalidInput(f"row {i}: expected a mapping of column -> value, got {type(rec).__name__}")
        rows.append(Row(i, None, _plain(dict(rec))))
    if not rows:
        raise InvalidInput("the dataset is empty (no rows)")
    return rows


def _plain(value: Any) -> Any:
    """Python values from numpy/pandas ones: NaN/NA -> None, numpy scalars -> int/float, arrays -> lists."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    tolist = getattr(value, "tolist", None)  # numpy arrays and scalars
    if callable(tolist):
        return _plain(tolist())
    if type(value).__name__ in ("NAType", "NaTType"):
        return None
    isoformat = getattr(value, "isoformat", None)
    if callable(isoformat):
        return isoformat()
    return value


def _maybe_json(value: Any) -> Any:
    """A CSV/Parquet cell holding a JSON object or array, parsed; anything else unchanged."""
    if isinstance(value, str) and value[:1] in ("{", "[") and value.strip()[-1:] in ("}", "]"):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return value
        if isinstance(parsed, dict | list):
            return parsed
    return value


def _blank(value: Any) -> Any:
    return None if value is None or (isinstance(value, str) and not value.strip()) else value


def content_key(input_vars: Mapping[str, Any], expected: Any) -> str:
    """Stable key of an item without an id: a hash of its input and expected value."""
    blob = json.dumps(
        {"input": input_vars, "expected": expected}, sort_keys=True, ensure_ascii=False, default=json_default
    )
    return "h" + hashlib.sha256(blob.encode("utf-8")).hexdigest()[:15]


_DEFAULT_MAPPING = ColumnMapping()


def _check_named_columns(rows: Sequence[Row], mapping: ColumnMapping, source: str) -> None:
    """A column the caller named (not left at its default) must exist in the data.

    Without this a typo in ``--expected-column``/``--id-column`` was silently ignored: items got hash
    keys and no expected values. Default names stay optional (a dataset need not have an ``id``).
    """
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row.data))
    for role in ("expected", "id", "split", "cluster", "metadata"):
        name = getattr(mapping, role)
        if name != getattr(_DEFAULT_MAPPING, role) and name not in columns:
            shown = ", ".join(repr(c) for c in list(columns)[:30]) + (", …" if len(columns) > 30 else "")
            raise InvalidInput(f"{source}: no column {name!r} (the {role} column); columns: {shown}")


def rows_to_items(
    rows: Sequence[Row], mapping: ColumnMapping, *, source: str = "dataset"
) -> list[DatasetItem]:
    """Dataset items from raw rows; a duplicate key or a malformed cell names the row."""
    _check_named_columns(rows, mapping, source)
    items: list[DatasetItem] = []
    seen: dict[str, int] = {}
    reserved = mapping.reserved()
    for row in rows:
        where = f"{source}: row {row.number}" + (f" (line {row.line})" if row.line else "")
        data = row.data
        nested = data.get("input")
        metadata_cell = _maybe_json(data.get(mapping.metadata))
        metadata: dict[str, Any] = {}
        if isinstance(metadata_cell, dict):
            metadata.update(metadata_cell)
        elif _blank(metadata_cell) is not None:
            raise InvalidInput(
                f"{where}: column {mapping.metadata!r} must be an object, got {metadata_cell!r}"
            )
        if isinstance(nested, dict) and "input" not in (mapping.input or ()):
            input_vars = dict(nested)
            extra = {k: v for k, v in data.items() if k not in reserved and k != "input"}
            metadata.update(extra)
        elif mapping.input is not None:
            missing = [c for c in mapping.input if c not in data]
            if missing:
                raise InvalidInput(f"{where}: input column {missing[0]!r} is missing")
            input_vars = {c: data[c] for c in mapping.input}
            metadata.update({k: v for k, v in data.items() if k not in reserved and k not in mapping.input})
        else:
            input_vars = {k: v for k, v in data.items() if k not in reserved}
        if not input_vars:
            raise InvalidInput(f"{where}: no input columns (every column is {sorted(reserved & set(data))})")
        bad = [k for k in input_vars if not isinstance(k, str) or not k]
        if bad:
            raise InvalidInput(f"{where}: input variable names must be non-empty text, got {bad[0]!r}")
        expected = _maybe_json(_blank(data.get(mapping.expected)))
        split = _blank(data.get(mapping.split))
        cluster = _blank(data.get(mapping.cluster))
        raw_id = _blank(data.get(mapping.id))
        key = str(raw_id) if raw_id is not None else content_key(input_vars, expected)
        if len(key) > 200:
            raise InvalidInput(f"{where}: id is longer than 200 characters")
        if key in seen:
            what = f"id {key!r}" if raw_id is not None else "input and expected value"
            hint = "" if raw_id is not None else f"; add an {mapping.id!r} column to keep both"
            raise InvalidInput(f"{where}: same {what} as row {seen[key]}{hint}")
        seen[key] = row.number
        items.append(
            DatasetItem(
                key=key,
                input=input_vars,
                expected=expected,
                metadata=metadata,
                split=str(split) if split is not None else None,
                cluster=str(cluster) if cluster is not None else None,
            )
        )
    return items


def item_record(item: DatasetItem, *, flat: bool = True) -> dict[str, Any]:
    """A row for export. Flat: input variables as columns (re-importable with the default mapping),
    unless a variable's name clashes with a reserved column, then nested under ``input``."""
    record: dict[str, Any] = {"id": item.key}
    reserved = {"id", "expected", "split", "cluster", "metadata", "input"}
    if flat and not (set(item.input) & reserved):
        record.update(item.input)
    else:
        record["input"] = item.input
    record["expected"] = item.expected
    if item.split is not None:
        record["split"] = item.split
    if item.cluster is not None:
        record["cluster"] = item.cluster
    if item.metadata:
        record["metadata"] = item.metadata
    return record


def write_items(
    items: Sequence[DatasetItem],
    path: str | Path,
    fmt: str | None = None,
    *,
    transform: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None,
) -> Path:
    """Write items as JSONL, JSON, CSV/TSV or Parquet (by suffix); returns the path written.

    ``transform`` rewrites the records before anything is written (e.g. ``loopstack.safety``'s PII
    masking for ``dataset export --mask-pii``).
    """
    p = Path(path)
    kind = detect_format(p, fmt)
    records = [item_record(i) for i in items]
    if transform is not None:
        records = transform(records)
    columns: list[str] = []
    for r in records:
        columns.extend(k for k in r if k not in columns)
    p.parent.mkdir(parents=True, exist_ok=True)
    if kind == "jsonl":
        with p.open("w", encoding="utf-8") as fh:
            for r in records:
                fh.write(json.dumps(r, ensure_ascii=False, default=json_default) + "\n")
    elif kind == "json":
        p.write_text(
            json.dumps(records, ensure_ascii=False, indent=2, default=json_default) + "\n", encoding="utf-8"
        )
    elif kind in ("csv", "tsv"):
        with p.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, delimiter="\t" if kind == "tsv" else ",")
            writer.writerow(columns)
            for r in records:
                writer.writerow([_cell(r.get(c)) for c in columns])
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        # Nested values are stored as JSON text: Parquet needs one type per column, rows may differ.
        arrays = {}
        for c in columns:
            values = [_parquet_cell(r.get(c)) for r in records]
            try:
                arrays[c] = pa.array(values)
            except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types in one column: store as text
                arrays[c] = pa.array([None if v is None else _cell(v) for v in values], type=pa.string())
        pq.write_table(pa.table(arrays), p)
    return p


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=json_default)
    return str(value)


def _parquet_cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=json_default)
    return value
