"""``loopstack flywheel demo``: the whole loop on the quickstart's review triage, offline, end to end.

1. production: the v2 prompt is ``triage@production``; each train-split review is one traced call on
   the local model, and a simulated user reacts to a share of them (seeded): a right answer is
   accepted, a wrong one corrected with the review's gold label;
2. curate those calls into a dataset (correction, else accepted output, as the expected output);
3. label the calls with the teacher (the v2 prompt on the local model, or a real one): what users judged
   measures the teacher against people, field by field; its labels of what they did not judge become
   training data only for the fields where it agrees with people at least ``TEACHER_FLOOR`` of the time;
4. fine-tune the student with a short instruction prompt (no few-shot examples);
5. compare student vs the v2 prompt on the 48 gold-labelled test reviews;
6. promote the student (a new ``triage`` version and a ``production`` move) if it is non-inferior.
"""

from __future__ import annotations

import asyncio
import json
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loopstack.store import Store, get_store, utcnow

if TYPE_CHECKING:
    from loopstack.flywheel._finetune import FinetuneResult

TEACHER = "local/smollm2-135m"
STUDENT_NAME = "triage-student"
TRAFFIC_DATASET = "triage-traffic"
#: The student's instruction: one sentence, no label list or examples (fine-tuning teaches those). Every
#: prompt token is paid on each of the 3 x 144 training passes and each call, and on a 2-core CPU a
#: training step's time grows with its tokens: the earlier 58-token instruction listing every label
#: value made the fine-tune ~1.7x slower for the same accuracy (docs/flywheel.md, "Measured").
STUDENT_SYSTEM_PROMPT = (
    "Triage this app store review as one line of JSON with topic, sentiment and actionable."
)
#: A teacher's label of a field is trained on only where the teacher agrees with people this often on the
#: calls both answered (``finetune --teacher-floor``): the bar the student itself must clear.
TEACHER_FLOOR = 0.8
#: The gold fields in the order the v2 prompt answers them (corrections use the same order).
FIELDS = ("topic", "sentiment", "actionable")


@dataclass
class DemoReport:
    """What the demo did, step by step, and its figures."""

    steps: list[tuple[str, float, list[str]]] = field(default_factory=list)
    """(title, seconds, lines)."""
    comparison: Any = None
    promotion: Any = None
    finetune: Any = None
    seconds: float = 0.0

    def lines(self) -> list[str]:
        out: list[str] = []
        for i, (title, seconds, lines) in enumerate(self.steps, 1):
            out.append(f"{i}. {title}  ({seconds:.0f} s)")
            out += [f"   {line}" for line in lines]
        out.append(f"Done in {self.seconds:.0f} s ({self.seconds / 60:.1f} min).")
        return out

    def next_steps(self) -> list[tuple[str, str]]:
        steps = [
            (
                f"loopstack serve-model local/{STUDENT_NAME} --port 8001",
                "the student as an OpenAI-compatible API",
            ),
            (
                f'loopstack run --model local/{STUDENT_NAME} "app: Lumen\\nreview: Crashes on login."',
                "ask it",
            ),
        ]
        if self.promotion is not None:
            steps.append(("loopstack prompt rollback triage", "undo the promotion (production back to v2)"))
        else:
            steps.append(
                ("loopstack flywheel demo --feedback-rate 0.95", "more human corrections, less teacher noise")
            )
        steps += [
            (
                "loopstack flywheel demo --teacher openai/gpt-4o-mini",
                "a real teacher labels what users did not",
            ),
            (
                f"loopstack finetune {TRAFFIC_DATASET} --name {STUDENT_NAME}-e5 --epochs 5 "
                f'--teacher-floor {TEACHER_FLOOR:g} --system-prompt "{STUDENT_SYSTEM_PROMPT}"',
                "the same student, trained longer",
            ),
        ]
        return steps


def _use_all_cores(model: str) -> None:
    """The demo owns its process: let a local model compute on every core (the provider's default
    keeps one free for an app's event loop)."""
    if not model.startswith("local/"):
        return
    import os

    from loopstack.models import get_model

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    get_model(model, threads=max(1, min(8, cores)))


def _gold(item: Any) -> dict[str, Any]:
    return {f: item.expected[f] for f in FIELDS}


def _parsed(text: str) -> Any:
    from loopstack.evals.scorers._json import extract_json

    try:
        return extract_json(text)
    except ValueError:
        return None


async def simulate_traffic(
    items: list[Any],
    prompt: Any,
    *,
    model: str,
    feedback_rate: float,
    seed: int,
    concurrency: int = 32,
    store: Store | None = None,
) -> dict[str, int]:
    """One traced call per item on ``prompt``; a seeded share of users accept right answers and correct
    wrong ones with the gold label. Returns counts of accepted, corrected and silent calls."""
    from loopstack.evals.scorers._json import values_match
    from loopstack.models import get_model
    from loopstack.tracing import current_trace_id, ensure_init, feedback, flush, span

    ensure_init()
    llm = get_model(model)
    rng = random.Random(seed)
    reacts = {it.key: rng.random() < feedback_rate for it in items}
    counts = {"accepted": 0, "corrected": 0, "no feedback": 0}
    gate = asyncio.Semaphore(concurrency)

    async def one(item: Any) -> None:
        async with gate:
            with span("handle_review", input=item.input["review"]) as handle:
                # cached: the offline teacher is this same prompt, model and temperature 0, so labelling
                # a call no user judged replays its answer instead of computing it a second time
                answer = await llm.generate(
                    prompt.render(**item.input), cache=True, store=store, **prompt.params
                )
                handle.set_output(answer.text)
                trace_id = current_trace_id()
        if trace_id is None or not reacts[item.key]:
            counts["no feedback"] += 1
            return
        got, gold = _parsed(answer.text), _gold(item)
        if isinstance(got, dict) and all(f in got and values_match(got[f], gold[f]) for f in FIELDS):
            feedback(trace_id, "user", "accept")
            counts["accepted"] += 1
        else:
            feedback(trace_id, "correction", json.dumps(gold), data_type="text")
            counts["corrected"] += 1

    await asyncio.gather(*(one(it) for it in items))
    await asyncio.to_thread(flush)
    return counts


def run_demo(
    *,
    teacher: str = TEACHER,
    model: str = TEACHER,
    base: str = TEACHER,
    feedback_rate: float = 0.8,
    seed: int = 0,
    margin: float = 0.05,
    epochs: float = 3.0,
    teacher_floor: float | None = TEACHER_FLOOR,
    promote: bool = True,
    store: Store | None = None,
    project: str | None = None,
    console: Any = None,
    say: Callable[[str], None] = print,
) -> DemoReport:
    """Run the demo (see the module docstring); ``say`` prints each step as it finishes.

    ``model`` answers the production traffic with the v2 prompt (and is the baseline of the comparison),
    ``teacher`` labels what users did not judge (with the v2 prompt when it is ``model``), ``base`` is
    the student's base model; ``teacher_floor`` (None: trust the teacher on every field) is
    ``finetune``'s.
    """
    from loopstack.config import get_settings
    from loopstack.errors import InvalidInput
    from loopstack.evals.quickstart import DATASET_NAME, copy_project, push_project
    from loopstack.flywheel._compare import compare_student
    from loopstack.flywheel._finetune import check_teacher_floor
    from loopstack.flywheel._promote import promote as promote_student
    from loopstack.flywheel.curation import curate, span_criteria
    from loopstack.flywheel.label import label_dataset
    from loopstack.flywheel.trust import teacher_agreement
    from loopstack.prompts import PromptRegistry
    from loopstack.prompts.prompt import Prompt
    from loopstack.store.datasets import DatasetRepository

    if not 0 <= feedback_rate <= 1:
        raise InvalidInput(f"--feedback-rate {feedback_rate:g}: give a share in [0, 1]")
    check_teacher_floor(teacher_floor)  # before the minutes of traffic, not at the fine-tune
    store = store or get_store()
    project = project or get_settings().project
    report = DemoReport()
    started = time.perf_counter()

    def step(title: str, t0: float, lines: list[str]) -> None:
        report.steps.append((title, time.perf_counter() - t0, lines))
        say(f"{len(report.steps)}. {title}  ({time.perf_counter() - t0:.0f} s)")
        for line in lines:
            say(f"   {line}")

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        copy_project(tmp)
        push_project(tmp, store, project)
    registry = PromptRegistry(store, project)
    v2 = registry.get("triage", label="staging")
    registry.set_label("triage", "production", v2.version, message="flywheel demo: v2 is in production")
    prompt = Prompt(name=v2.name, version=v2.version, messages=v2.messages, params=v2.params)
    datasets = DatasetRepository(store, project)
    train = datasets.items(DATASET_NAME, split="train")
    if datasets.exists(TRAFFIC_DATASET):
        datasets.delete(TRAFFIC_DATASET)  # a fresh run curates fresh traffic
    traffic_started = utcnow()  # ... and only its own: an earlier run's calls and feedback stay out
    _use_all_cores(model)
    counts = asyncio.run(
        simulate_traffic(train, prompt, model=model, feedback_rate=feedback_rate, seed=seed, store=store)
    )
    step(
        f"Production: {len(train)} reviews triaged by triage@production (v{v2.version}) on {model}, traced",
        t0,
        [f"user feedback: {counts['accepted']} accepted, {counts['corrected']} corrected, "
         f"{counts['no feedback']} without feedback (feedback rate {feedback_rate:g}, seed {seed})"],
    )  # fmt: skip

    t0 = time.perf_counter()
    curated = curate(
        TRAFFIC_DATASET,
        criteria=span_criteria(start=traffic_started, prompt=f"triage@{v2.version}"),
        splits={"train": 0.9, "validation": 0.1},
        seed=seed,
        store=store,
        project=project,
        description="flywheel demo: production calls of triage v2 with their feedback",
    )
    sources = ", ".join(f"{n} {k}" for k, n in sorted(curated.expected_from.items()))
    splits = ", ".join(f"{n} {k}" for k, n in sorted(curated.splits.items()))
    step(
        f"Curated {curated.added} calls into {TRAFFIC_DATASET}",
        t0,
        [f"expected output from: {sources}", f"splits: {splits}"],
    )

    t0 = time.perf_counter()
    teacher_prompt = f"triage@{v2.version}" if teacher == model else None
    labels = label_dataset(
        TRAFFIC_DATASET,
        teacher=teacher,
        prompt=teacher_prompt,
        concurrency=32,
        cache=True,
        store=store,
        project=project,
    )
    # every call is labelled, the judged ones too: there the teacher is measured against people
    trust = teacher_agreement(
        TRAFFIC_DATASET, teacher=teacher, prompt=teacher_prompt, store=store, project=project
    )
    unjudged = curated.expected_from.get("none", 0)
    step(
        f"Teacher {teacher} labelled every call; its labels of the {unjudged} calls no user judged are "
        "training data where it can be trusted",
        t0,
        [_label_line(labels), trust.line(), _trust_line(trust, teacher_floor)],
    )

    t0 = time.perf_counter()
    tuned = finetune_in_fresh_process(
        dataset=TRAFFIC_DATASET,
        name=STUDENT_NAME,
        base=base,
        system_prompt=STUDENT_SYSTEM_PROMPT,
        epochs=epochs,
        seed=seed,
        teacher_floor=teacher_floor,
        restart=True,
        database_url=store.url,
        home=str(get_settings().home),
        project=project,
        progress=console is not None,
    )
    report.finetune = tuned
    step(
        f"Fine-tuned the student local/{STUDENT_NAME} (LoRA r=16 on {base})", t0, tuned.summary_lines()[1:-1]
    )

    t0 = time.perf_counter()
    _use_all_cores(f"local/{STUDENT_NAME}")
    comparison = asyncio.run(
        compare_student(
            student=f"local/{STUDENT_NAME}",
            teacher=model,
            teacher_prompt=f"triage@{v2.version}",
            dataset=DATASET_NAME,
            split="test",
            margin=margin,
            store=store,
            project=project,
        )
    )
    report.comparison = comparison
    step("Student vs the v2 prompt on the test split", t0, comparison.lines()[2:])

    t0 = time.perf_counter()
    if promote and comparison.verdict.passed:
        report.promotion = promote_student(
            f"local/{STUDENT_NAME}", prompt="triage", store=store, project=project
        )
        step("Promoted the student", t0, [report.promotion.line()])
    else:
        why = "not asked to" if not promote else f"the verdict is {comparison.verdict.verdict}"
        step("Not promoted", t0, [f"{why}; production stays triage v{v2.version}"])
    report.seconds = time.perf_counter() - started
    return report


def finetune_in_fresh_process(**kwargs: Any) -> FinetuneResult:
    """``flywheel.finetune`` in a new interpreter (``spawn``), its progress bar on this terminal.

    By step 4 the demo's process has run 300 batched generations on the local model, and training
    in that process was ~1.5x slower per step than the same fine-tune in a fresh one (393 s against
    252 s on a 2-core AMD EPYC, 108 steps), with ~22 million minor page faults over the run. Spawned,
    the demo's fine-tune took 333 s (not yet all the way to the standalone figure). The store is
    reopened there by URL and ``LOOPSTACK_HOME`` is passed on, so the model registers where this
    process looks it up.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_finetune_child, kwargs).result()


def _finetune_child(kwargs: dict[str, Any]) -> FinetuneResult:
    import os

    from loopstack.config import get_settings
    from loopstack.flywheel._finetune import finetune
    from loopstack.store import get_store

    os.environ["LOOPSTACK_HOME"] = kwargs.pop("home")
    get_settings.cache_clear()
    store = get_store(kwargs.pop("database_url"))
    console = None
    if kwargs.get("progress"):
        from rich.console import Console

        console = Console(stderr=True)
    return finetune(kwargs.pop("dataset"), store=store, console=console, **kwargs)


def _trust_line(trust: Any, floor: float | None) -> str:
    if floor is None:
        return "the teacher's labels are trained on whole (no --teacher-floor)"
    fields = sorted(trust.trusted_fields(floor))
    left = [f for f in trust.fields if f not in fields]
    if not fields:
        return (
            f"no field reaches agreement {floor:g} with people: the student learns from people's answers "
            "only, and the teacher's labels are left out"
        )
    line = f"trained on the teacher's {', '.join(fields)} (agreement with people >= {floor:g})"
    return line + (f"; no loss on its {', '.join(left)}" if left else "")


def _label_line(labels: Any) -> str:
    line = f"{labels.selected} calls: {labels.labelled} labelled"
    line += f", {labels.errors} errors"
    if labels.replayed:
        line += f", {labels.replayed} replayed from the response cache (answered so in production)"
    if labels.already:
        line += f", {labels.already} already labelled"
    return line + (f"; stopped: {labels.message}" if labels.stopped else "")
