"""The fine-tuned models page lists each registered student with its figures and loss curve."""

from __future__ import annotations

from pathlib import Path

import httpx


def test_models_page_shows_the_student_and_its_loss_curve(client: httpx.Client, loopstack_home: Path) -> None:
    from loopstack.flywheel._finetune_curve import loss_curve_svg
    from loopstack.models._finetuned import FinetunedModel, register_finetuned

    assert "No fine-tuned models yet" in client.get("/ui/models").text
    loopstack_home.mkdir(parents=True, exist_ok=True)
    curve = loopstack_home / "curve.svg"
    curve.write_text(loss_curve_svg([(1, 2.0), (2, 1.0)], [(2, 1.2)], title="s <b>"))
    register_finetuned(
        FinetunedModel(
            name="triage-student",
            model="local/triage-student",
            backend="local",
            base="local/smollm2-135m",
            dataset="triage-traffic",
            messages=[{"role": "system", "content": "Triage <now>."}],
            details={
                "steps": 2,
                "train_examples": 9,
                "seed": 0,
                "seconds": 3.0,
                "device": "cpu",
                "final_train_loss": 1.0,
                "eval_loss": [[2, 1.0, 1.2]],
                "curve": str(curve),
                "teacher_floor": 0.8,
                "teacher_fields": ["sentiment"],
            },
        )
    )
    page = client.get("/ui/models")
    assert "Teacher labels trained on: sentiment (agreement with people &ge; 0.8)." in page.text
    assert page.status_code == 200
    assert "local/triage-student" in page.text and "validation loss after epoch 1: 1.200" in page.text
    assert "Triage &lt;now&gt;." in page.text  # model text is escaped
    svg = client.get("/ui/models/triage-student/loss.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert "<polyline" in svg.text and "s &lt;b&gt;" in svg.text
    assert client.get("/ui/models/nope/loss.svg").status_code == 404
