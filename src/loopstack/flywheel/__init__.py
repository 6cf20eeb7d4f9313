"""The flywheel: production traces → curated datasets → teacher labels → training exports.

from loopstack.flywheel import curate, span_criteria, label_dataset, training_set, to_chat_messages

report = curate("triage-data", criteria=span_criteria(prompt="triage", feedback="any"),
                stratify="sentiment")                      # items with source links and frozen splits
label_dataset("triage-data", teacher="openai/gpt-4o-mini", prompt="triage@production",
              missing_only=True, max_cost=2.0)              # resumable; each label stored at once
examples = training_set("triage-data", system_prompt="Label the review as JSON.", split="train")
examples.to_hf()                                            # or export_dataset(..., format="openai-chat")

Every name loads its module on first use (curation pulls in the embedding model only when it dedupes).

Public API (what the fine-tuning and comparison steps build on):

* ``curate(dataset, *, criteria, sample, limit, seed, dedupe_threshold, splits, stratify, dry_run,
  store, project) -> CurationReport`` and ``span_criteria(start=, end=, prompt=, model=, session=,
  user=, text=, feedback=, score=, score_min=, score_max=, environment=) -> SpanCriteria``;
* ``label_dataset(dataset, *, teacher, prompt=None, system_prompt=None, params=None, concurrency=8,
  max_cost=None, split=None, missing_only=False, limit=None, ...) -> LabelReport`` (and
  ``label_dataset_async``); ``export_batch`` / ``import_batch`` for the OpenAI Batch API;
* ``to_chat_messages(item, *, system_prompt=None, prompt=None, target=..., include_target=True)`` and
  ``prompt_messages(input, *, system_prompt=None, prompt=None)``: THE rendering of an item as chat
  messages (training and serving must use the same one);
* ``training_set(dataset, *, version, split, system_prompt, prompt, labels, teacher, ...) ->
  TrainingSet`` (``.examples``, ``.openai_chat_records()``, ``.to_hf()``), ``export_dataset(dataset,
  path, format=...)`` and ``write_training_set``; ``teacher_answers(dataset, teacher=None)`` gives the
  newest teacher label per item key (for student-vs-teacher agreement);
* ``teacher_agreement(dataset, *, teacher=None, prompt=None) -> TeacherAgreement``: the teacher's
  labels against the human answers of the items that have both (per field, mean with its interval);
  ``.trusted_fields(floor)`` is what ``finetune(..., teacher_floor=floor)`` trains on of its labels.
"""

from typing import TYPE_CHECKING

from loopstack._lazy import lazy_names

if TYPE_CHECKING:
    from loopstack.flywheel.batch import BatchExport, BatchImport, export_batch, import_batch
    from loopstack.flywheel.chat import (
        prompt_messages,
        read_system_prompt,
        render_user,
        resolve_prompt,
        target_text,
        to_chat_messages,
    )
    from loopstack.flywheel.curation import CurationReport, curate, format_report, span_criteria
    from loopstack.flywheel.export import (
        TrainingExample,
        TrainingSet,
        export_dataset,
        teacher_answers,
        training_set,
        write_training_set,
    )
    from loopstack.flywheel.label import LabelReport, label_dataset, label_dataset_async, plan_labels
    from loopstack.flywheel.trust import TeacherAgreement, teacher_agreement
    from loopstack.store.curation import SpanCriteria
    from loopstack.store.teacher_labels import TeacherLabel

_LAZY = {
    "BatchExport": "loopstack.flywheel.batch",
    "BatchImport": "loopstack.flywheel.batch",
    "export_batch": "loopstack.flywheel.batch",
    "import_batch": "loopstack.flywheel.batch",
    "prompt_messages": "loopstack.flywheel.chat",
    "read_system_prompt": "loopstack.flywheel.chat",
    "render_user": "loopstack.flywheel.chat",
    "resolve_prompt": "loopstack.flywheel.chat",
    "target_text": "loopstack.flywheel.chat",
    "to_chat_messages": "loopstack.flywheel.chat",
    "CurationReport": "loopstack.flywheel.curation",
    "curate": "loopstack.flywheel.curation",
    "format_report": "loopstack.flywheel.curation",
    "span_criteria": "loopstack.flywheel.curation",
    "TrainingExample": "loopstack.flywheel.export",
    "TrainingSet": "loopstack.flywheel.export",
    "export_dataset": "loopstack.flywheel.export",
    "teacher_answers": "loopstack.flywheel.export",
    "training_set": "loopstack.flywheel.export",
    "write_training_set": "loopstack.flywheel.export",
    "LabelReport": "loopstack.flywheel.label",
    "label_dataset": "loopstack.flywheel.label",
    "label_dataset_async": "loopstack.flywheel.label",
    "plan_labels": "loopstack.flywheel.label",
    "SpanCriteria": "loopstack.store.curation",
    "TeacherLabel": "loopstack.store.teacher_labels",
    "TeacherAgreement": "loopstack.flywheel.trust",
    "teacher_agreement": "loopstack.flywheel.trust",
}


# -- parts 4-7: fine-tune, student vs teacher, serve, promote, the demo ---------------------------
_TRAIN = {
    "FinetuneResult": "loopstack.flywheel._finetune",
    "finetune": "loopstack.flywheel._finetune",
    "loss_curve_svg": "loopstack.flywheel._finetune_curve",
}
_LAZY.update(_TRAIN)


__getattr__ = lazy_names(__name__, _LAZY)

__all__ = [
    "BatchExport",
    "BatchImport",
    "CurationReport",
    "LabelReport",
    "SpanCriteria",
    "TeacherAgreement",
    "TeacherLabel",
    "TrainingExample",
    "TrainingSet",
    "curate",
    "export_batch",
    "export_dataset",
    "format_report",
    "import_batch",
    "label_dataset",
    "label_dataset_async",
    "plan_labels",
    "prompt_messages",
    "read_system_prompt",
    "render_user",
    "resolve_prompt",
    "span_criteria",
    "target_text",
    "teacher_agreement",
    "teacher_answers",
    "to_chat_messages",
    "training_set",
    "write_training_set",
]
__all__ += sorted(_TRAIN)
