"""Helpers for server tests: OTLP payloads from the real OTel SDK, and a real ``loopstack serve``."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

PROTOBUF = {"content-type": "application/x-protobuf"}
JSON = {"content-type": "application/json"}


SpanSpec = dict[str, Any]


def otlp_protobuf(specs: list[SpanSpec], service: str = "test-app") -> bytes:
    """An OTLP protobuf export of spans made by the real OTel SDK: each spec is a name + attributes,
    nested under the previous spec when it says ``child: True``."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("tests")

    def run(i: int) -> None:
        if i >= len(specs):
            return
        spec = specs[i]
        with tracer.start_as_current_span(spec["name"], attributes=spec.get("attributes")):
            if i + 1 < len(specs) and specs[i + 1].get("child"):
                run(i + 1)
                return
        run(i + 1)

    run(0)
    return bytes(encode_spans(exporter.get_finished_spans()).SerializeToString())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """``loopstack serve`` in a subprocess on 127.0.0.1."""

    def __init__(self, home: Path, env: dict[str, str] | None = None) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "LOOPSTACK_HOME": str(home), **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> LiveServer:
        exe = Path(sys.executable).parent / "loopstack"
        self.proc = subprocess.Popen(
            [str(exe), "serve", "--port", str(self.port)],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                out = self.proc.stdout.read().decode() if self.proc.stdout else ""
                raise RuntimeError(f"server exited: {out}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
