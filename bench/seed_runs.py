"""Seed eval runs for the runs-table benchmarks: 996 runs of 100 items and 4 runs of 200 items (the
matrix), ~100,000 run items with an ``accuracy`` score each, over 4 models and 5 prompt versions,
then the runs' metrics (the runs table's first read would compute them; here it is timed).

    .venv/bin/python bench/seed_runs.py [--db /tmp/loopstack-bench.db]
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

from loopstack.store import Store
from loopstack.store.runs import ItemResult, RunRepository, ScoreRow

MODELS = ["openai/gpt-4o-mini", "openai/gpt-4o", "anthropic/claude-3-5-haiku", "local/smollm2-135m"]
LABELS = ["bug", "praise", "question", "complaint"]


def seed_runs(store: Store, project: str = "default", n_runs: int = 1000, seed: int = 7) -> list[str]:
    """Seed the runs; the ids of the four 200-item runs (the matrix's)."""
    rng = random.Random(seed)
    repo = RunRepository(store, project)
    matrix: list[str] = []
    for i in range(n_runs):
        big = i >= n_runs - 4
        n_items = 200 if big else 100
        skill = rng.uniform(0.4, 0.95)
        run = repo.create_run(
            config={
                "params": {"temperature": 0},
                "suite": {"scorers": [{"scorer": "exact_match", "name": "accuracy"}]},
            },
            name=f"bench run {i}",
            suite="bench",
            group_id=f"g{i // 4}",
            prompt_name="triage",
            prompt_version=1 + i % 5,
            model=MODELS[i % len(MODELS)],
            git_sha=f"{i:040x}",
        )
        batch = []
        for k in range(n_items):
            expected = LABELS[k % 4]
            out = expected if rng.random() < skill else LABELS[(k + 1) % 4]
            batch.append(
                (
                    run.id,
                    ItemResult(
                        item_key=f"item-{k:04d}",
                        epoch=0,
                        input={"review": f"review {k}"},
                        expected=expected,
                        output=out,
                        latency_ms=rng.uniform(100, 900),
                        input_tokens=40,
                        output_tokens=3,
                        cost=0.0001,
                        scores=[ScoreRow(name="accuracy", value=1.0 if out == expected else 0.0)],
                    ),
                )
            )
        repo.save_batch(batch, replace=False)
        repo.set_status(run.id, "completed")
        if big:
            matrix.append(run.id)
    return matrix


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=Path("/tmp/loopstack-bench.db"))
    args = parser.parse_args()
    store = Store(f"sqlite:///{args.db}")
    t = time.perf_counter()
    seed_runs(store)
    print(f"seeded 1,000 runs in {time.perf_counter() - t:.0f} s")


if __name__ == "__main__":
    main()
