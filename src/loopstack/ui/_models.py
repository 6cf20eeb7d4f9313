"""The fine-tuned models page: each registered student with its base, data, figures and loss curve."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from loopstack.models._finetuned import finetuned_model, finetuned_models
from loopstack.ui._context import UIContext
from loopstack.ui._render import render


def add_routes(router: APIRouter, ctx: UIContext) -> None:
    @router.get("/models", response_class=HTMLResponse, name="ui_models")
    def models(request: Request) -> HTMLResponse:
        return render(request, "models.html", models=finetuned_models())

    @router.get("/models/{name}/loss.svg", name="ui_model_loss")
    def loss_curve(name: str) -> Response:
        entry = finetuned_model(name[:100])
        curve = Path(str(entry.details.get("curve", ""))) if entry is not None else None
        if curve is None or not curve.is_file():
            return Response("no loss curve", status_code=404, media_type="text/plain")
        return Response(curve.read_text(encoding="utf-8"), media_type="image/svg+xml")
