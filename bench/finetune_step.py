"""Seconds per fine-tuning step of the demo's student on this CPU, with and without kept freed memory.

Trains LoRA r=16 on SmolLM2-135M (the bundled base) with the flywheel demo's settings (the default batch
size, float32, the student's system prompt) on the quickstart's gold-labelled train reviews, for ``--steps``
steps, twice, each in a fresh process: once with glibc's default allocator thresholds and once with
``keep_freed_memory()`` (what ``loopstack finetune`` does), and prints the seconds per step of both,
their ratio, and the fine-tune time the demo's steps project to (3 epochs of 144 examples at the default
batch size).

    .venv/bin/python bench/finetune_step.py [--steps 6]

Target: the demo's fine-tune within 6 minutes (its steps x seconds per step, 360 s).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile

DEMO_EXAMPLES, DEMO_EPOCHS = 144, 3
TARGET_S = 360.0

CHILD = r"""
import json, sys, tempfile, time
from importlib import resources
from pathlib import Path

from loopstack.flywheel import _finetune_train as T
from loopstack.flywheel._demo import FIELDS, STUDENT_SYSTEM_PROMPT
from loopstack.flywheel._finetune import resolve_base

steps, keep = int(sys.argv[1]), sys.argv[2] == "keep"
if not keep:
    T.keep_freed_memory = lambda: False  # glibc's defaults, as before the fix
text = resources.files("loopstack.quickstart").joinpath("reviews.jsonl").read_text(encoding="utf-8")
rows = [json.loads(line) for line in text.splitlines() if line.strip()]
train = [r for r in rows if r["split"] == "train"]
examples = [
    {
        "prompt": [
            {"role": "system", "content": STUDENT_SYSTEM_PROMPT},
            {"role": "user", "content": f"app: {r['app']}\nreview: {r['review']}"},
        ],
        "completion": [{"role": "assistant", "content": json.dumps({f: r[f] for f in FIELDS})}],
    }
    for r in train
]
settings = T.TrainSettings(max_steps=steps, save_steps=10_000)
with tempfile.TemporaryDirectory() as tmp:
    trainer, _ = T.build_trainer(
        resolve_base("local/smollm2-135m"), examples[:144], [], settings, Path(tmp) / "checkpoints"
    )
    start = time.perf_counter()
    trainer.train()
    print("RESULT", json.dumps({"s_per_step": (time.perf_counter() - start) / steps}))
"""


def run(steps: int, mode: str) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
        fh.write(CHILD)
    proc = subprocess.run(
        [sys.executable, fh.name, str(steps), mode], capture_output=True, text=True, check=False
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"the {mode} run failed:\n{proc.stderr[-3000:]}")
    return float(json.loads(lines[-1][7:])["s_per_step"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    args = parser.parse_args()
    default = run(args.steps, "default")
    kept = run(args.steps, "keep")
    from loopstack.flywheel._finetune_train import TrainSettings

    batch = TrainSettings().batch_size
    demo_steps = math.ceil(DEMO_EXAMPLES / batch) * DEMO_EPOCHS
    projected = demo_steps * kept
    print(f"seconds per step, glibc defaults:       {default:.2f}")
    print(f"seconds per step, kept freed memory:    {kept:.2f}  ({kept / default:.2f}x)")
    print(f"the demo's {demo_steps} steps (batch {batch}):    {projected:.0f} s (target {TARGET_S:.0f} s)")
    faster = "yes" if kept < default else "no"
    print(f"BENCH finetune_step kept_over_default={kept / default:.2f} target=<1.00 met={faster}")
    met = "yes" if projected <= TARGET_S else "no"
    print(f"BENCH finetune_step projected_demo_finetune_s={projected:.0f} target={TARGET_S:.0f} met={met}")


if __name__ == "__main__":
    main()
