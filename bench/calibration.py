"""Calibration of the printed statistics: coverage, false-positive rate and power per cell.

    PYTHONPATH=src python bench/calibration.py [--reps 2000]

The full grid of issue 11: every scenario of ``loopstack.evals.stats.simulate`` (pass/fail at
p = 0.05 and 0.5, exponential, beta(0.1, 2), 3-point scores with ties, sparse skewed differences, and
clustered 20x5, 10x10, 5x20 with ICC 0.3) x N in {5, 10, 30, 48, 100, 500} x true difference in
{0, MDE}. Columns: ``cov`` the candidate's interval covers its true mean; ``dcov`` the paired interval
covers the true difference; ``fpr`` better/worse at a true difference of 0; ``power`` better at the
printed MDE; ``no-verdict`` the share where the report says it cannot back a verdict (or "too few
items"). The last line: ``BENCH calibration worst_coverage=... worst_fpr=... met=yes|no``, where
"met" checks coverage in [93.5%, 97.5%] (N >= 30; the paired interval where the report backs a
verdict), fpr <= 5.5% (N >= 30; N >= 10 for A/A scenarios)
and power within [75%, 90%] where a verdict is given in at least 90% of runs, and the gate's
family-wise false-alarm rate <= 5% with 1 and 3 scorers. Pass/fail cells are enumerated exactly
(binomial/multinomial), the others simulated (2,000 runs: +-1 percentage point at 95%).
Known exception, printed as such: at a true difference of 0 the paired interval of rare pass/fail
scores (p = 0.05) is conservative at N = 30 and 48 (about 3 and 5 discordant pairs: no valid test
can reach 2.5% false alarms there, see docs/statistics.md); it is marked "(conservative)". The
pass/fail MDE is the exact power of the printed interval at the scenario's latent agreement; the
continuous MDE is the resampled power of the printed test (``loopstack.evals.stats._power``), so
``power`` there checks it against independent draws.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

from loopstack.evals.stats.simulate import binary_exact, gate_alarm_rate, mde, run_cell, scenarios

NS = (5, 10, 30, 48, 100, 500)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=2000)
    reps = ap.parse_args().reps
    started = time.perf_counter()
    worst_cov, worst_fpr, met, misses = 1.0, 0.0, True, []
    head = f"{'scenario':16} {'N':>4} {'cov':>6} {'dcov':>6} {'fpr':>6} {'no-verdict':>10} | "
    head += f"{'MDE':>7} {'power':>6}"
    print(head)
    print("-" * len(head))
    for name, s in scenarios().items():
        for n in NS if s.clusters is None else (0,):
            null = run_cell(s, n, 0.0, reps, seed=n + 1)
            n = null.n
            effect = mde(s, n)
            alt = run_cell(s, n, effect, reps, seed=n + 2)
            if s.kind == "binary":  # pass/fail cells are enumerated exactly: no simulation noise
                cov, dcov, fpr = binary_exact(s.mean, n, 0.0)
                null = replace(null, coverage=cov, diff_coverage=dcov, verdicts=fpr)
                alt = replace(alt, verdicts=binary_exact(s.mean, n, effect)[2])
            rare = name == "binary p=0.05"
            flags = []
            if n >= 30:
                worst_cov = min(worst_cov, null.coverage)
                if not 0.935 <= null.coverage <= 0.975:
                    flags.append("cov")
                backed = null.withheld < 0.1  # where the report withholds the verdict it says so
                if (
                    backed
                    and not 0.935 <= null.diff_coverage <= 0.975
                    and not (rare and null.diff_coverage > 0.975)
                ):
                    flags.append("dcov")
            if n >= 30 or (n >= 10 and s.exchangeable):
                worst_fpr = max(worst_fpr, null.verdicts)
                if null.verdicts > 0.055:
                    flags.append("fpr")
            if n >= 30 and alt.withheld < 0.1 and not 0.75 <= alt.verdicts <= 0.90:
                flags.append("power")
            if rare and null.diff_coverage > 0.975 and n >= 30:
                flags.append("(conservative)")
            real = [f for f in flags if not f.startswith("(")]
            if real:
                met = False
                misses.append(f"{name} N={n}: {','.join(real)}")
            # an MDE past the end of the pass/fail scale cannot be simulated
            power = "   n/a" if alt.verdicts != alt.verdicts else f"{alt.verdicts:6.1%}"
            note = "too few items" if null.withheld == 1.0 and n < 10 and s.kind != "binary" else ""
            print(
                f"{name:16} {n:>4} {null.coverage:6.1%} {null.diff_coverage:6.1%} {null.verdicts:6.1%} "
                f"{null.withheld:10.0%} | {effect:7.3f} {power}  {note} {' '.join(flags)}"
            )
    print()
    for name in ("binary p=0.5", "exponential", "clustered 10x10"):
        s = scenarios()[name]
        for k in (1, 3):
            rate = gate_alarm_rate(s, 100, k, reps, seed=40 + k)
            print(f"gate false alarms, {name}, N=100, {k} scorer(s), Holm: {rate:.2%}")
            if rate > 0.05:
                met = False
                misses.append(f"gate {name} {k}")
    for line in misses:
        print("miss:", line)
    print(f"({time.perf_counter() - started:.1f} s, {reps} replications per cell)")
    print(
        f"BENCH calibration worst_coverage={worst_cov:.4f} worst_fpr={worst_fpr:.4f} "
        f"met={'yes' if met else 'no'}"
    )


if __name__ == "__main__":
    main()
