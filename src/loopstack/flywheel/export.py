"""Training exports: dataset items as chat examples with the exact system prompt the student is served with.

An example is ``flywheel.chat.to_chat_messages(item, system_prompt=..., prompt=...)`` with the answer
chosen by ``labels``: the human expected output, the teacher's label, or the human one else the
teacher's (the default). Items with no answer are left out and counted; a dataset that yields no
example at all is an error before anything is written.

Formats: ``openai-chat`` (OpenAI chat fine-tuning JSONL: ``{"messages": [...]}`` per line, with
``weight`` on assistant messages when asked: 1 on the answer, 0 on a prompt's few-shot turns), ``hf``
(a Hugging Face ``datasets.Dataset``; ``save_to_disk`` folder from the CLI), ``parquet`` and ``jsonl``
(one row per example: ``key``, ``split``, ``messages``, ``answer_from``, ``source_span_id``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from loopstack.errors import InvalidInput
from loopstack.flywheel.chat import to_chat_messages
from loopstack.prompts.prompt import Prompt
from loopstack.store import Store, get_store
from loopstack.store.datasets import DatasetItem, DatasetRepository
from loopstack.store.teacher_labels import TeacherLabel, TeacherLabelRepository

ExportFormat = Literal["openai-chat", "hf", "parquet", "jsonl"]
FORMATS: tuple[str, ...] = ("openai-chat", "hf", "parquet", "jsonl")
LabelSource = Literal["expected", "teacher", "expected-then-teacher"]
LABEL_SOURCES: tuple[str, ...] = ("expected", "teacher", "expected-then-teacher")


@dataclass(frozen=True)
class TrainingExample:
    """One chat example: the messages (answer last) and where the item and its answer came from."""

    key: str
    split: str | None
    messages: list[dict[str, str]]
    answer_from: str  # expected | teacher
    source_span_id: str | None = None

    def record(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "split": self.split,
            "messages": self.messages,
            "answer_from": self.answer_from,
            "source_span_id": self.source_span_id,
        }


@dataclass(frozen=True)
class TrainingSet:
    """The examples of one export and how many items had no answer."""

    dataset: str
    version: int
    examples: list[TrainingExample]
    skipped: int

    def openai_chat_records(self, *, weight: bool = False) -> list[dict[str, Any]]:
        """OpenAI chat fine-tuning lines; ``weight`` marks the answer 1 and earlier assistant turns 0."""
        out = []
        for ex in self.examples:
            messages = [dict(m) for m in ex.messages]
            if weight:
                last = len(messages) - 1
                for i, m in enumerate(messages):
                    if m["role"] == "assistant":
                        m["weight"] = 1 if i == last else 0  # type: ignore[assignment]
            out.append({"messages": messages})
        return out

    def to_hf(self) -> Any:
        """A Hugging Face ``datasets.Dataset`` (``messages`` is what TRL's SFTTrainer reads)."""
        try:
            from datasets import Dataset as HFDataset
        except ImportError:
            raise InvalidInput(
                "the hf format needs the datasets package: pip install 'loopstack[train]'"
            ) from None
        return HFDataset.from_list([ex.record() for ex in self.examples])


def teacher_answers(
    dataset: str,
    *,
    teacher: str | None = None,
    prompt: str | None = None,
    store: Store | None = None,
    project: str | None = None,
) -> dict[str, TeacherLabel]:
    """The newest teacher label of each item of ``dataset`` by item key (of ``teacher`` and ``prompt``,
    ``name@version``, when given): what a student is compared against for agreement with its teacher."""
    from loopstack.config import get_settings

    store = store or get_store()
    project = project or get_settings().project
    return _teacher_answers(
        store, project, DatasetRepository(store, project).get(dataset).id, teacher, prompt
    )


def _teacher_answers(
    store: Store, project: str, dataset_id: str, teacher: str | None, teacher_prompt: str | None
) -> dict[str, TeacherLabel]:
    """The newest teacher label per item key (of ``teacher`` / ``teacher_prompt`` when given)."""
    labels = TeacherLabelRepository(store, project, dataset_id).labels(teacher=teacher, prompt=teacher_prompt)
    return {lb.item_key: lb for lb in labels}  # oldest first, so the newest wins


def training_set(
    dataset: str,
    *,
    version: int | None = None,
    split: str | None = None,
    system_prompt: str | None = None,
    prompt: str | Prompt | None = None,
    labels: LabelSource = "expected-then-teacher",
    teacher: str | None = None,
    teacher_prompt: str | None = None,
    store: Store | None = None,
    project: str | None = None,
) -> TrainingSet:
    """The chat examples of ``dataset`` (at ``version``, of ``split``): see the module docstring.

    ``teacher``/``teacher_prompt`` (``name@version``) choose whose teacher labels count when several
    teachers labelled the dataset (default: the newest label of any).
    """
    from loopstack.config import get_settings
    from loopstack.flywheel.chat import resolve_prompt

    if labels not in LABEL_SOURCES:
        raise InvalidInput(f"labels {labels!r}: use one of {', '.join(LABEL_SOURCES)}")
    store = store or get_store()
    project = project or get_settings().project
    repo = DatasetRepository(store, project)
    info = repo.get(dataset)
    v = version if version is not None else info.version
    items = repo.items(dataset, v, split=split) if v else []
    resolved = resolve_prompt(prompt, store=store, project=project) if isinstance(prompt, str) else prompt
    answers = (
        _teacher_answers(store, project, info.id, teacher, teacher_prompt) if labels != "expected" else {}
    )
    examples: list[TrainingExample] = []
    skipped = 0
    for item in items:
        answer, source = _answer(item, answers, labels)
        if answer is None:
            skipped += 1
            continue
        examples.append(
            TrainingExample(
                key=item.key,
                split=item.split,
                messages=to_chat_messages(item, system_prompt=system_prompt, prompt=resolved, target=answer),
                answer_from=source,
                source_span_id=item.source_span_id,
            )
        )
    if not examples:
        where = f" in split {split!r}" if split else ""
        need = {
            "expected": "an expected output",
            "teacher": "a teacher label",
            "expected-then-teacher": "an expected output or a teacher label",
        }[labels]
        raise InvalidInput(
            f"dataset {dataset!r}{where} has no item with {need} ({len(items)} items); "
            f"label it first: loopstack label {dataset} --teacher MODEL"
        )
    return TrainingSet(dataset=dataset, version=v, examples=examples, skipped=skipped)


def _answer(item: DatasetItem, answers: dict[str, TeacherLabel], labels: str) -> tuple[Any, str]:
    if labels != "teacher" and item.expected is not None:
        return item.expected, "expected"
    if labels != "expected" and item.key in answers:
        lb = answers[item.key]
        return (lb.value if lb.value is not None else lb.output), "teacher"
    return None, ""


def write_training_set(
    examples: TrainingSet,
    path: str | Path,
    format: ExportFormat,
    *,
    weight: bool = False,
    transform: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None,
) -> Path:
    """Write ``examples`` as ``format`` at ``path`` (a folder for ``hf``); ``transform`` rewrites the
    records first (``loopstack.safety.mask_records`` masks PII)."""
    if format not in FORMATS:
        raise InvalidInput(f"export format {format!r}: use one of {', '.join(FORMATS)}")
    p = Path(path)
    records = (
        examples.openai_chat_records(weight=weight)
        if format == "openai-chat"
        else [ex.record() for ex in examples.examples]
    )
    if transform is not None:
        records = transform(records)
    if format == "hf":
        try:
            from datasets import Dataset as HFDataset
        except ImportError:
            raise InvalidInput(
                "the hf format needs the datasets package: pip install 'loopstack[train]'"
            ) from None
        HFDataset.from_list(records).save_to_disk(str(p))
        return p
    p.parent.mkdir(parents=True, exist_ok=True)
    if format == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(records), p)
        return p
    with p.open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    return p


def export_dataset(
    dataset: str,
    path: str | Path,
    *,
    format: ExportFormat = "openai-chat",
    weight: bool = False,
    transform: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None,
    **selection: Any,
) -> TrainingSet:
    """Write ``dataset``'s chat examples to ``path`` as ``format``; ``selection`` is ``training_set``'s
    options (version, split, system_prompt, prompt, labels, teacher, store, project)."""
    examples = training_set(dataset, **selection)
    write_training_set(examples, path, format, weight=weight, transform=transform)
    return examples


def split_counts(examples: Sequence[TrainingExample]) -> dict[str, int]:
    """Examples per split (``-`` for items with none)."""
    out: dict[str, int] = {}
    for ex in examples:
        out[ex.split or "-"] = out.get(ex.split or "-", 0) + 1
    return out
