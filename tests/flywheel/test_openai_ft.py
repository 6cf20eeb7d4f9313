"""The OpenAI fine-tuning backend against a local stub of the files and fine_tuning/jobs endpoints."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from loopstack.errors import InvalidInput, LoopstackError


class Stub:
    def __init__(self, outcome: str = "succeeded") -> None:
        self.outcome = outcome
        self.uploads: list[bytes] = []
        self.jobs: list[dict[str, Any]] = []
        self.polls = 0
        self.auth: list[str] = []


@pytest.fixture
def stub() -> Iterator[tuple[Stub, str]]:
    state = Stub()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, data: dict[str, Any], status: int = 200) -> None:
            body = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            state.auth.append(self.headers.get("Authorization", ""))
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path == "/v1/files":
                state.uploads.append(raw)
                self._send({"id": f"file-{len(state.uploads)}", "object": "file", "purpose": "fine-tune"})
            elif self.path == "/v1/fine_tuning/jobs":
                state.jobs.append(json.loads(raw))
                self._send({"id": "ftjob-1", "status": "validating_files"})
            else:
                self._send({"error": {"message": "no such route"}}, 404)

        def do_GET(self) -> None:
            if self.path != "/v1/fine_tuning/jobs/ftjob-1":
                self._send({"error": {"message": "no such job"}}, 404)
                return
            state.polls += 1
            if state.polls < 3:
                self._send({"id": "ftjob-1", "status": "running"})
            elif state.outcome == "succeeded":
                model = "ft:gpt-4o-mini-2024-07-18:acme:toy-student:abc123"
                self._send(
                    {"id": "ftjob-1", "status": "succeeded", "fine_tuned_model": model, "trained_tokens": 999}
                )
            else:
                self._send(
                    {"id": "ftjob-1", "status": "failed", "error": {"message": "invalid training file"}}
                )

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def _run(dataset: str, base_url: str, **kw: Any) -> Any:
    from loopstack.flywheel import finetune

    return finetune(
        dataset,
        name="toy-student",
        base="gpt-4o-mini-2024-07-18",
        backend="openai",
        system_prompt="Label the text.",
        openai={"base_url": base_url, "api_key": "sk-test", "poll_interval": 0.01},
        **kw,
    )


def test_upload_create_poll_and_register(stub: tuple[Stub, str], toy_dataset: str) -> None:
    from loopstack.models import get_model
    from loopstack.models._finetuned import finetuned_model

    state, url = stub
    result = _run(toy_dataset, url, epochs=2)
    assert result.model == "openai/ft:gpt-4o-mini-2024-07-18:acme:toy-student:abc123"
    assert len(state.uploads) == 2  # train and validation files
    assert b'name="purpose"' in state.uploads[0] and b"fine-tune" in state.uploads[0]
    lines = [json.loads(x) for x in state.uploads[0].split(b"\n") if x.startswith(b'{"messages"')]
    assert len(lines) == 28
    roles = [m["role"] for m in lines[0]["messages"]]
    assert roles == ["system", "user", "assistant"]
    assert lines[0]["messages"][0]["content"] == "Label the text."
    assert json.loads(lines[0]["messages"][2]["content"]) in ({"label": "pos"}, {"label": "neg"})
    job = state.jobs[0]
    assert job["model"] == "gpt-4o-mini-2024-07-18" and job["training_file"] == "file-1"
    assert job["validation_file"] == "file-2" and job["hyperparameters"] == {"n_epochs": 2}
    assert state.polls == 3 and all(a == "Bearer sk-test" for a in state.auth)
    entry = finetuned_model("toy-student")
    assert entry is not None and entry.model == result.model and entry.backend == "openai"
    assert get_model(result.model).name == result.model  # a model string like any other


def test_a_failed_job_registers_nothing(stub: tuple[Stub, str], toy_dataset: str) -> None:
    from loopstack.models._finetuned import finetuned_models

    state, url = stub
    state.outcome = "failed"
    with pytest.raises(LoopstackError, match="ftjob-1 failed: invalid training file; nothing registered"):
        _run(toy_dataset, url)
    assert finetuned_models() == []


def test_bad_openai_requests_fail_before_any_upload(
    stub: tuple[Stub, str], toy_dataset: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from loopstack.flywheel import finetune

    state, url = stub
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(InvalidInput, match="needs an API key: set OPENAI_API_KEY"):
        finetune(toy_dataset, name="x", base="gpt-4o-mini", backend="openai", openai={"base_url": url})
    with pytest.raises(InvalidInput, match="fine-tunes an OpenAI model"):
        finetune(toy_dataset, name="x", backend="openai", openai={"base_url": url, "api_key": "k"})
    assert state.uploads == []
