"""The local backend's training step: TRL ``SFTTrainer`` with a PEFT LoRA adapter, checkpointed.

Loss falls on the assistant's tokens only: the examples are conversational prompt-completion pairs, and
TRL masks every token up to where the rendered prompt (with its generation prompt) ends, which works
with any chat template (no ``{% generation %}`` markers needed). An example with ``masked_spans``
(character ranges of its answer: a teacher's values of fields it is not trusted on) is tokenized here
instead, the same way, and the tokens that overlap those ranges get no loss either. Checkpoints are
written every ``save_steps`` steps into ``<output>/checkpoints``; a run started again on the same output
folder resumes from the newest complete one. torch, transformers, TRL and PEFT are imported here only.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import shutil
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loopstack.errors import LoopstackError
from loopstack.models import MissingExtra

_INSTALL = "pip install 'loopstack[train]'"
#: Files a checkpoint has once transformers finished writing it (the trainer state comes last).
_CHECKPOINT_FILES = ("trainer_state.json", "optimizer.pt")


@dataclass(frozen=True)
class TrainSettings:
    """How to train (validated by the caller)."""

    epochs: float = 3.0
    lr: float = 1e-3
    lora_r: int = 16
    batch_size: int = 4
    seed: int = 0
    save_steps: int = 10
    max_steps: int | None = None
    """Stop after this many optimizer steps (tests; a quick look); None = the epochs decide."""
    max_length: int = 1024


@dataclass
class TrainOutcome:
    """What training produced: the folders, the loss history, where it resumed from."""

    adapter: Path
    merged: Path
    train_loss: list[tuple[int, float]]
    """(step, loss) for every logged step."""
    eval_loss: list[tuple[int, float, float]]
    """(step, epoch, validation loss) after each epoch."""
    steps: int
    resumed_from_step: int | None
    device: str
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)


def require_train_extra() -> None:
    """Fail before any work when TRL, PEFT, datasets or torch is missing."""
    missing = [
        m for m in ("torch", "transformers", "trl", "peft", "datasets") if importlib.util.find_spec(m) is None
    ]
    if missing:
        raise MissingExtra(f"fine-tuning needs {', '.join(missing)}: {_INSTALL}")


def last_checkpoint(folder: Path) -> Path | None:
    """The newest complete ``checkpoint-N`` folder (a half-written one, from a kill, is skipped)."""
    if not folder.is_dir():
        return None
    found: list[tuple[int, Path]] = []
    for child in folder.iterdir():
        name = child.name
        if (
            child.is_dir()
            and name.startswith("checkpoint-")
            and name[11:].isdigit()
            and last_checkpoint_ok(child)
        ):
            found.append((int(name[11:]), child))
    return max(found)[1] if found else None


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed memory in the process instead of handing it back to the OS.

    Every training step allocates and frees the same few hundred MB of activations and gradients. With
    glibc's defaults the larger blocks are mapped and unmapped each time (and the heap top trimmed), so
    each step page-faults them in again: about a third of a CPU step went to the kernel, measured on a
    2-core machine (``bench/finetune_step.py``). Raising the mmap and trim thresholds keeps them mapped.
    The price is that the process keeps its peak memory until it exits. Returns whether the allocator
    took the settings (False off glibc: musl, macOS, Windows).
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(mallopt(m_mmap_threshold, 256 << 20)) and bool(mallopt(m_trim_threshold, (1 << 31) - 1))


def _device() -> tuple[str, Any]:
    import torch

    if torch.cuda.is_available():
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return "cuda", dtype
    return "cpu", torch.float32


def _progress_callback(total: int, console: Any, start: int) -> Any:
    """A TrainerCallback drawing a rich progress bar with the latest training and validation loss."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from transformers import TrainerCallback

    class _Bar(TrainerCallback):
        def __init__(self) -> None:
            self.progress = Progress(
                TextColumn("fine-tune"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[loss]}"),
                TimeElapsedColumn(),
                console=console,
                transient=False,
            )
            self.task = self.progress.add_task("train", total=total, completed=start, loss="")
            self.loss = ""
            self.eval = ""

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.progress.start()

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
            logs = logs or {}
            if "loss" in logs:
                self.loss = f"loss {logs['loss']:.3f}"
            if "eval_loss" in logs:
                self.eval = f"  val {logs['eval_loss']:.3f}"
            self.progress.update(self.task, loss=self.loss + self.eval)

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.progress.update(self.task, completed=state.global_step)

        def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.progress.update(self.task, completed=state.global_step)
            self.progress.stop()

    return _Bar()


@contextlib.contextmanager
def _library_deprecations_hidden() -> Iterator[None]:
    """Hide the FutureWarning TRL/PEFT trigger by reading transformers' deprecated
    ``is_gradient_checkpointing`` (theirs to fix, nothing a user can act on)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        yield


def _quiet_transformers() -> None:
    hf_logging: Any = importlib.import_module("transformers.utils.logging")
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    importlib.import_module("datasets").disable_progress_bars()


def tokenized_example(tokenizer: Any, example: dict[str, Any]) -> dict[str, list[int]]:
    """``input_ids`` and ``completion_mask`` of a prompt-completion example, built as TRL builds them
    (the completion starts where the tokenized prompt, with its generation prompt, stops being a
    prefix of the tokenized conversation), with 0 on every token that overlaps a ``masked_spans`` range
    of the answer. Needs a fast tokenizer (character offsets)."""
    prompt, completion = example["prompt"], example["completion"]
    prompt_text = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=False)
    text = tokenizer.apply_chat_template(prompt + completion, tokenize=False)
    if not getattr(tokenizer, "is_fast", False):
        raise LoopstackError("leaving untrusted teacher fields out of the loss needs a fast tokenizer")
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids: list[int] = list(enc["input_ids"])
    offsets: list[tuple[int, int]] = [tuple(o) for o in enc["offset_mapping"]]
    prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    start = 0
    while start < min(len(ids), len(prompt_ids)) and ids[start] == prompt_ids[start]:
        start += 1
    mask = [0] * start + [1] * (len(ids) - start)
    answer = completion[-1]["content"]
    at = text.find(answer, offsets[start][0] if start < len(ids) else len(text))
    spans = example.get("masked_spans") or []
    if spans and at < 0:
        raise LoopstackError("the chat template does not render the answer verbatim: cannot mask its fields")
    for a, b in spans:
        lo, hi = at + a, at + b
        for i in range(start, len(ids)):
            t0, t1 = offsets[i]
            if t0 < hi and t1 > lo:
                mask[i] = 0
    return {"input_ids": ids, "completion_mask": mask}


def _trainer_rows(tokenizer: Any, examples: list[dict[str, Any]], tokenize: bool) -> list[dict[str, Any]]:
    """What the trainer's dataset holds: the conversational pairs (TRL tokenizes them), or their
    tokens and completion masks when some answer has ranges to leave out of the loss."""
    if tokenize:
        return [tokenized_example(tokenizer, e) for e in examples]
    return [{k: v for k, v in e.items() if k in ("prompt", "completion")} for e in examples]


def build_trainer(
    base: str,
    train_examples: list[dict[str, Any]],
    validation_examples: list[dict[str, Any]],
    settings: TrainSettings,
    checkpoints: Path,
) -> tuple[Any, str]:
    """The ``SFTTrainer`` (LoRA on every linear layer, completion-only loss) before training starts,
    and the device it trains on."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, PrinterCallback
    from trl.trainer.sft_config import SFTConfig
    from trl.trainer.sft_trainer import SFTTrainer

    _quiet_transformers()
    device, dtype = _device()
    if device == "cpu":
        keep_freed_memory()
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        torch.set_num_threads(max(1, cores))
    tokenizer = AutoTokenizer.from_pretrained(base)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(base, dtype=dtype)
    tokenize = any(e.get("masked_spans") for e in (*train_examples, *validation_examples))
    rows = _trainer_rows(tokenizer, train_examples, tokenize)
    val = _trainer_rows(tokenizer, validation_examples, tokenize)
    args = SFTConfig(
        output_dir=str(checkpoints),
        num_train_epochs=settings.epochs,
        max_steps=settings.max_steps if settings.max_steps is not None else -1,
        per_device_train_batch_size=settings.batch_size,
        per_device_eval_batch_size=settings.batch_size,
        learning_rate=settings.lr,
        seed=settings.seed,
        data_seed=settings.seed,
        logging_steps=1,
        eval_strategy="epoch" if val else "no",
        save_strategy="steps",
        save_steps=settings.save_steps,
        save_total_limit=2,
        report_to="none",
        disable_tqdm=True,
        bf16=device == "cuda" and dtype == torch.bfloat16,
        fp16=device == "cuda" and dtype == torch.float16,
        use_cpu=device == "cpu",
        activation_checkpointing=False,
        completion_only_loss=True,
        max_length=settings.max_length,
        dataloader_num_workers=0,
    )
    lora = LoraConfig(
        r=settings.lora_r,
        lora_alpha=2 * settings.lora_r,
        lora_dropout=0.0,
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )
    with _library_deprecations_hidden():
        trainer = SFTTrainer(
            model=model,
            args=args,
            train_dataset=Dataset.from_list(rows),
            eval_dataset=Dataset.from_list(val) if val else None,
            processing_class=tokenizer,
            peft_config=lora,
        )
    trainer.remove_callback(PrinterCallback)
    return trainer, device


def train(
    base: str,
    train_examples: list[dict[str, Any]],
    validation_examples: list[dict[str, Any]],
    settings: TrainSettings,
    output: Path,
    *,
    console: Any = None,
    progress: bool = False,
) -> TrainOutcome:
    """Train a LoRA adapter on ``base`` (a transformers folder or hub id), merge it, save both.

    Resumes from ``output/checkpoints`` when it holds a complete checkpoint.
    """
    started = time.perf_counter()
    checkpoints = output / "checkpoints"
    for child in checkpoints.iterdir() if checkpoints.is_dir() else []:
        if child.is_dir() and child.name.startswith("checkpoint-") and not last_checkpoint_ok(child):
            shutil.rmtree(child, ignore_errors=True)  # half-written by a killed run
    resume = last_checkpoint(checkpoints)
    trainer, device = build_trainer(base, train_examples, validation_examples, settings, checkpoints)
    resumed_from = int(resume.name[11:]) if resume is not None else None
    if progress:
        total = _planned_steps(len(train_examples), settings)
        trainer.add_callback(_progress_callback(total, console, resumed_from or 0))
    try:
        with _library_deprecations_hidden():
            trainer.train(resume_from_checkpoint=str(resume) if resume is not None else None)
    except (ValueError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LoopstackError(f"fine-tuning failed: {first}") from exc
    tokenizer = trainer.processing_class
    adapter, merged = output / "adapter", output / "merged"
    for folder in (adapter, merged):
        shutil.rmtree(folder, ignore_errors=True)
    trainer.model.save_pretrained(adapter)
    tokenizer.save_pretrained(adapter)
    full = trainer.model.merge_and_unload()
    full.save_pretrained(merged)
    tokenizer.save_pretrained(merged)
    history = trainer.state.log_history
    return TrainOutcome(
        adapter=adapter,
        merged=merged,
        train_loss=[(int(h["step"]), float(h["loss"])) for h in history if "loss" in h],
        eval_loss=[
            (int(h["step"]), float(h["epoch"]), float(h["eval_loss"])) for h in history if "eval_loss" in h
        ],
        steps=int(trainer.state.global_step),
        resumed_from_step=resumed_from,
        device=device,
        seconds=time.perf_counter() - started,
    )


def last_checkpoint_ok(folder: Path) -> bool:
    """Whether a checkpoint folder was written completely."""
    return all((folder / f).is_file() for f in _CHECKPOINT_FILES)


def _planned_steps(n_examples: int, settings: TrainSettings) -> int:
    import math

    per_epoch = math.ceil(n_examples / settings.batch_size)
    return settings.max_steps or math.ceil(per_epoch * settings.epochs)


def check_generates(folder: Path, messages: list[dict[str, str]]) -> str:
    """Load a saved model folder and generate a few tokens: nothing is registered that cannot do this."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model: Any = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    model.eval()
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    enc = tokenizer(text, return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        out = model.generate(
            **enc,
            max_new_tokens=8,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
        )
    return str(tokenizer.decode(out[0, enc["input_ids"].shape[1] :], skip_special_tokens=True))
