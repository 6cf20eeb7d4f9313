"""A local OpenAI-compatible chat server for the resume test and the throughput bench.

It echoes the last user message after ``--latency`` seconds and, with ``--log FILE``, appends every
request's last user message to FILE *before* answering (so a request killed in flight still counts).
Run: ``python tests/evals/openai_stub.py --latency 0.05 [--log calls.txt]``; it prints ``PORT <n>``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from aiohttp import web


def make_app(latency: float, log_path: str | None) -> web.Application:
    log = open(log_path, "a", buffering=1, encoding="utf-8") if log_path else None  # noqa: SIM115

    async def chat(request: web.Request) -> web.Response:
        body: dict[str, Any] = await request.json()
        text = str(body["messages"][-1]["content"])
        if log is not None:
            log.write(json.dumps(text) + "\n")
        if latency:
            await asyncio.sleep(latency)
        return web.json_response(
            {
                "id": "chatcmpl-stub",
                "object": "chat.completion",
                "model": body.get("model", "stub"),
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": len(text.split()), "completion_tokens": len(text.split())},
            }
        )

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    return app


async def _serve(port: int, latency: float, log_path: str | None) -> None:
    runner = web.AppRunner(make_app(latency, log_path), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=1024)
    await site.start()
    server = site._server
    assert server is not None
    actual = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"PORT {actual}", flush=True)
    await asyncio.Event().wait()


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
