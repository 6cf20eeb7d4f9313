"""``loopstack serve-model``: any Loopstack model behind an OpenAI-compatible chat completions API.

``/v1/models`` and ``/v1/chat/completions`` (plain JSON, or ``stream: true`` as server-sent events in
OpenAI's ``chat.completion.chunk`` shape), so an app switches to the student by changing its base
URL. Calls go through the models layer: a local model runs on its dynamic batcher (concurrent requests
share one ``generate``), every call is costed and traced like any other. Errors use OpenAI's error
body: 400 for a malformed request, 404 for another model name, 502 when the model fails.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant", "developer"]
    content: str | list[dict[str, Any]]

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")


class _StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")
    include_usage: bool = False


class ChatRequest(BaseModel):
    """The part of OpenAI's chat completions request a Loopstack model honours (other keys ignored)."""

    model_config = ConfigDict(extra="ignore")

    model: str
    messages: list[_Message] = Field(min_length=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    max_tokens: int | None = Field(default=None, gt=0)
    max_completion_tokens: int | None = Field(default=None, gt=0)
    stop: str | list[str] | None = None
    seed: int | None = None
    stream: bool = False
    stream_options: _StreamOptions | None = None
    response_format: dict[str, Any] | None = None

    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in ("temperature", "top_p", "seed"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        limit = self.max_completion_tokens or self.max_tokens
        if limit is not None:
            out["max_tokens"] = limit
        if self.stop is not None:
            out["stop"] = [self.stop] if isinstance(self.stop, str) else self.stop
        if self.response_format and self.response_format.get("type") == "json_object":
            out["response_format"] = "json"
        return out

    def chat(self) -> list[dict[str, str]]:
        return [
            {"role": "system" if m.role == "developer" else m.role, "content": m.text()}
            for m in self.messages
        ]


def _error(status: int, message: str, kind: str, code: str | None = None) -> JSONResponse:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return JSONResponse(body, status_code=status)


def create_openai_app(model: str, *, name: str | None = None) -> FastAPI:
    """The ASGI app serving ``model`` (a model string) under ``name`` (default: the model string;
    requests may name either)."""
    from loopstack.errors import LoopstackError
    from loopstack.models import BadRequest, ModelRequest, ProviderError, get_model

    served = get_model(model)  # an unknown model fails here, at start-up
    public = name or model
    created = int(time.time())
    app = FastAPI(title=f"Loopstack: {public}", docs_url=None, redoc_url=None)

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [{"id": public, "object": "model", "created": created, "owned_by": "loopstack"}],
        }

    @app.post("/v1/chat/completions", response_model=None)
    async def chat(request: Request) -> Any:
        try:
            body = ChatRequest.model_validate(await request.json())
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "body"
            return _error(400, f"{where}: {err['msg']}", "invalid_request_error")
        except ValueError:
            return _error(400, "the body is not JSON", "invalid_request_error")
        if body.model not in (public, model):
            return _error(404, f"model {body.model!r} is not served here (this server serves {public!r})",
                          "invalid_request_error", "model_not_found")  # fmt: skip
        try:
            req = ModelRequest.of(body.chat(), **body.params())
        except LoopstackError as exc:
            return _error(400, str(exc), "invalid_request_error")
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        if body.stream:
            include_usage = bool(body.stream_options and body.stream_options.include_usage)
            return StreamingResponse(
                _stream(served, req, completion_id, public, include_usage), media_type="text/event-stream"
            )
        try:
            response = await served.generate(req)
        except BadRequest as exc:
            return _error(400, str(exc), "invalid_request_error")
        except ProviderError as exc:
            return _error(502, str(exc), "api_error")
        return {
            "id": completion_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": public,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": response.text},
                    "finish_reason": response.finish_reason or "stop",
                }
            ],
            "usage": _usage(response),
        }

    return app


def _usage(response: Any) -> dict[str, int]:
    u = response.usage
    return {
        "prompt_tokens": u.input_tokens,
        "completion_tokens": u.output_tokens,
        "total_tokens": u.total_tokens,
    }


async def _stream(
    served: Any, request: Any, completion_id: str, public: str, include_usage: bool
) -> AsyncIterator[bytes]:
    """SSE events: a role delta, the text as it is generated, the finish reason, (usage), ``[DONE]``."""
    from loopstack.models import ProviderError

    queue: asyncio.Queue[str | None] = asyncio.Queue()
    created = int(time.time())

    def event(delta: dict[str, Any], finish: str | None = None, usage: dict[str, int] | None = None) -> bytes:
        chunk: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": public,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if usage is None else [],
        }
        if usage is not None:
            chunk["usage"] = usage
        return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode()

    task = asyncio.create_task(served.generate(request, on_text=queue.put_nowait))
    task.add_done_callback(lambda _: queue.put_nowait(None))
    yield event({"role": "assistant", "content": ""})
    while (chunk := await queue.get()) is not None:
        if chunk:
            yield event({"content": chunk})
    try:
        response = task.result()
    except ProviderError as exc:
        error = {"error": {"message": str(exc), "type": "api_error", "param": None, "code": None}}
        yield f"data: {json.dumps(error)}\n\n".encode()
        yield b"data: [DONE]\n\n"
        return
    yield event({}, response.finish_reason or "stop")
    if include_usage:
        yield event({}, usage=_usage(response))
    yield b"data: [DONE]\n\n"


def serve_model(
    model: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    name: str | None = None,
    log_level: str = "warning",
    announce: Callable[[str], None] | None = None,
) -> None:
    """Run the server until interrupted; ``announce`` gets the base URL once the model has loaded (an
    unknown model fails before anything says it is serving)."""
    import uvicorn

    app = create_openai_app(model, name=name)
    if announce is not None:
        announce(f"http://{host}:{port}/v1")
    uvicorn.run(app, host=host, port=port, log_level=log_level)
