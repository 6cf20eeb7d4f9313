"""A stored calibration is shown where the judge's scores are: the API, the run page; on both dialects."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from loopstack.config import Settings
from loopstack.evals.runner import evaluate
from loopstack.models import forget_models, get_model
from loopstack.safety.calibration import calibrate_from_dataset, save_calibration
from loopstack.store import Store
from loopstack.store.scores import ScoreRepository


@pytest.fixture(autouse=True)
def _fresh_models() -> Iterator[None]:
    forget_models()
    yield
    forget_models()


def _calibrated(store: Store, tmp_path: Path) -> str:
    rows = [{"id": f"t{i:02d}", "text": f"quality={1 + i % 5}", "human": 1 + i % 5} for i in range(20)]
    data = tmp_path / "rated.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    get_model("mock/app", fn=lambda r: r.messages[-1].content)
    get_model(
        "mock/judge",
        fn=lambda r: json.dumps({"score": int(re.search(r"quality=(\d)", r.messages[-1].content).group(1))}),  # type: ignore[union-attr]
    )
    suite = {
        "dataset": str(data),
        "prompts": [{"messages": [{"role": "user", "content": "{{ text }}"}]}],
        "models": ["mock/app"],
        "scorers": [{"scorer": "rubric_judge", "name": "quality", "params": {"model": "mock/judge"}}],
    }
    result = evaluate(suite, store=store)
    cal = calibrate_from_dataset("quality", str(data), "human", store=store, project="default")
    save_calibration(store, "default", cal)
    assert len(ScoreRepository(store).run_scores(result.runs[0].run.id, "quality", source="llm")) == 20
    return result.runs[0].run.id


def test_api_returns_the_calibration_and_404s_an_uncalibrated_judge(store: Store, tmp_path: Path) -> None:
    from loopstack.server import create_app

    _calibrated(store, tmp_path)
    app = create_app(Settings(), store, ui=False)

    async def get(path: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8765") as c:
            return await c.get(path)

    try:
        found = asyncio.run(get("/api/judges/quality/calibration"))
        missing = asyncio.run(get("/api/judges/helpfulness/calibration"))
    finally:
        app.state.writer.close()
    assert found.status_code == 200
    body = found.json()
    assert body["badge"] == "reliable" and body["agreement"]["n"] == 20
    assert body["agreement"]["alpha"]["value"] == pytest.approx(1.0)
    assert missing.status_code == 404 and "has no calibration" in missing.text


def test_run_page_shows_the_badge_next_to_the_judge(store: Store, tmp_path: Path) -> None:
    from fastapi import FastAPI
    from starlette.testclient import TestClient

    from loopstack.ui import mount_ui

    run_id = _calibrated(store, tmp_path)
    app = FastAPI()
    mount_ui(app, store)
    with TestClient(app, base_url="http://testserver") as client:
        page = client.get(f"/ui/runs/{run_id}")
    assert page.status_code == 200
    section = page.text.split('id="judge-calibration"')[1].split("</table>")[0]
    assert "quality" in section and "reliable" in section and "<td>20</td>" in section
