"""Judge calibration on real reviews: the local SmolLM2 as a rubric judge against two raters.

The items are the quickstart's 48 test-split reviews. "Human" rater 1 is the gold sentiment mapped to a
1-5 positivity scale (negative 1, neutral 3, positive 5); rater 2 is rater 1 with 15% of the labels
moved one step at random (seeded): a simulated second annotator, so the human-human ceiling is known to
be high but not perfect. The judge is ``rubric_judge`` on ``local/smollm2-135m`` asked how positive each
review is (1-5). The run is an ordinary stored eval run; ``calibrate_from_dataset`` computes quadratic
κ, ordinal α (judge-human, all raters, human-human), Spearman, each with a seeded bootstrap CI, and the
badge. Target: the judge reaches "tentative" (α ≥ 0.667); a 135M model is not expected to.

Run: PYTHONPATH=src .venv/bin/python bench/judge_calibration.py
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from importlib import resources
from pathlib import Path

import numpy as np

SCALE = {"negative": 1, "neutral": 3, "positive": 5}
RUBRIC = "How positive is the review? 1 = very negative, 3 = neutral or a plain question, 5 = very positive."


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="judge-cal-"))
    os.environ["LOOPSTACK_HOME"] = str(home)
    from loopstack.evals.runner import evaluate
    from loopstack.models import get_model
    from loopstack.safety.calibration import calibrate_from_dataset
    from loopstack.store import get_store

    rows = [
        json.loads(line)
        for line in resources.files("loopstack.quickstart").joinpath("reviews.jsonl").read_text().splitlines()
        if line.strip()
    ]
    test = [r for r in rows if r.get("split") == "test"]
    rng = np.random.default_rng(7)
    items = []
    for r in test:
        h1 = SCALE[r["sentiment"]]
        h2 = int(np.clip(h1 + rng.choice([-1, 1]), 1, 5)) if rng.random() < 0.15 else h1
        items.append({"id": r["id"], "review": r["review"], "human1": h1, "human2": h2})
    data = home / "rated.jsonl"
    data.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    get_model("mock/echo", fn=lambda req: req.messages[-1].content)  # the "app" shows the review as is
    suite = {
        "dataset": str(data),
        "prompts": [{"messages": [{"role": "user", "content": "{{ review }}"}]}],
        "models": ["mock/echo"],
        "scorers": [
            {
                "scorer": "rubric_judge",
                "name": "positivity",
                "params": {"model": "local/smollm2-135m", "rubric": RUBRIC},
            }
        ],
        "concurrency": 60,
    }
    started = time.perf_counter()
    result = evaluate(suite)
    seconds = time.perf_counter() - started
    errored = result.runs[0].scores["positivity"].errors
    cal = calibrate_from_dataset(
        "positivity", str(data), "human1", human2_column="human2", store=get_store(), project="default"
    )
    ag = cal.agreement

    def show(label: str, iv: object) -> None:
        if iv is None or iv.value is None:  # type: ignore[attr-defined]
            print(f"{label:<34} n/a")
            return
        print(f"{label:<34} {iv.value:6.3f}  95% CI [{iv.ci_low:.3f}, {iv.ci_high:.3f}]  n={iv.n}")  # type: ignore[attr-defined]

    print(f"judge run: {len(items)} items in {seconds:.0f} s, {errored} judge answers unparseable")
    show("Cohen's kappa (quadratic)", ag.kappa)
    show("Krippendorff alpha judge-human", ag.alpha)
    show("Krippendorff alpha all raters", ag.alpha_all)
    show("human-human alpha (ceiling)", ag.human_alpha)
    show("Spearman rho", ag.spearman)
    print(f"badge: {cal.badge}")
    alpha = ag.alpha.value if ag.alpha and ag.alpha.value is not None else float("nan")
    print(f"BENCH judge_calibration alpha={alpha:.3f} target=0.667 met={'yes' if alpha >= 0.667 else 'no'}")


if __name__ == "__main__":
    main()
