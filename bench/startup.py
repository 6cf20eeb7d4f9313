"""Start-up cost of the CLI and the package: wall time of fresh processes, median of several runs.

Times ``python -c pass`` (the interpreter's own floor), ``loopstack --version``, ``loopstack --help``,
``import loopstack.store``, ``import loopstack`` and a 1-item ``loopstack eval`` against the scripted
``mock/`` provider (on a store already at the current schema). Each case also runs once under a probe
that lists the modules it loaded, and the modules it must not load are reported.

    .venv/bin/python bench/startup.py [--runs 7]

Targets: ``--version`` and ``--help`` under 0.15 s; the 1-item eval under 0.8 s. On a loaded machine
compare each figure with the ``python -c pass`` floor printed in the same run (the ``x floor`` column).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LIGHT_FORBIDDEN = ("opentelemetry.sdk", "loopstack.evals.scorers", "alembic", "torch")
EVAL_FORBIDDEN = ("alembic", "torch", "numpy", "sqlalchemy.dialects.postgresql")  # a pass/fail eval on SQLite
VERSION_TARGET = 0.15
EVAL_TARGET = 0.8

SUITE = """\
name: startup
dataset: one.jsonl
prompts:
  - name: echo
    messages: [{role: user, content: '{{ text }}'}]
models: [mock/echo]
scorers:
  - scorer: exact_match
    name: accuracy
"""

PROBE = """
import json, sys
try:
{code}
except SystemExit:
    pass
finally:
    sys.stdout.flush()
    sys.stderr.write("\\nMODULES " + json.dumps(sorted(sys.modules)) + "\\n")
"""


def cli_code(args: list[str]) -> str:
    return f"from loopstack.cli.main import main\nmain({args!r})"


def loopstack_command() -> list[str]:
    """The installed ``loopstack`` script next to this interpreter, or the same entry point via -c."""
    script = Path(sys.executable).with_name("loopstack")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from loopstack.cli.main import main; main()"]


def wall(cmd: list[str], env: dict[str, str], cwd: Path, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr.decode()[-2000:]}")
    return statistics.median(times)


def loaded(code: str, env: dict[str, str], cwd: Path) -> set[str]:
    body = "\n".join("    " + line for line in code.splitlines())
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(code=body)], env=env, cwd=cwd, capture_output=True, text=True
    )
    line = next((x for x in reversed(proc.stderr.splitlines()) if x.startswith("MODULES ")), None)
    if line is None:
        raise SystemExit(f"probe failed:\n{proc.stderr[-2000:]}")
    return set(json.loads(line.removeprefix("MODULES ")))


def offenders(modules: set[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted({f for f in forbidden for m in modules if m == f or m.startswith(f + ".")})


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="loopstack-startup-") as tmp:
        work = Path(tmp)
        (work / "one.jsonl").write_text('{"id": "a", "text": "good", "expected": "good"}\n')
        (work / "suite.yaml").write_text(SUITE)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPSTACK_")}
        env["LOOPSTACK_HOME"] = str(work / "home")
        ls = loopstack_command()
        eval_args = ["eval", "suite.yaml", "--no-progress"]
        # Migrate the store once, so the timed runs open a current schema as a user's second run does.
        wall([*ls, *eval_args], env, work, runs=1)

        cases = [
            ("floor", "python -c pass", [sys.executable, "-c", "pass"], "pass", ()),
            ("version", "loopstack --version", [*ls, "--version"], cli_code(["--version"]), LIGHT_FORBIDDEN),
            ("help", "loopstack --help", [*ls, "--help"], cli_code(["--help"]), LIGHT_FORBIDDEN),
            (
                "import_store",
                "import loopstack.store",
                [sys.executable, "-c", "import loopstack.store"],
                "import loopstack.store",
                LIGHT_FORBIDDEN,
            ),
            (
                "import_loopstack",
                "import loopstack",
                [sys.executable, "-c", "import loopstack"],
                "import loopstack",
                LIGHT_FORBIDDEN,
            ),
            ("eval1", "loopstack eval (1 item)", [*ls, *eval_args], cli_code(eval_args), EVAL_FORBIDDEN),
        ]
        figures: dict[str, float] = {}
        print(f"{'case':<26} {'median s':>9} {'x floor':>8} {'modules':>8}  not imported")
        for key, label, cmd, probe, forbidden in cases:
            figures[key] = wall(cmd, env, work, args.runs)
            modules = loaded(probe, env, work)
            bad = offenders(modules, forbidden)
            check = "FAIL: " + ", ".join(bad) if bad else "ok: " + ", ".join(forbidden) if forbidden else "-"
            ratio = figures[key] / figures["floor"]
            print(f"{label:<26} {figures[key]:>9.3f} {ratio:>8.1f} {len(modules):>8}  {check}")

    version_met = figures["version"] < VERSION_TARGET and figures["help"] < VERSION_TARGET
    eval_met = figures["eval1"] < EVAL_TARGET
    print(
        f"BENCH startup version_s={figures['version']:.3f} help_s={figures['help']:.3f} "
        f"import_store_s={figures['import_store']:.3f} import_loopstack_s={figures['import_loopstack']:.3f} "
        f"floor_s={figures['floor']:.3f} target={VERSION_TARGET} met={'yes' if version_met else 'no'}"
    )
    met = "yes" if eval_met else "no"
    print(f"BENCH startup eval1_s={figures['eval1']:.3f} target={EVAL_TARGET} met={met}")


if __name__ == "__main__":
    main()
