"""The models-layer PII policy: external providers get masked requests (or none), the span says so.

The external provider is the OpenAI-compatible stub (tests/evals/openai_stub.py) in its own process; it
logs the last user message of every request it receives, which is what "left the process".
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pii_seeds import SEEDED_TEXT, SEEDS

from loopstack.models import RequestRefused, forget_models, get_model, request_policies
from loopstack.safety import (
    apply_project_pii_policy,
    disable_pii_policy,
    enable_pii_policy,
    set_project_pii_policy,
)
from loopstack.store import Store

STUB = Path(__file__).parents[1] / "evals" / "openai_stub.py"
_exporter = InMemorySpanExporter()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    current = trace.get_tracer_provider()
    if not isinstance(current, TracerProvider):
        trace.set_tracer_provider(TracerProvider())
        current = trace.get_tracer_provider()
    assert isinstance(current, TracerProvider)
    if not getattr(current, "_loopstack_pii_test", False):
        current.add_span_processor(SimpleSpanProcessor(_exporter))
        current._loopstack_pii_test = True  # type: ignore[attr-defined]
    _exporter.clear()
    yield _exporter
    _exporter.clear()


@pytest.fixture(autouse=True)
def clean() -> Iterator[None]:
    forget_models()
    disable_pii_policy()
    yield
    disable_pii_policy()
    forget_models()


@pytest.fixture
def stub(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    log = tmp_path / "received.txt"
    proc = subprocess.Popen([sys.executable, str(STUB), "--log", str(log)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("PORT "), line
    yield f"http://127.0.0.1:{line.split()[1]}/v1", log
    proc.terminate()
    proc.wait(timeout=10)


def _received(log: Path) -> list[str]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


async def test_mask_sends_no_seeded_value_and_the_span_records_it(
    stub: tuple[str, Path], spans: InMemorySpanExporter
) -> None:
    url, log = stub
    masker = enable_pii_policy("mask")
    assert masker is not None
    before = masker.counts["IBAN_CODE"]  # one masker per config in the process: counts accumulate
    model = get_model("openai-compatible/stub", base_url=url)
    response = await model.generate(SEEDED_TEXT)
    (sent,) = _received(log)
    for value in SEEDS.values():
        assert value not in sent
    assert "<EMAIL_1>" in sent and "<IBAN_1>" in sent and "charged twice" in sent
    assert response.text == sent  # the stub echoes what it received
    (span,) = spans.get_finished_spans()
    attrs = dict(span.attributes or {})
    assert attrs["loopstack.pii.masked"] is True
    assert attrs["loopstack.pii.count.EMAIL_ADDRESS"] == 1 and attrs["loopstack.pii.count.CREDIT_CARD"] == 1
    assert SEEDS["EMAIL_ADDRESS"] not in str(attrs["loopstack.input"])  # the span shows what was sent
    assert masker.counts["IBAN_CODE"] == before + 1


async def test_refuse_sends_nothing_and_says_why(stub: tuple[str, Path], spans: InMemorySpanExporter) -> None:
    url, log = stub
    enable_pii_policy("refuse")
    model = get_model("openai-compatible/stub", base_url=url)
    with pytest.raises(RequestRefused, match=r"holds PII \(CREDIT_CARD ×1, EMAIL_ADDRESS ×1"):
        await model.generate(SEEDED_TEXT)
    assert _received(log) == []
    (span,) = spans.get_finished_spans()
    assert span.attributes is not None and span.attributes["error.type"] == "RequestRefused"
    answer = await model.generate("What are your opening hours?")  # no PII: sent as it is
    assert answer.text == "What are your opening hours?"


async def test_local_and_mock_providers_are_not_external() -> None:
    enable_pii_policy("refuse")
    model = get_model("mock/echo", outputs=["fine"])
    assert (await model.generate(SEEDED_TEXT)).text == "fine"
    assert model.provider.requests[0].messages[0].content == SEEDED_TEXT  # type: ignore[attr-defined]


def test_the_project_setting_installs_the_policy(store: Store) -> None:
    apply_project_pii_policy(store, "default")
    assert request_policies() == {}
    set_project_pii_policy(store, "default", external="refuse")
    assert apply_project_pii_policy(store, "default").external == "refuse"
    assert list(request_policies()) == ["loopstack.safety.pii"]
    set_project_pii_policy(store, "default", external="off")
    apply_project_pii_policy(store, "default")
    assert request_policies() == {}
