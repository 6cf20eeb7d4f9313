"""Teacher labelling throughput: 10,000 dataset items labelled through ``loopstack.flywheel.label_dataset``
against a local OpenAI-compatible stub (its own process on 127.0.0.1, 50 ms per call) at concurrency 50,
compared with the ideal 10,000 x 0.05 / 50 = 10 s; then the OpenAI Batch JSONL export → import round
trip on the same 10,000 items.

Checked, not assumed: every item has exactly one stored label, and the stub received exactly one call
per item (it logs each request's prompt before answering). The database is SQLite in a temp home;
labels are stored by the runner's group-commit writer (one transaction per batch of finished labels).

Run: .venv/bin/python bench/teacher_labelling.py [--items 10000] [--concurrency 50] [--latency 0.05]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STUB = ROOT / "tests" / "evals" / "openai_stub.py"
sys.path.insert(0, str(Path(__file__).parent))
from runner_throughput import bare_loop  # noqa: E402  (the same floor as the runner bench)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    n, conc, latency = args.items, args.concurrency, args.latency
    ideal = n * latency / conc

    home = Path(tempfile.mkdtemp(prefix="loopstack-bench-"))
    os.environ["LOOPSTACK_HOME"] = str(home)
    log = home / "calls.txt"
    stub = subprocess.Popen(
        [sys.executable, str(STUB), "--latency", str(latency), "--log", str(log)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert stub.stdout is not None
        base = f"http://127.0.0.1:{int(stub.stdout.readline().split()[1])}/v1"

        from loopstack.flywheel import export_batch, import_batch, label_dataset
        from loopstack.store import get_store
        from loopstack.store.datasets import DatasetItem, DatasetRepository
        from loopstack.store.teacher_labels import TeacherLabelRepository

        # Process start-up is outside the timed region, as in bench/runner_throughput.py: creating and
        # migrating the database and importing the HTTP client (about 0.8 s here), paid once per process.
        store = get_store()
        from loopstack.models import get_model

        get_model("openai-compatible/stub", base_url=base)
        bare = asyncio.run(bare_loop(f"{base}/chat/completions", min(n, 2000), conc, prefix="warm-up"))
        bare_ratio = bare / (min(n, 2000) * latency / conc)
        items = [DatasetItem(key=f"i{i:05d}", input={"review": f"review number {i}"}) for i in range(n)]
        DatasetRepository(store).push("bench", items)
        dataset_id = DatasetRepository(store).get("bench").id
        labels = TeacherLabelRepository(store, "default", dataset_id)

        teacher = "openai-compatible/stub"
        started = time.perf_counter()
        report = label_dataset(
            "bench",
            teacher=teacher,
            model_options={"base_url": base, "max_concurrency": conc},
            concurrency=conc,
            store=store,
        )
        wall = time.perf_counter() - started

        stored = labels.labels(teacher=teacher)
        keys = Counter(lb.item_key for lb in stored)
        calls = Counter(
            json.loads(line) for line in log.read_text().splitlines() if not line.startswith('"warm-up')
        )
        assert report.errors == 0, f"{report.errors} items errored: {report.error_samples}"
        assert len(stored) == n and len(keys) == n and max(keys.values()) == 1, (
            "a label is missing or doubled"
        )
        assert sum(calls.values()) == n and max(calls.values()) == 1, "an item was asked for twice"
        assert all(lb.output == f"review number {int(lb.item_key[1:])}" for lb in stored)

        # Batch round trip on the same items, for a second teacher (the first one's labels stay).
        batch_teacher = "openai/gpt-4o-mini"
        requests, results = home / "requests.jsonl", home / "results.jsonl"
        t0 = time.perf_counter()
        exported = export_batch("bench", requests, teacher=batch_teacher, store=store)
        t_export = time.perf_counter() - t0
        with requests.open() as src, results.open("w") as out:  # what the Batch API would send back
            for raw in src:
                req = json.loads(raw)
                text = req["body"]["messages"][-1]["content"]
                body = {
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}],
                    "usage": {"prompt_tokens": 5, "completion_tokens": 3},
                }
                line = {"custom_id": req["custom_id"], "response": {"status_code": 200, "body": body}}
                out.write(json.dumps(line) + "\n")
        t0 = time.perf_counter()
        imported = import_batch("bench", results, teacher=batch_teacher, store=store)
        t_import = time.perf_counter() - t0
        batch_labels = labels.labels(teacher=batch_teacher)
        assert exported.requests == n and imported.stored == n and not imported.errors
        assert len({lb.item_key for lb in batch_labels}) == n == len(batch_labels)
        # What grouping buys: 500 labels stored one transaction each vs all in one transaction.
        from loopstack.store.teacher_labels import TeacherLabel

        probe = [TeacherLabel(item_key=f"i{i:05d}", teacher="probe/one", output="x") for i in range(1000)]
        t0 = time.perf_counter()
        for lb in probe[:500]:
            labels.save([lb])
        per_item_ms = (time.perf_counter() - t0) / 500 * 1000
        t0 = time.perf_counter()
        labels.save(probe[500:])
        grouped_ms = (time.perf_counter() - t0) / 500 * 1000
    finally:
        stub.terminate()
        stub.wait(timeout=10)

    ratio = wall / ideal
    print(f"items={n} concurrency={conc} stub_latency={latency * 1000:.0f}ms (SQLite, group commit)")
    print(f"ideal (n x latency / concurrency): {ideal:.2f} s")
    print(f"bare aiohttp loop (floor, {min(n, 2000)} calls): {bare_ratio:.2f}x ideal")
    print(f"label_dataset:                     {wall:.2f} s  ({ratio:.2f}x ideal, {n / wall:,.0f} labels/s)")
    print(
        f"stored in {report.writes} transactions ({n / max(report.writes, 1):.0f} labels each, group "
        f"commit); one label alone costs {per_item_ms:.2f} ms to commit, {grouped_ms:.3f} ms in a group"
    )
    print(
        f"labels stored: {len(stored)} (each item once); stub calls: {sum(calls.values())} (each item once)"
    )
    print(
        f"Batch round trip: export {exported.requests} requests {t_export:.2f} s, "
        f"import {imported.stored} results {t_import:.2f} s ({imported.cost:.4f} USD at the Batch discount)"
    )
    met = "yes" if ratio <= 2.0 else "no"
    print(f"BENCH teacher_labelling ratio_to_ideal={ratio:.2f} target=2.0 met={met}")


if __name__ == "__main__":
    main()
