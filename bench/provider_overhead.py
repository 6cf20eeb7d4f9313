"""Client overhead of our OpenAI-compatible provider vs the raw ``openai`` SDK vs a bare aiohttp loop.

A lean aiohttp stub answering every chat completion after 20 ms runs in a SEPARATE process (so its
work is not charged to the client's event loop). Each client sends 2,000 requests at concurrency 64;
the ideal wall time is 2,000 x 0.02 / 64 = 0.625 s. The clients run interleaved for a few rounds in
the same run and the median of each is compared.

    .venv/bin/python bench/provider_overhead.py [--requests 2000] [--concurrency 64] [--rounds 3]

Target: ours <= 1.5x the bare aiohttp loop.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import aiohttp
import orjson

LATENCY = 0.02
REPLY = orjson.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "model": "stub",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "positive"}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 42, "completion_tokens": 1, "total_tokens": 43},
    }
)
MESSAGES = [
    {"role": "system", "content": "Classify the review as positive or negative. Answer with one word."},
    {"role": "user", "content": "Review: The battery lasts all day and the screen is lovely."},
]


def serve(port: int) -> None:
    """The stub API (runs in the child process)."""
    from aiohttp import web

    async def completions(request: web.Request) -> web.Response:
        await request.read()
        await asyncio.sleep(LATENCY)
        return web.Response(body=REPLY, content_type="application/json")

    app = web.Application()
    app.router.add_post("/v1/chat/completions", completions)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, backlog=1024)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("stub server did not start")


async def drive(
    call: Callable[[], Awaitable[object]], requests: int, concurrency: int
) -> tuple[float, float]:
    """(wall seconds, client CPU ms per request) for ``requests`` calls by ``concurrency`` workers."""
    remaining = requests

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call()

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - wall, (time.process_time() - cpu) * 1000 / requests


async def bench(
    base: str, requests: int, concurrency: int, rounds: int
) -> dict[str, list[tuple[float, float]]]:
    from openai import AsyncOpenAI

    from loopstack.models import get_model

    ours = get_model("openai-compatible/stub", base_url=base, max_concurrency=concurrency, max_retries=0)

    async def call_ours() -> None:
        answer = await ours.generate(MESSAGES, temperature=0, max_tokens=5)
        assert answer.text == "positive"

    sdk = AsyncOpenAI(base_url=base, api_key="bench", max_retries=0)

    async def call_sdk() -> None:
        answer = await sdk.chat.completions.create(
            model="stub",
            messages=MESSAGES,  # type: ignore[arg-type]
            temperature=0,
            max_tokens=5,
        )
        assert answer.choices[0].message.content == "positive"

    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    url = f"{base}/chat/completions"
    body = {"model": "stub", "messages": MESSAGES, "temperature": 0, "max_tokens": 5}
    headers = {"Content-Type": "application/json"}

    async def call_bare() -> None:
        async with session.post(url, data=orjson.dumps(body), headers=headers) as resp:
            answer = orjson.loads(await resp.read())
        assert answer["choices"][0]["message"]["content"] == "positive"

    clients = {"bare aiohttp": call_bare, "loopstack": call_ours, "openai SDK": call_sdk}
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in clients}
    for call in clients.values():  # warm up pools and imports
        await drive(call, concurrency * 2, concurrency)
    for _ in range(rounds):
        for name, call in clients.items():
            results[name].append(await drive(call, requests, concurrency))
    await session.close()
    await sdk.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return

    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    try:
        wait_for(port)
        results = asyncio.run(
            bench(f"http://127.0.0.1:{port}/v1", args.requests, args.concurrency, args.rounds)
        )
    finally:
        server.terminate()
        server.wait()

    ideal = args.requests * LATENCY / args.concurrency
    print(f"{args.requests} requests, concurrency {args.concurrency}, stub latency {LATENCY * 1000:.0f} ms")
    print(f"ideal wall time: {ideal:.3f} s")
    print(f"{'client':<14} {'median s':>9} {'min s':>7} {'max s':>7} {'x ideal':>8} {'cpu ms/req':>11}")
    median = {name: statistics.median(w for w, _ in runs) for name, runs in results.items()}
    for name, runs in results.items():
        walls = [w for w, _ in runs]
        cpu = statistics.median(c for _, c in runs)
        print(
            f"{name:<14} {median[name]:>9.3f} {min(walls):>7.3f} {max(walls):>7.3f} "
            f"{median[name] / ideal:>7.2f}x {cpu:>11.3f}"
        )
    vs_bare = median["loopstack"] / median["bare aiohttp"]
    vs_sdk = median["loopstack"] / median["openai SDK"]
    print(f"loopstack / bare aiohttp: {vs_bare:.2f}x   loopstack / openai SDK: {vs_sdk:.2f}x")
    met = "yes" if vs_bare <= 1.5 else "no"
    print(f"BENCH provider_overhead ours_vs_bare={vs_bare:.2f}x target=<=1.5x met={met}")


if __name__ == "__main__":
    main()
