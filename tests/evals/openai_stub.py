"""A local OpenAI-compatible chat server for the resume test and the throughput bench.

It answers ``POST /v1/chat/completions`` by echoing the last user message after ``--latency``
seconds and, with ``--log FILE``, appends every request's last user message to FILE *before*
answering (so a request killed in flight still counts). It speaks just enough HTTP/1.1 (keep-alive,
Content-Length bodies) on a bare asyncio protocol, so the server costs little CPU and a benchmark
measures the client, not the stub.

Run: ``python tests/evals/openai_stub.py --latency 0.05 [--log calls.txt]``; it prints ``PORT <n>``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import IO, Any


class _ChatProtocol(asyncio.Protocol):
    def __init__(self, latency: float, log: IO[str] | None) -> None:
        self.latency = latency
        self.log = log
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end].decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            end = head_end + 4 + length
            if len(self.buffer) < end:
                return
            body, self.buffer = self.buffer[head_end + 4 : end], self.buffer[end:]
            self._answer(head.split(" ", 2)[1], body)

    def _answer(self, path: str, body: bytes) -> None:
        if path != "/v1/chat/completions":
            self._send(404, {"error": {"message": f"no route {path}"}})
            return
        request: dict[str, Any] = json.loads(body)
        text = str(request["messages"][-1]["content"])
        if self.log is not None:
            self.log.write(json.dumps(text) + "\n")
        words = len(text.split())
        reply = {
            "id": "chatcmpl-stub",
            "object": "chat.completion",
            "model": request.get("model", "stub"),
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": words, "completion_tokens": words},
        }
        loop = asyncio.get_running_loop()
        loop.call_later(self.latency, self._send, 200, reply)

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        body = json.dumps(payload).encode()
        reason = "OK" if status == 200 else "Not Found"
        head = (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
        )
        self.transport.write(head.encode() + body)


async def _serve(port: int, latency: float, log_path: str | None) -> None:
    log = open(log_path, "a", buffering=1, encoding="utf-8") if log_path else None  # noqa: SIM115
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _ChatProtocol(latency, log), "127.0.0.1", port, backlog=1024)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--log", default=None)
    args = parser.parse_args(argv)
    try:
        asyncio.run(_serve(args.port, args.latency, args.log))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
