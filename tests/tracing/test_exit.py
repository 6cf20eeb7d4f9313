"""With the server down (a black hole that never answers), a traced app still exits within the bound."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

APP = textwrap.dedent(
    """
    import sys
    import loopstack

    loopstack.init(endpoint=sys.argv[1], flush_timeout=1.0)

    @loopstack.observe
    def handle(x):
        return {"answer": x * 2}

    for i in range(5000):
        handle(i)
    print("calls done", loopstack.dropped_spans() > 0, flush=True)
    """
)


@pytest.fixture
def black_hole() -> Iterator[str]:
    """An address that accepts TCP connections (in the kernel backlog) and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


def test_app_exits_within_the_flush_timeout_when_the_server_hangs(black_hole: str, tmp_path: Path) -> None:
    script = tmp_path / "app.py"
    script.write_text(APP)
    # Without the bound, the exporter's retries and the SDK's 30 s shutdown would keep the process alive.
    result = subprocess.run(
        [sys.executable, str(script), black_hole], capture_output=True, text=True, timeout=15
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "calls done True"  # the full queue dropped spans instead of blocking
    assert "Traceback" not in result.stderr


def test_init_before_importing_openai_still_instruments_it(tmp_path: Path) -> None:
    script = tmp_path / "late.py"
    script.write_text(
        "import loopstack\nloopstack.init()\nimport openai\n"
        "from openai.resources.chat.completions import AsyncCompletions, Completions\n"
        "print(hasattr(Completions.create, '__loopstack_traced__'),"
        " hasattr(AsyncCompletions.create, '__loopstack_traced__'))\n"
    )
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True True"
