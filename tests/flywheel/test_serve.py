"""serve-model answers the openai SDK: plain and streaming chat completions, models list, errors."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def serve() -> Iterator[object]:
    import uvicorn

    from loopstack.flywheel._serve import create_openai_app

    servers = []

    def start(model: str, name: str | None = None) -> str:
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                create_openai_app(model, name=name), host="127.0.0.1", port=port, log_level="error"
            )
        )
        threading.Thread(target=server.run, daemon=True).start()
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        servers.append(server)
        return f"http://127.0.0.1:{port}/v1"

    yield start
    for s in servers:
        s.should_exit = True


def test_the_openai_sdk_gets_answers_plain_and_streamed(serve) -> None:
    import openai

    from loopstack.models import get_model

    get_model("mock/student", mapping={"Great app": '{"sentiment": "positive"}'})
    client = openai.OpenAI(base_url=serve("mock/student", name="triage-student"), api_key="unused")
    assert [m.id for m in client.models.list()] == ["triage-student"]
    reply = client.chat.completions.create(
        model="triage-student",
        messages=[{"role": "system", "content": "Triage."}, {"role": "user", "content": "Great app"}],
        temperature=0,
    )
    assert reply.choices[0].message.content == '{"sentiment": "positive"}'
    assert reply.choices[0].finish_reason == "stop" and reply.usage.prompt_tokens == 3
    stream = client.chat.completions.create(
        model="triage-student",
        messages=[{"role": "user", "content": "Great app"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == '{"sentiment": "positive"}'
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 2


def test_errors_have_openai_shapes(serve) -> None:
    import openai

    client = openai.OpenAI(base_url=serve("mock/echo"), api_key="unused")
    with pytest.raises(openai.NotFoundError, match="not served here"):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.BadRequestError, match="temperature"):
        client.chat.completions.create(
            model="mock/echo", messages=[{"role": "user", "content": "hi"}], temperature=9
        )
    echo = client.chat.completions.create(
        model="mock/echo", messages=[{"role": "user", "content": "hi there"}]
    )
    assert echo.choices[0].message.content == "hi there"


def test_a_local_model_streams_token_by_token(serve, tiny_model: Path) -> None:
    import openai

    client = openai.OpenAI(base_url=serve(f"local/{tiny_model}", name="tiny"), api_key="unused")
    stream = client.chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "the app is great"}], max_tokens=6, stream=True
    )
    deltas = [c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content]
    assert len(deltas) >= 2  # text arrives as it is generated, not in one piece


def test_an_unknown_model_fails_before_the_command_says_it_is_serving() -> None:
    from click.testing import CliRunner

    from loopstack.cli.main import cli

    result = CliRunner().invoke(cli, ["serve-model", "local/no-such-model", "--port", "8999"])
    assert result.exit_code == 1
    assert "not a known local model" in str(result.exception or result.output)
    assert "Serving" not in result.output  # it once announced the server, then failed
