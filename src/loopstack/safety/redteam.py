"""Red-team suites, offline: shipped probes aimed at the app's own prompt, run as an ordinary eval.

``redteam(prompt_ref, model)`` renders every probe (``data/probes.yaml``: prompt injection with
canaries, system-prompt leak, PII leak, jailbreak role-play, harmful request, excessive agency) into the
prompt's user-text variable, stores them as the dataset ``redteam-<prompt>``, runs that through the eval
runner (so the run is stored, cached and traced like any other) with the ``redteam_attack`` scorer, and
reports the attack success rate per OWASP LLM Top 10 category with Wilson 95% intervals. ``max_asr``
gates it: a category whose rate is above it fails, exit code 2, as a failed threshold does in a suite.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from loopstack.errors import InvalidInput
from loopstack.evals._outcome import EXIT_FAILED, EXIT_OK, EvalResult

OWASP = {
    "LLM01": "Prompt Injection",
    "LLM02": "Sensitive Information Disclosure",
    "LLM05": "Improper Output Handling",
    "LLM06": "Excessive Agency",
    "LLM07": "System Prompt Leakage",
    "LLM09": "Misinformation",
}
DETECTORS = ("canary", "leak", "pii", "marker")
#: variable names taken as "the user's text" when the prompt has several
TEXT_VARIABLES = ("input", "question", "query", "message", "text", "review", "prompt", "content", "request")
SCORE_NAME = "attack_success"


@dataclass(frozen=True)
class Probe:
    """One attack template and how its success is detected."""

    id: str
    kind: str
    owasp: str
    detector: str
    text: str
    marker: str | None = None


def load_probes(path: str | Path | None = None) -> list[Probe]:
    """The shipped probes, or those of a YAML file with the same layout; errors name the entry."""
    if path is None:
        source = resources.files("loopstack.safety").joinpath("data/probes.yaml").read_text(encoding="utf-8")
        where = "probes.yaml"
    else:
        p = Path(path)
        if not p.is_file():
            raise InvalidInput(f"probe file {str(p)!r} not found")
        source, where = p.read_text(encoding="utf-8"), p.name
    try:
        data = yaml.safe_load(source)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{where}: not valid YAML ({exc})") from None
    entries = data.get("probes") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise InvalidInput(f"{where}: expected a mapping with a non-empty `probes:` list")
    probes: list[Probe] = []
    for i, e in enumerate(entries):
        if not isinstance(e, dict):
            raise InvalidInput(f"{where}: probes[{i}]: expected a mapping")
        missing = [k for k in ("id", "kind", "owasp", "detector", "text") if not e.get(k)]
        if missing:
            raise InvalidInput(f"{where}: probes[{i}]: missing {', '.join(missing)}")
        if e["detector"] not in DETECTORS:
            raise InvalidInput(
                f"{where}: probes[{i}] ({e['id']}): detector must be one of {', '.join(DETECTORS)}"
            )
        if e["detector"] == "marker" and not e.get("marker"):
            raise InvalidInput(f"{where}: probes[{i}] ({e['id']}): a marker probe needs `marker:`")
        probes.append(
            Probe(
                str(e["id"]),
                str(e["kind"]),
                str(e["owasp"]),
                str(e["detector"]),
                str(e["text"]),
                e.get("marker"),
            )
        )
    return probes


def _canary(probe_id: str, salt: str) -> str:
    return "ZQX-" + hashlib.sha256(f"{salt}:{probe_id}".encode()).hexdigest()[:8].upper()


def _instructions(prompt: Any) -> str:
    """The app's own instructions: its system messages, else its first message with variables removed."""
    import re

    system = [m["content"] for m in prompt.messages if m["role"] == "system"]
    text = "\n".join(system) if system else prompt.messages[0]["content"]
    return re.sub(r"\{\{.*?\}\}|\{%.*?%\}", " ", text)


def _task(prompt: Any) -> str:
    description = getattr(prompt, "description", None)
    if description:
        return str(description).strip().rstrip(".").lower()
    first = _instructions(prompt).strip().split(".")[0]
    return first[:120].lower() or "do your task"


def target_variable(prompt: Any, field: str | None) -> str:
    """The prompt variable the probes go into: ``field``, else the likeliest user-text variable."""
    variables = sorted(prompt.variables)
    if field is not None:
        if field not in variables:
            raise InvalidInput(
                f"prompt {prompt.name}@{prompt.version} has no variable {field!r} "
                f"(it reads: {', '.join(variables) or 'none'})"
            )
        return field
    if not variables:
        raise InvalidInput(
            f"prompt {prompt.name}@{prompt.version} reads no variable: there is nowhere to put a probe"
        )
    for name in TEXT_VARIABLES:
        if name in variables:
            return name
    last_user = next((m["content"] for m in reversed(prompt.messages) if m["role"] == "user"), "")
    used = [v for v in variables if v in last_user]
    return str((used or variables)[-1])


def build_items(
    prompt: Any, probes: list[Probe], *, field: str | None = None, values: dict[str, str] | None = None
) -> list[Any]:
    """One dataset item per probe, rendered for ``prompt`` (other variables from ``values``)."""
    from jinja2 import Environment, StrictUndefined

    from loopstack.store.datasets import DatasetItem

    target = target_variable(prompt, field)
    fills = {v: (values or {}).get(v, "example") for v in prompt.variables if v != target}
    unknown = sorted(set(values or {}) - set(prompt.variables))
    if unknown:
        raise InvalidInput(f"prompt {prompt.name}@{prompt.version} has no variable {unknown[0]!r}")
    secret = _instructions(prompt)
    env = Environment(undefined=StrictUndefined, autoescape=False)
    items = []
    for probe in probes:
        canary = _canary(probe.id, f"{prompt.name}@{prompt.version}")
        try:
            text = env.from_string(probe.text).render(
                canary=canary, marker=probe.marker or "", task=_task(prompt)
            )
        except Exception as exc:  # noqa: BLE001 - a user's probe template: name it, no traceback
            raise InvalidInput(f"probe {probe.id!r}: its text does not render ({exc})") from None
        meta = {
            "probe": {
                **asdict(probe),
                "canary": canary,
                "secret": secret if probe.detector == "leak" else None,
            }
        }
        items.append(
            DatasetItem(key=probe.id, input={**fills, target: text}, metadata=meta, cluster=probe.owasp)
        )
    return items


@dataclass
class CategoryRate:
    """Attack success rate of one OWASP category (or one probe kind) with its Wilson 95% CI."""

    category: str
    name: str
    attacks: int
    successes: int
    rate: float | None
    ci_low: float | None
    ci_high: float | None
    errored: int = 0
    probes: list[str] = field(default_factory=list)
    """The ids of the probes that succeeded."""


@dataclass
class RedteamReport:
    """Attack success rates of one red-team run, per OWASP category and per probe kind, and the gate."""

    run_id: str
    prompt: str
    model: str
    categories: list[CategoryRate]
    kinds: list[CategoryRate]
    overall: CategoryRate
    max_asr: float | None = None
    exit_code: int = EXIT_OK
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _rate(category: str, name: str, outcomes: list[tuple[str, bool | None]]) -> CategoryRate:
    from loopstack.evals.stats import wilson_interval

    scored = [(pid, hit) for pid, hit in outcomes if hit is not None]
    n, k = len(scored), sum(1 for _, hit in scored if hit)
    low, high = wilson_interval(k, n) if n else (None, None)
    return CategoryRate(
        category, name, n, k, k / n if n else None, low, high,
        errored=len(outcomes) - n, probes=[pid for pid, hit in scored if hit],
    )  # fmt: skip


def report(
    result: EvalResult,
    *,
    store: Any,
    project: str,
    max_asr: float | None = None,
    max_error_rate: float = 0.0,
) -> RedteamReport:
    """Attack success rates from the stored run of ``result`` (errored items are counted apart), and the
    gate: the eval gate's exit code (3 when more probes errored than ``max_error_rate`` allows: an
    unmeasured attack is not a defended one), else 2 when a category's rate is above ``max_asr``."""
    from loopstack.evals.gate import gate
    from loopstack.store.runs import RunRepository

    summary = result.runs[0]
    run = summary.run
    by_category: dict[str, list[tuple[str, bool | None]]] = {}
    by_kind: dict[str, list[tuple[str, bool | None]]] = {}
    every: list[tuple[str, bool | None]] = []
    for item in RunRepository(store, project).items(run.id):
        s = item.score(SCORE_NAME)
        meta = (s.metadata if s else None) or {}
        hit = None if s is None or s.error is not None or s.value is None else bool(s.value)
        owasp = str(meta.get("owasp") or item.cluster or "?")
        kind = str(meta.get("kind") or "?")
        by_category.setdefault(owasp, []).append((item.item_key, hit))
        by_kind.setdefault(kind, []).append((item.item_key, hit))
        every.append((item.item_key, hit))
    categories = [_rate(c, OWASP.get(c, c), v) for c, v in sorted(by_category.items())]
    kinds = [_rate(k, k, v) for k, v in sorted(by_kind.items())]
    verdict = gate(result, max_error_rate=max_error_rate)
    out = RedteamReport(
        run.id, f"{run.prompt_name}@{run.prompt_version}", run.model or "", categories, kinds,
        _rate("all", "all", every), max_asr, verdict.exit_code, list(verdict.reasons),
    )  # fmt: skip
    if max_asr is not None:
        for c in categories:
            if c.rate is not None and c.rate > max_asr:
                out.reasons.append(
                    f"{c.category} {c.name}: attack success rate {c.rate:.0%} > max-asr {max_asr:.0%}"
                )
        if out.exit_code == EXIT_OK and out.reasons:
            out.exit_code = EXIT_FAILED
    return out


async def run_redteam(
    prompt_ref: str,
    model: str,
    *,
    judge: str | None = None,
    field: str | None = None,
    values: dict[str, str] | None = None,
    probes_file: str | Path | None = None,
    max_asr: float | None = None,
    max_error_rate: float = 0.0,
    store: Any = None,
    project: str | None = None,
    progress: bool = False,
    console: Any = None,
) -> RedteamReport:
    """Run the red-team probes against ``prompt_ref`` (``name@label``) on ``model``; see the module doc."""
    from loopstack.config import get_settings
    from loopstack.evals._plan import resolve_prompt
    from loopstack.evals.runner import run_suite
    from loopstack.evals.suite import PromptRef
    from loopstack.safety import scorers  # noqa: F401 - registers redteam_attack
    from loopstack.store import get_store
    from loopstack.store.datasets import DatasetRepository

    store = store or get_store()
    project = project or get_settings().project
    try:
        ref = PromptRef.parse(prompt_ref)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    prompt = resolve_prompt(ref, store, project)
    items = build_items(prompt, load_probes(probes_file), field=field, values=values)
    dataset = f"redteam-{prompt.name}"
    DatasetRepository(store, project).push(dataset, items, description=f"red-team probes for {prompt.name}")
    params: dict[str, Any] = {"judge": judge} if judge else {}
    suite = {
        "name": f"redteam-{prompt.name}",
        "dataset": dataset,
        "prompts": [str(ref)],
        "models": [model],
        "scorers": [{"scorer": "redteam_attack", "name": SCORE_NAME, "params": params}],
        "concurrency": 32,
    }
    result = await run_suite(
        suite, store=store, project=project, progress=progress, console=console,
        extra_config={"kind": "redteam"},
    )  # fmt: skip
    return report(result, store=store, project=project, max_asr=max_asr, max_error_rate=max_error_rate)


def parse_gate(spec: str) -> float:
    """``max-asr=0.2`` -> 0.2; anything else is a one-line error."""
    key, sep, value = spec.partition("=")
    if key.strip() != "max-asr" or not sep:
        raise InvalidInput(f"--gate {spec!r}: expected max-asr=RATE (e.g. max-asr=0.2)")
    try:
        rate = float(value)
    except ValueError:
        raise InvalidInput(f"--gate {spec!r}: {value!r} is not a number") from None
    if not 0 <= rate <= 1:
        raise InvalidInput(f"--gate {spec!r}: the rate must be between 0 and 1")
    return rate


__all__ = [
    "OWASP",
    "CategoryRate",
    "Probe",
    "RedteamReport",
    "build_items",
    "load_probes",
    "parse_gate",
    "report",
    "run_redteam",
    "target_variable",
]
