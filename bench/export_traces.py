"""Streamed export of 1,000,000 spans to Parquet: the row count equals the database's, peak memory
stays flat, and the wall time. Target: peak RSS <= 500 MB.

The export runs in a child process (``loopstack traces export``'s library call) so its peak resident
set (``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``) is the export's alone; the same child also
reports its RSS right after importing loopstack, to show what the streaming itself adds.

    .venv/bin/python bench/export_traces.py [--db /tmp/loopstack-bench.db] [--spans 1000000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_MB = 500.0

_CHILD = """
import json, resource, sys, time
from pathlib import Path
from loopstack.store import Store
import loopstack.traces
store = Store(sys.argv[1])
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t = time.perf_counter()
n = loopstack.traces.export(Path(sys.argv[2]), "parquet", store=store)
print(json.dumps({"rows": n, "seconds": time.perf_counter() - t, "base_mb": base}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=Path("/tmp/loopstack-bench.db"))
    parser.add_argument("--spans", type=int, default=1_000_000)
    args = parser.parse_args()
    if not args.db.exists():
        sys.path.insert(0, str(Path(__file__).parent))
        from seed_spans import seed

        t = time.perf_counter()
        seed(args.db, args.spans)
        print(f"seeded {args.db} in {time.perf_counter() - t:.0f} s")
    import pyarrow.parquet as pq

    from loopstack.store import Store

    url = f"sqlite:///{args.db}"
    with Store(url).read() as conn:
        in_db = int(conn.exec_driver_sql("SELECT count(*) FROM spans").scalar() or 0)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "spans.parquet"
        t = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, url, str(out)], capture_output=True, text=True, check=False
        )
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            raise SystemExit(proc.stderr)
        got = json.loads(proc.stdout.strip().splitlines()[-1])
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        in_file = pq.ParquetFile(out).metadata.num_rows
        size_mb = out.stat().st_size / 1e6
    print(
        f"spans in the database: {in_db:,}; rows in the Parquet file: {in_file:,}; "
        f"export returned {got['rows']:,}"
    )
    print(
        f"export {got['seconds']:.1f} s ({in_db / max(got['seconds'], 1e-9):,.0f} rows/s), "
        f"child wall {wall:.1f} s, "
        f"file {size_mb:.0f} MB"
    )
    print(
        f"peak RSS {peak_mb:.0f} MB (after imports {got['base_mb']:.0f} MB: streaming adds "
        f"{peak_mb - got['base_mb']:.0f} MB, {peak_mb / TARGET_MB:.2f}x the target)"
    )
    met = "yes" if peak_mb <= TARGET_MB and in_file == in_db else "no"
    print(f"BENCH export_traces peak_rss_mb={peak_mb:.0f} target={TARGET_MB:.0f} met={met}")


if __name__ == "__main__":
    main()
