"""Fine-tuning a tiny randomly initialised Llama: loss goes down, the model is registered and answers."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from loopstack.errors import InvalidInput, NotFound
from loopstack.models import UnknownModel


def _finetune(dataset: str, base: Path, **kw):
    from loopstack.flywheel import finetune

    params = dict(name="tiny-student", base=f"local/{base}", epochs=3, lr=3e-2, batch_size=4, seed=1)
    params.update(kw)
    return finetune(dataset, **params)


def test_loss_goes_down_and_the_model_is_registered_and_generates(tiny_model: Path, toy_dataset: str) -> None:
    from loopstack.models import get_model
    from loopstack.models._finetuned import finetuned_model

    result = _finetune(toy_dataset, tiny_model)
    losses = [v for _, v in result.train_loss]
    assert len(losses) == result.steps >= 20
    assert sum(losses[-3:]) / 3 < 0.7 * sum(losses[:3]) / 3
    assert result.train_examples == 28 and result.validation_examples == 4
    assert result.skipped == {"test split": 8}  # the held-out split is never trained on
    assert len(result.eval_loss) == 3  # one validation loss per epoch
    assert result.curve is not None and "<svg" in result.curve.read_text()
    entry = finetuned_model("tiny-student")
    assert entry is not None and entry.model == "local/tiny-student" and entry.messages == result.messages
    answer = asyncio.run(get_model("local/tiny-student").generate("text: the app is great", max_tokens=6))
    assert answer.usage.output_tokens >= 1
    from loopstack.models import catalog

    assert "local/tiny-student" in catalog()["models"]  # loopstack models lists it
    report = json.loads((result.output / "report.json").read_text())
    assert report["model"] == "local/tiny-student"


def test_the_adapter_loads_on_the_base_and_generates(tiny_model: Path, toy_dataset: str) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    result = _finetune(toy_dataset, tiny_model, epochs=1)
    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    model = PeftModel.from_pretrained(base, result.output / "adapter").eval()
    tok = AutoTokenizer.from_pretrained(result.output / "adapter")
    enc = tok("text: the app is slow", return_tensors="pt")
    with torch.inference_mode():
        out = model.generate(**enc, max_new_tokens=4, do_sample=False, pad_token_id=tok.pad_token_id)
    assert out.shape[1] > enc["input_ids"].shape[1]


def test_loss_falls_on_the_assistant_tokens_only(
    tiny_model: Path, tmp_path: Path, loopstack_home: Path
) -> None:
    from transformers import AutoTokenizer

    from flywheel.conftest import toy_items
    from loopstack.flywheel._finetune_data import build_examples, student_messages
    from loopstack.flywheel._finetune_train import TrainSettings, build_trainer
    from loopstack.store import get_store
    from loopstack.store.datasets import DatasetRepository

    DatasetRepository(get_store(), "default").push("toy", toy_items())
    examples = build_examples("toy", student_messages("Classify.", ["text"]))
    trainer, _ = build_trainer(str(tiny_model), examples.train, [], TrainSettings(), tmp_path / "ck")
    tok = AutoTokenizer.from_pretrained(tiny_model)
    for example, row in zip(examples.train[:5], trainer.train_dataset, strict=False):
        ids, labels = row["input_ids"], row["labels"]
        trained = [i for i, lab in zip(ids, labels, strict=True) if lab != -100]
        answer = example["completion"][0]["content"]
        # exactly the assistant's answer and its end-of-turn token: no system, user or role tokens
        assert tok.decode(trained) == answer + "<|im_end|>\n"
        prompt_part = tok.decode([i for i, lab in zip(ids, labels, strict=True) if lab == -100])
        assert "Classify." in prompt_part and example["prompt"][1]["content"] in prompt_part
        assert prompt_part.endswith("<|im_start|>assistant\n")


def test_bad_input_is_one_clear_error_and_nothing_is_registered(
    tiny_model: Path, loopstack_home: Path
) -> None:
    from loopstack.flywheel import finetune
    from loopstack.models._finetuned import finetuned_models
    from loopstack.store import get_store
    from loopstack.store.datasets import DatasetItem, DatasetRepository

    repo = DatasetRepository(get_store(), "default")
    repo.push(
        "unlabelled", [DatasetItem(key="a", input={"text": "x"}), DatasetItem(key="b", input={"text": "y"})]
    )
    repo.push("only-test", [DatasetItem(key="a", input={"text": "x"}, expected="pos", split="test")])
    with pytest.raises(InvalidInput, match="has no item with an expected output or a teacher label"):
        finetune("unlabelled", name="s", base=f"local/{tiny_model}")
    with pytest.raises(InvalidInput, match="no valid training examples .*1 test split"):
        finetune("only-test", name="s", base=f"local/{tiny_model}")
    with pytest.raises(NotFound, match="no dataset 'nope'"):
        finetune("nope", name="s", base=f"local/{tiny_model}")
    repo.push("ok", [DatasetItem(key="a", input={"text": "x"}, expected="pos")])
    with pytest.raises(UnknownModel, match="base model 'local/no-such-model' cannot be found"):
        finetune("ok", name="s", base="local/no-such-model")
    with pytest.raises(UnknownModel, match="cannot be found"):
        finetune("ok", name="s", base=str(loopstack_home / "missing-folder"))
    with pytest.raises(InvalidInput, match="--name"):
        finetune("ok", name="Bad Name", base=f"local/{tiny_model}")
    assert finetuned_models() == []


def test_labels_choose_human_answers_teacher_labels_or_both(loopstack_home: Path) -> None:
    """``--labels``: the human answer else the teacher's (default), human answers only, teacher only."""
    from loopstack.flywheel._finetune_data import build_examples, student_messages
    from loopstack.store import get_store
    from loopstack.store.datasets import DatasetItem, DatasetRepository
    from loopstack.store.teacher_labels import TeacherLabel, TeacherLabelRepository

    store = get_store()
    repo = DatasetRepository(store, "default")
    items = [
        DatasetItem(
            key=f"k{i:02d}", input={"text": f"t{i}"}, expected="human" if i < 12 else None, split="train"
        )
        for i in range(20)
    ]
    repo.push("mixed", items)
    TeacherLabelRepository(store, "default", repo.get("mixed").id).save(
        [TeacherLabel(item_key=f"k{i:02d}", teacher="local/t", output="teacher") for i in range(8, 20)]
    )
    messages = student_messages("Classify.", ["text"])

    def answers(labels: str) -> list[str]:
        ex = build_examples("mixed", messages, labels=labels)  # type: ignore[arg-type]
        return sorted(e["completion"][0]["content"] for e in ex.train + ex.validation)

    assert answers("expected-then-teacher") == ["human"] * 12 + ["teacher"] * 8
    assert answers("expected") == ["human"] * 12
    assert answers("teacher") == ["teacher"] * 12
    left_out = build_examples("mixed", messages, labels="expected").skipped
    assert left_out == {"no expected output": 8}
    with pytest.raises(InvalidInput, match="labels 'people'"):
        build_examples("mixed", messages, labels="people")  # type: ignore[arg-type]
