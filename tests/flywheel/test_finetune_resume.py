"""kill -9 during fine-tuning, then run again: training resumes from the last checkpoint, not step 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from loopstack.flywheel._finetune_train import last_checkpoint

# The child slows each step down a little (a callback added to the real trainer), so the kill lands
# mid-training on any machine, however fast.
CHILD = r"""
import sys, time
from transformers import TrainerCallback
import loopstack.flywheel._finetune_train as ft

class Slow(TrainerCallback):
    def on_step_end(self, args, state, control, **kw):
        time.sleep(0.3)

original = ft.build_trainer
def slow_trainer(*a, **kw):
    trainer, device = original(*a, **kw)
    trainer.add_callback(Slow())
    return trainer, device
ft.build_trainer = slow_trainer

from loopstack.flywheel import finetune
finetune("toy", name="resumed", base="local/" + sys.argv[1], epochs=2, lr=3e-2, batch_size=4, save_steps=2)
print("FINISHED")
"""


def test_kill_9_mid_training_then_resume_from_the_last_checkpoint(
    tiny_model: Path, toy_dataset: str, loopstack_home: Path
) -> None:
    from loopstack.flywheel import finetune
    from loopstack.models._finetuned import finetuned_models

    out = loopstack_home / "finetune" / "resumed"
    env = {**os.environ, "LOOPSTACK_HOME": str(loopstack_home)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tiny_model)], env=env, stdout=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while last_checkpoint(out / "checkpoints") is None:
            assert child.poll() is None, "the child ended before its first checkpoint"
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    assert b"FINISHED" not in (child.stdout.read() if child.stdout else b"")
    assert finetuned_models() == []  # nothing half-trained is registered
    checkpoint = last_checkpoint(out / "checkpoints")
    assert checkpoint is not None
    killed_at = int(checkpoint.name.split("-")[1])
    assert 2 <= killed_at < 14

    result = finetune(
        toy_dataset, name="resumed", base=f"local/{tiny_model}", epochs=2, lr=3e-2, batch_size=4, save_steps=2
    )
    assert result.resumed_from_step is not None and result.resumed_from_step >= killed_at
    assert result.steps == 14  # 28 examples / 4 per batch x 2 epochs, counted across both runs
    assert [e.name for e in finetuned_models()] == ["resumed"]


def test_checkpoints_of_another_fine_tune_are_refused(
    tiny_model: Path, toy_dataset: str, loopstack_home: Path
) -> None:
    import pytest

    from loopstack.errors import InvalidInput
    from loopstack.flywheel import finetune

    finetune(
        toy_dataset,
        name="twice",
        base=f"local/{tiny_model}",
        epochs=1,
        batch_size=4,
        save_steps=2,
        max_steps=2,
    )
    with pytest.raises(InvalidInput, match="different fine-tune .*settings"):
        finetune(
            toy_dataset,
            name="twice",
            base=f"local/{tiny_model}",
            epochs=1,
            lr=0.5,
            batch_size=4,
            save_steps=2,
            max_steps=2,
        )
