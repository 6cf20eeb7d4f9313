"""Judge calibration: κ and α that match the reference libraries, honest CIs, the human ceiling, the
badge in reports and the gate's warning, and a plain message when there are too few labels."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from loopstack.cli.main import cli
from loopstack.evals.gate import gate
from loopstack.evals.runner import evaluate
from loopstack.models import ModelRequest, forget_models, get_model
from loopstack.safety.agreement import agreement, cohen_kappa, krippendorff_alpha, position_bias
from loopstack.safety.calibration import calibrate_from_dataset, calibrate_from_scores, stored_calibration
from loopstack.store import get_store


@pytest.fixture(autouse=True)
def _fresh_models() -> Iterator[None]:
    forget_models()
    yield
    forget_models()


def _rated_items(n: int, seed: int = 3) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        q = int(rng.integers(1, 6))
        h1 = int(np.clip(q + rng.choice([-1, 0, 0, 0, 1]), 1, 5))
        h2 = int(np.clip(q + rng.choice([-1, 0, 0, 0, 1]), 1, 5))
        rows.append({"id": f"t{i:02d}", "text": f"answer {i} quality={q}", "human1": h1, "human2": h2})
    return rows


def _judged_run(tmp_path: Path, rows: list[dict[str, Any]], *, noise: int) -> tuple[Path, Any]:
    data = tmp_path / "rated.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    get_model("mock/app", fn=lambda r: r.messages[-1].content)
    rng = np.random.default_rng(11)

    def judge(request: ModelRequest) -> str:
        q = int(re.search(r"quality=(\d)", request.messages[-1].content).group(1))  # type: ignore[union-attr]
        off = int(rng.integers(-noise, noise + 1)) if noise else 0
        return json.dumps({"reasoning": "looks fine", "score": int(np.clip(q + off, 1, 5))})

    get_model("mock/judge", fn=judge)
    suite = {
        "dataset": str(data),
        "prompts": [{"messages": [{"role": "user", "content": "{{ text }}"}]}],
        "models": ["mock/app"],
        "scorers": [{"scorer": "rubric_judge", "name": "quality", "params": {"model": "mock/judge"}}],
    }
    return data, evaluate(suite)


def test_dataset_calibration_matches_krippendorff_and_sklearn(tmp_path: Path) -> None:
    import krippendorff
    from sklearn.metrics import cohen_kappa_score

    rows = _rated_items(60)
    data, _ = _judged_run(tmp_path, rows, noise=0)
    cal = calibrate_from_dataset(
        "quality", str(data), "human1", human2_column="human2", store=get_store(), project="default"
    )
    ag = cal.agreement
    judge = [int(re.search(r"quality=(\d)", r["text"]).group(1)) for r in rows]  # type: ignore[union-attr]
    h1 = [r["human1"] for r in rows]
    h2 = [r["human2"] for r in rows]
    assert ag.n == 60 and ag.level == "ordinal" and ag.kappa_weights == "quadratic"
    assert ag.kappa is not None and ag.alpha is not None and ag.human_alpha is not None
    assert ag.kappa.value == pytest.approx(cohen_kappa_score(judge, h1, weights="quadratic"))
    ref = krippendorff.alpha(reliability_data=[judge, h1], level_of_measurement="ordinal")
    assert ag.alpha.value == pytest.approx(ref)
    ceiling = krippendorff.alpha(reliability_data=[h1, h2], level_of_measurement="ordinal")
    assert ag.human_alpha.value == pytest.approx(ceiling)
    assert ag.alpha.ci_low is not None and ag.alpha.ci_low < ag.alpha.value < ag.alpha.ci_high  # type: ignore[operator]
    assert ag.spearman is not None and ag.spearman.value is not None and ag.spearman.value > 0.8
    assert cal.badge == "reliable"


def test_alpha_with_missing_labels_and_three_raters_matches_the_package() -> None:
    import krippendorff

    rng = np.random.default_rng(5)
    truth = rng.integers(0, 3, 80)
    raters = np.array(
        [np.where(rng.random(80) < 0.8, truth, rng.integers(0, 3, 80)) for _ in range(3)], float
    )
    raters[0, :7] = np.nan
    raters[2, 30:41] = np.nan
    for level in ("nominal", "ordinal", "interval"):
        ours = krippendorff_alpha(raters, level=level)  # type: ignore[arg-type]
        assert ours.value == pytest.approx(
            krippendorff.alpha(reliability_data=raters, level_of_measurement=level)
        )
    for weights in (None, "linear", "quadratic"):
        from sklearn.metrics import cohen_kappa_score

        k = cohen_kappa(raters[1], raters[2], weights=weights)  # type: ignore[arg-type]
        both = ~np.isnan(raters[1]) & ~np.isnan(raters[2])
        assert k.n == int(both.sum())
        assert k.value == pytest.approx(cohen_kappa_score(raters[1][both], raters[2][both], weights=weights))


def test_bootstrap_intervals_cover_the_true_kappa_and_alpha() -> None:
    """Seeded simulation: two raters drawn from a known joint distribution (true κ = α = 0.684),
    400 trials of 50 items, 500 resamples each: the BCa intervals cover in 92-98% of trials (with
    1,000 trials of 30 and of 120 items: 0.950 / 0.952 and 0.945 / 0.949, docs/safety.md)."""
    n = 50
    joint = np.array([[0.30, 0.05, 0.02], [0.04, 0.25, 0.04], [0.01, 0.05, 0.24]])
    po, rows, cols = np.trace(joint), joint.sum(1), joint.sum(0)
    pe = float(rows @ cols)
    true_kappa = (po - pe) / (1 - pe)
    marg = (rows + cols) / 2  # Krippendorff's nominal alpha in the population (n -> infinity)
    true_alpha = 1 - (1 - po) / (1 - float(marg @ marg))
    rng = np.random.default_rng(2074)
    trials, hits_k, hits_a = 400, 0, 0
    for t in range(trials):
        cells = rng.choice(9, size=n, p=joint.ravel())
        a, b = (cells // 3).astype(float), (cells % 3).astype(float)
        k = cohen_kappa(a, b, n_resamples=500, seed=t)
        al = krippendorff_alpha(np.vstack([a, b]), n_resamples=500, seed=t)
        hits_k += k.ci_low <= true_kappa <= k.ci_high  # type: ignore[operator]
        hits_a += al.ci_low <= true_alpha <= al.ci_high  # type: ignore[operator]
    assert 0.92 <= hits_k / trials <= 0.98, hits_k / trials
    assert 0.92 <= hits_a / trials <= 0.98, hits_a / trials


def test_fewer_than_ten_labels_gives_no_kappa(tmp_path: Path) -> None:
    data, _ = _judged_run(tmp_path, _rated_items(7), noise=0)
    cal = calibrate_from_dataset("quality", str(data), "human1", store=get_store(), project="default")
    assert not cal.agreement.enough and cal.agreement.kappa is None and cal.agreement.alpha is None
    assert "only 7 item(s)" in (cal.agreement.message or "")
    assert cal.badge == "not trusted"
    result = CliRunner().invoke(
        cli, ["judge", "calibrate", "quality", "--dataset", str(data), "--human-column", "human1"]
    )
    assert result.exit_code == 0, result.output
    assert "at least 10" in result.output and "κ" not in result.output


def test_cli_prints_the_table_and_an_untrusted_judge_warns_in_the_gate(tmp_path: Path) -> None:
    rows = _rated_items(40)
    data, _ = _judged_run(tmp_path, rows, noise=3)  # a judge close to random
    result = CliRunner().invoke(
        cli,
        [
            "judge",
            "calibrate",
            "quality",
            "--dataset",
            str(data),
            "--human-column",
            "human1",
            "--human2-column",
            "human2",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "human–human α (ceiling)" in result.output and "Cohen's κ (quadratic)" in result.output
    assert "badge: not trusted" in result.output
    stored = stored_calibration(get_store(), "default", "quality")
    assert stored is not None and stored["badge"] == "not trusted" and stored["agreement"]["n"] == 40
    suite = {
        "dataset": str(data),
        "prompts": [{"messages": [{"role": "user", "content": "{{ text }}"}]}],
        "models": ["mock/app"],
        "scorers": [
            {"scorer": "rubric_judge", "name": "quality", "params": {"model": "mock/judge"}, "threshold": 0.1}
        ],
    }
    again = evaluate(suite)
    assert again.judge_calibrations["quality"]["badge"] == "not trusted"
    notes = gate(again).notes
    assert any("untrusted judge quality" in n for n in notes), notes
    from loopstack.evals.report import html_report

    html = html_report(again, {})
    assert '<p class="warn">judge quality: not trusted (α' in html


def _cli_error(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``loopstack ARGS`` as a user would; it must exit 1 with one line on stderr, no traceback."""
    from loopstack.cli.main import main

    with pytest.raises(SystemExit) as exit_info:
        main(args)
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    return err


def test_bad_label_column_and_unknown_judge_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, _ = _judged_run(tmp_path, _rated_items(12), noise=0)
    base = ["judge", "calibrate", "quality", "--dataset", str(data)]
    assert "has no column 'nope'" in _cli_error([*base, "--human-column", "nope"], capsys)
    assert "no stored run" in _cli_error(
        ["judge", "calibrate", "nothing", "--dataset", str(data), "--human-column", "human1"], capsys
    )
    assert "needs --human-column" in _cli_error(base, capsys)


def test_stored_human_scores_from_two_reviewers(tmp_path: Path) -> None:
    """Annotation-queue verdicts (accept/reject, one rater per reviewer) against the judge's pass/fail."""
    from loopstack.store.annotations import AnnotationQueueRepository
    from loopstack.store.runs import RunRepository

    rows = _rated_items(30)
    data = tmp_path / "rated.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    get_model("mock/app", fn=lambda r: r.messages[-1].content)
    get_model(
        "mock/judge",
        fn=lambda r: json.dumps({"score": int(re.search(r"quality=(\d)", r.messages[-1].content).group(1))}),
    )  # type: ignore[union-attr]
    suite = {
        "dataset": str(data),
        "prompts": [{"messages": [{"role": "user", "content": "{{ text }}"}]}],
        "models": ["mock/app"],
        "scorers": [
            {"scorer": "rubric_judge", "name": "quality", "params": {"model": "mock/judge"}, "threshold": 0.5}
        ],
    }
    result = evaluate(suite)
    store = get_store()
    items = RunRepository(store).items(result.runs[0].run.id)
    queue = AnnotationQueueRepository(store)
    by_key = {r["id"]: r for r in rows}
    for reviewer, column in (("ana", "human1"), ("ben", "human2")):
        for it in items:
            queue.add_one("run_item", it.id, queue=reviewer)
        while (claimed := queue.claim_next(reviewer, reviewer)) is not None:
            key = next(i.item_key for i in items if i.id == claimed.target_id)
            queue.judge(claimed.id, reviewer, "accept" if by_key[key][column] >= 3 else "reject")
    cal = calibrate_from_scores("quality", human_score="review", store=store, project="default")
    assert sorted(cal.raters) == ["ana", "ben"]
    ag = cal.agreement
    assert ag.n == 30 and ag.level == "nominal" and ag.human_alpha is not None and ag.accuracy is not None
    assert ag.confusion is not None and sum(map(sum, ag.confusion)) == 30


def test_position_bias_is_the_share_of_flipped_pairs() -> None:
    pb = position_bias([True] * 15 + [False] * 5)
    assert pb.value == 0.25 and pb.n == 20
    assert pb.ci_low is not None and pb.ci_low < 0.25 < pb.ci_high  # type: ignore[operator]
    nominal = agreement([0, 1, 1, 0] * 5, [[0, 1, 0, 0] * 5], level="nominal", labels=["no", "yes"])
    assert nominal.accuracy is not None and nominal.accuracy.value == 0.75
    assert nominal.confusion == [[10, 5], [0, 5]]


def test_an_alert_rule_on_an_untrusted_judge_warns(tmp_path: Path) -> None:
    data, _ = _judged_run(tmp_path, _rated_items(40), noise=3)
    store = get_store()
    cal = calibrate_from_dataset("quality", str(data), "human1", store=store, project="default")
    from loopstack.safety.calibration import save_calibration

    save_calibration(store, "default", cal)
    args = [
        "alerts",
        "add",
        "low-quality",
        "--metric",
        "mean_score",
        "--score-name",
        "quality",
        "--fire",
        "0.5",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "Warning: this rule relies on an untrusted judge quality: not trusted (α" in result.output
