"""``loopstack finetune``: a dataset's expected outputs -> a small model registered as ``local/<name>``.

Everything that can be wrong with the request (an unknown dataset, no expected outputs, no usable
example, a base model that cannot be found, a missing extra) is reported before training starts. The
model is registered only after training finished and the saved model loaded and generated, so a
killed or failed run never leaves a half-written model behind a model string; a run started again on
the same output folder resumes from its last checkpoint.

The registered model is the **merged** folder (LoRA folded into the base weights): it loads like any
transformers model, so ``local/<name>``, ``vllm serve <folder>`` and a GGUF conversion need no PEFT.
The adapter is kept beside it (``adapter/``) for whoever wants to stack or ship only the delta.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from loopstack.errors import InvalidInput, NotFound
from loopstack.flywheel._finetune_data import Examples, build_examples, input_keys, student_messages
from loopstack.flywheel._finetune_train import TrainSettings, last_checkpoint, require_train_extra
from loopstack.models import UnknownModel
from loopstack.store import Store, get_store, utcnow

if TYPE_CHECKING:
    from loopstack.flywheel.export import LabelSource

DEFAULT_BASE = "local/smollm2-135m"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
Backend = Literal["local", "openai"]


@dataclass
class FinetuneResult:
    """A finished fine-tune: the model string to call it by, and its figures."""

    name: str
    model: str
    backend: str
    base: str
    dataset: str
    train_examples: int
    validation_examples: int
    validation_source: str
    skipped: dict[str, int]
    messages: list[dict[str, str]]
    output: Path | None = None
    curve: Path | None = None
    steps: int = 0
    resumed_from_step: int | None = None
    train_loss: list[tuple[int, float]] = field(default_factory=list)
    eval_loss: list[tuple[int, float, float]] = field(default_factory=list)
    seconds: float = 0.0
    device: str = ""
    seed: int = 0
    teacher_floor: float | None = None
    """Teacher labels trained on only for fields whose agreement with people reaches this (None: whole)."""
    teacher_fields: list[str] | None = None
    """Those fields (with ``teacher_floor``)."""
    details: dict[str, Any] = field(default_factory=dict)

    def summary_lines(self) -> list[str]:
        """What the CLI prints: the model string, the data, the losses, where the files are."""
        lines = [
            f"Registered {self.model} (fine-tune of {self.base} on {self.dataset}, {self.backend} backend)"
        ]
        skipped = ", ".join(f"{n} {r}" for r, n in sorted(self.skipped.items()))
        lines.append(
            f"  examples: {self.train_examples} train, {self.validation_examples} validation "
            f"({self.validation_source})" + (f"; left out: {skipped}" if skipped else "")
        )
        if self.teacher_floor is not None:
            fields = ", ".join(self.teacher_fields or []) or "no field"
            lines.append(
                f"  teacher labels trained on: {fields} (agreement with people >= {self.teacher_floor:g})"
            )
        if self.steps:
            resumed = f", resumed from step {self.resumed_from_step}" if self.resumed_from_step else ""
            lines.append(
                f"  {self.steps} steps in {self.seconds:.0f} s on {self.device or 'remote'} "
                f"(seed {self.seed}{resumed})"
            )
        if self.train_loss:
            lines.append(f"  training loss {self.train_loss[0][1]:.3f} -> {self.train_loss[-1][1]:.3f}")
        for step, epoch, loss in self.eval_loss:
            lines.append(f"  validation loss after epoch {epoch:.3g} (step {step}): {loss:.3f}")
        if self.curve:
            lines.append(f"  loss curve: {self.curve}")
        if self.output:
            lines.append(f"  merged model: {self.output / 'merged'}   adapter: {self.output / 'adapter'}")
        lines.append(f'  try: loopstack run --model {self.model} "..."')
        return lines

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["output"] = str(self.output) if self.output else None
        out["curve"] = str(self.curve) if self.curve else None
        return out


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise InvalidInput(f"--name {name!r}: use lower-case letters, digits, _ . - (at most 64)")
    return name


def resolve_base(base: str) -> str:
    """A transformers folder or hub id for ``base``; one clear error when it cannot be found.

    ``local/<alias, folder or .gguf>`` uses the local provider's resolution (a GGUF file becomes its
    converted folder); a folder with ``config.json`` is used as is; anything else must be a hub id
    whose config can be fetched (or is in the local Hugging Face cache).
    """
    if base.startswith("local/"):
        from loopstack.models._local import hf_folder

        try:
            return str(hf_folder(base.removeprefix("local/")))
        except UnknownModel as exc:
            raise UnknownModel(f"base model {base!r} cannot be found: {exc}") from None
    path = Path(base).expanduser()
    if path.is_dir():
        if (path / "config.json").is_file():
            return str(path.resolve())
        raise UnknownModel(f"base model {base!r} cannot be found: the folder has no config.json")
    try:
        from transformers import AutoConfig

        AutoConfig.from_pretrained(base)
    except Exception:  # noqa: BLE001 - any failure to find it reads the same to the user
        raise UnknownModel(
            f"base model {base!r} cannot be found: not local/<model>, a transformers folder, "
            "or a hub id that can be reached"
        ) from None
    return base


def load_examples(
    dataset: str,
    *,
    system_prompt: str | None,
    seed: int,
    store: Store,
    project: str,
    messages: list[dict[str, str]] | None = None,
    labels: LabelSource = "expected-then-teacher",
    teacher_fields: frozenset[str] | None = None,
) -> tuple[Examples, list[dict[str, str]], int]:
    """(examples, the student's prompt messages, dataset version) — every data error raised here."""
    from loopstack.store.datasets import DatasetRepository

    repo = DatasetRepository(store, project)
    try:
        info = repo.get(dataset)
    except NotFound:
        raise NotFound(f"no dataset {dataset!r} in project {project!r}") from None
    items = repo.items(dataset)
    if not items:
        raise InvalidInput(f"dataset {dataset!r} has no items")
    if messages is None:
        messages = student_messages(system_prompt, input_keys(items))
    examples = build_examples(
        dataset,
        messages,
        seed=seed,
        store=store,
        project=project,
        version=info.version,
        labels=labels,
        teacher_fields=teacher_fields,
    )
    return examples, messages, info.version


def check_teacher_floor(floor: float | None) -> None:
    """``--teacher-floor`` is None or an agreement share in [0, 1]."""
    if floor is not None and not 0 <= floor <= 1:
        raise InvalidInput(f"--teacher-floor {floor:g}: give an agreement share in [0, 1]")


def trusted_teacher_fields(
    dataset: str, floor: float | None, labels: LabelSource, store: Store, project: str
) -> frozenset[str] | None:
    """The fields a teacher's labels are trained on under ``--teacher-floor`` (None: no floor, whole
    labels), measured against the human answers of the same dataset (``flywheel.trust``)."""
    check_teacher_floor(floor)
    if floor is None or labels == "expected":
        return None
    from loopstack.flywheel.trust import teacher_agreement

    try:
        agreement = teacher_agreement(dataset, store=store, project=project)
    except NotFound:
        raise NotFound(f"no dataset {dataset!r} in project {project!r}") from None
    return agreement.trusted_fields(floor)


def _run_signature(**parts: Any) -> dict[str, Any]:
    signature: dict[str, Any] = json.loads(json.dumps(parts, sort_keys=True, default=str))
    return signature


def _prepare_output(output: Path, signature: dict[str, Any], restart: bool) -> None:
    """Keep checkpoints of the same fine-tune (to resume), refuse those of another one."""
    marker = output / "run.json"
    if restart and output.exists():
        shutil.rmtree(output / "checkpoints", ignore_errors=True)
    if last_checkpoint(output / "checkpoints") is not None and marker.is_file():
        before = json.loads(marker.read_text(encoding="utf-8"))
        if before != signature:
            changed = sorted(k for k in signature if before.get(k) != signature[k])
            raise InvalidInput(
                f"{output} holds checkpoints of a different fine-tune ({', '.join(changed)} differ): "
                "use another --output, or --restart to start over"
            )
    output.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(signature, indent=2, sort_keys=True), encoding="utf-8")


def finetune(
    dataset: str,
    *,
    name: str,
    base: str = DEFAULT_BASE,
    backend: Backend = "local",
    epochs: float = 3.0,
    lr: float = 1e-3,
    lora_r: int = 16,
    batch_size: int = 4,
    seed: int = 0,
    system_prompt: str | None = None,
    messages: list[dict[str, str]] | None = None,
    output: str | Path | None = None,
    save_steps: int = 10,
    max_steps: int | None = None,
    restart: bool = False,
    labels: LabelSource = "expected-then-teacher",
    teacher_floor: float | None = None,
    openai: dict[str, Any] | None = None,
    store: Store | None = None,
    project: str | None = None,
    progress: bool = False,
    console: Any = None,
) -> FinetuneResult:
    """Fine-tune ``base`` on ``dataset`` and register the result as ``local/<name>`` (or, with
    ``backend="openai"``, as the ``openai/ft:…`` model OpenAI's job produced).

    ``messages`` overrides the student's prompt (default: ``system_prompt`` + one line per input
    variable); ``labels`` says which answers are trained on: ``expected`` (human only), ``teacher``
    (teacher labels only) or ``expected-then-teacher`` (a human answer, else the teacher's);
    ``teacher_floor`` trains on a teacher label's values only of the JSON fields where the teacher
    agrees with people's answers on the same dataset at least that often (``flywheel.trust``), the
    other fields' values getting no loss and a label with no such field left out; ``openai`` holds that
    backend's options (``base_url``, ``api_key``, ``poll_interval``).
    """
    from loopstack.config import get_settings

    check_name(name)
    for label, value in (
        ("--epochs", epochs),
        ("--lr", lr),
        ("--lora-r", lora_r),
        ("--batch-size", batch_size),
    ):
        if value <= 0:
            raise InvalidInput(f"{label} must be positive (got {value})")
    settings = get_settings()
    store = store or get_store()
    project = project or settings.project
    teacher_fields = trusted_teacher_fields(dataset, teacher_floor, labels, store, project)
    examples, prompt, version = load_examples(
        dataset,
        system_prompt=system_prompt,
        seed=seed,
        store=store,
        project=project,
        messages=messages,
        labels=labels,
        teacher_fields=teacher_fields,
    )
    if backend == "openai":
        from loopstack.flywheel._openai_ft import openai_finetune

        if any(e.get("masked_spans") for e in (*examples.train, *examples.validation)):
            raise InvalidInput(
                "--teacher-floor trusts only some fields of the teacher's labels, and OpenAI fine-tuning "
                "weighs whole messages: use the local backend, or --labels expected"
            )
        return openai_finetune(
            dataset, examples, prompt, name=name, base=base, epochs=epochs, seed=seed, **(openai or {})
        )
    if backend != "local":
        raise InvalidInput(f"--backend {backend!r}: use local or openai")
    require_train_extra()
    base_path = resolve_base(base)
    out = Path(output).expanduser() if output else settings.home / "finetune" / name
    train_settings = TrainSettings(
        epochs=epochs,
        lr=lr,
        lora_r=lora_r,
        batch_size=batch_size,
        seed=seed,
        save_steps=save_steps,
        max_steps=max_steps,
    )
    signature = _run_signature(
        dataset=dataset,
        dataset_version=version,
        base=base,
        settings=asdict(train_settings),
        messages=prompt,
        labels=labels,
        teacher_fields=sorted(teacher_fields) if teacher_fields is not None else None,
    )
    _prepare_output(out, signature, restart)
    trust = (
        (teacher_floor, sorted(teacher_fields))
        if teacher_floor is not None and teacher_fields is not None
        else None
    )
    return _train_and_register(
        name, base, dataset, examples, prompt, train_settings, out, base_path, progress, console, trust
    )


def _train_and_register(
    name: str,
    base: str,
    dataset: str,
    examples: Examples,
    prompt: list[dict[str, str]],
    settings: TrainSettings,
    out: Path,
    base_path: str,
    progress: bool,
    console: Any,
    trust: tuple[float, list[str]] | None = None,
) -> FinetuneResult:
    from loopstack.errors import LoopstackError
    from loopstack.flywheel._finetune_curve import loss_curve_svg
    from loopstack.flywheel._finetune_train import check_generates, train
    from loopstack.models import forget_models
    from loopstack.models._finetuned import FinetunedModel, register_finetuned

    outcome = train(
        base_path, examples.train, examples.validation, settings, out, console=console, progress=progress
    )
    sample = examples.validation[0] if examples.validation else examples.train[0]
    try:
        check_generates(outcome.merged, sample["prompt"])
    except Exception as exc:  # noqa: BLE001 - a model that cannot generate is not registered
        raise LoopstackError(
            f"the fine-tuned model in {outcome.merged} does not load and generate: {exc}"
        ) from exc
    curve = out / "loss_curve.svg"
    curve.write_text(
        loss_curve_svg(
            outcome.train_loss,
            [(s, v) for s, _, v in outcome.eval_loss],
            title=f"{name}: fine-tune of {base} on {dataset}",
        ),
        encoding="utf-8",
    )
    result = FinetuneResult(
        name=name,
        model=f"local/{name}",
        backend="local",
        base=base,
        dataset=dataset,
        train_examples=len(examples.train),
        validation_examples=len(examples.validation),
        validation_source=examples.validation_source,
        skipped=examples.skipped,
        messages=prompt,
        output=out,
        curve=curve,
        steps=outcome.steps,
        resumed_from_step=outcome.resumed_from_step,
        train_loss=outcome.train_loss,
        eval_loss=outcome.eval_loss,
        seconds=outcome.seconds,
        device=outcome.device,
        seed=settings.seed,
        teacher_floor=trust[0] if trust else None,
        teacher_fields=trust[1] if trust else None,
        details={"settings": asdict(settings)},
    )
    (out / "report.json").write_text(json.dumps(result.to_dict(), indent=2), encoding="utf-8")
    register_finetuned(
        FinetunedModel(
            name=name,
            model=result.model,
            backend="local",
            base=base,
            dataset=dataset,
            path=str(outcome.merged),
            adapter=str(outcome.adapter),
            messages=prompt,
            created_at=utcnow().isoformat(),
            details={
                "steps": outcome.steps,
                "seed": settings.seed,
                "seconds": round(outcome.seconds, 1),
                "device": outcome.device,
                "train_examples": len(examples.train),
                "eval_loss": outcome.eval_loss,
                "final_train_loss": outcome.train_loss[-1][1] if outcome.train_loss else None,
                "curve": str(curve),
                "settings": asdict(settings),
                "teacher_floor": result.teacher_floor,
                "teacher_fields": result.teacher_fields,
            },
        )
    )
    forget_models(result.model)  # a model string cached before the registration must resolve anew
    return result
