"""A masked project: its ingested spans (both dialects) and exported datasets hold no seeded value."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pii_seeds import SEEDED_TEXT, SEEDS
from sqlalchemy import select

from loopstack.cli.main import cli
from loopstack.config import Settings
from loopstack.errors import LoopstackError
from loopstack.safety import project_pii_policy, set_project_pii_policy
from loopstack.server import create_app
from loopstack.store import Store
from loopstack.store.project_settings import ProjectSettingsRepository
from loopstack.store.tables import project_settings, spans

PROTOBUF = {"content-type": "application/x-protobuf"}


def _otlp(texts: list[tuple[str, str]]) -> bytes:
    """One trace: a root span and a child per (input, output), recorded by the real OTel SDK."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "support-bot"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("app")
    with tracer.start_as_current_span("handle", attributes={"loopstack.input": texts[0][0]}):
        for i, (inp, out) in enumerate(texts):
            attrs = {
                "loopstack.input": inp,
                "loopstack.output": out,
                "note": f"from {SEEDS['EMAIL_ADDRESS']}",
            }
            with tracer.start_as_current_span(f"step-{i}", attributes=attrs) as span:
                span.add_event("lookup", {"detail": f"card {SEEDS['CREDIT_CARD']}"})
    return bytes(encode_spans(exporter.get_finished_spans()).SerializeToString())


def _stored(store: Store) -> list[dict[str, Any]]:
    with store.read() as conn:
        return [dict(r._mapping) for r in conn.execute(select(spans).order_by(spans.c.start_time))]


@pytest.fixture
async def client(store: Store) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(), store, ui=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8765") as c:
        yield c
    app.state.writer.close()


async def test_a_masked_project_stores_no_seeded_value_and_numbers_per_trace(
    client: httpx.AsyncClient, store: Store
) -> None:
    set_project_pii_policy(store, "default", ingest="placeholder")
    body = _otlp([(SEEDED_TEXT, f"Sorry! We wrote to {SEEDS['EMAIL_ADDRESS']}."), ("ok", "done")])
    response = await client.post("/v1/traces", content=body, headers=PROTOBUF)
    assert response.status_code == 200
    rows = _stored(store)
    assert len(rows) == 3
    dump = json.dumps(rows, default=str)
    for value in SEEDS.values():
        assert value not in dump
    step = next(r for r in rows if r["name"] == "step-0")
    # the same address is <EMAIL_1> in the input, the output, an attribute and the root span
    assert "<EMAIL_1>" in step["input"] and step["output"] == "Sorry! We wrote to <EMAIL_1>."
    assert step["attributes"]["note"] == "from <EMAIL_1>"
    assert step["events"][0]["attributes"]["detail"] == "card <CREDIT_CARD_1>"
    root = next(r for r in rows if r["name"] == "handle")
    assert root["input"] == step["input"]
    assert step["service_name"] == "support-bot" and step["trace_id"] == root["trace_id"]


async def test_an_unmasked_project_stores_text_as_it_came(client: httpx.AsyncClient, store: Store) -> None:
    set_project_pii_policy(store, "other", ingest="placeholder")  # another project's policy
    response = await client.post("/v1/traces", content=_otlp([(SEEDED_TEXT, "x")]), headers=PROTOBUF)
    assert response.status_code == 200
    assert any(r["input"] == SEEDED_TEXT for r in _stored(store))


def test_the_policy_is_one_row_per_project_and_a_bad_one_leaves_it(store: Store) -> None:
    set_project_pii_policy(store, "default", ingest="redact", external="refuse")
    with pytest.raises(Exception, match="unknown PII entity type 'SHOE'"):
        set_project_pii_policy(store, "default", config={"entities": ["SHOE"]})
    policy = project_pii_policy(store, "default")
    assert (policy.ingest, policy.external) == ("redact", "refuse")
    with store.read() as conn:
        assert len(conn.execute(select(project_settings)).all()) == 1
    ProjectSettingsRepository(store, "default").set("pii", None)
    assert project_pii_policy(store, "default").ingest == "off"


def test_cli_sets_shows_and_refuses_a_bad_recogniser(store: Store, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["pii", "set", "--ingest", "placeholder", "--external", "mask"])
    assert result.exit_code == 0, result.output
    assert "ingest placeholder, external mask (placeholder)" in result.output
    policy = project_pii_policy(store, "default")
    assert (policy.ingest, policy.external) == ("placeholder", "mask")

    bad = tmp_path / "pii.yaml"
    bad.write_text("recognizers:\n  - {name: tickets, entity: TICKET, regex: '[TK-'}\n")
    result = runner.invoke(cli, ["pii", "set", "--config", str(bad)])
    assert isinstance(result.exception, LoopstackError)  # main() prints it as one line, exit 1
    assert "PII recogniser 'tickets': regex '[TK-' does not compile" in str(result.exception or result.output)
    assert project_pii_policy(store, "default").config.recognizers == []  # nothing half-written

    good = tmp_path / "ok.yaml"
    good.write_text("recognizers:\n  - {name: orders, entity: ORDER_ID, regex: 'ORD-[0-9]{6}'}\n")
    assert runner.invoke(cli, ["pii", "set", "--config", str(good)]).exit_code == 0
    shown = runner.invoke(cli, ["pii", "show"])
    assert "orders -> ORDER_ID" in shown.output and "EMAIL_ADDRESS" in shown.output
    scanned = runner.invoke(cli, ["pii", "scan", "order ORD-123456 for a@example.com"])
    assert "order <ORDER_ID_1> for <EMAIL_1>" in scanned.output


def test_dataset_export_with_mask_pii_writes_no_seeded_value(store: Store, tmp_path: Path) -> None:
    data = tmp_path / "tickets.jsonl"
    rows = [
        {"ticket": SEEDED_TEXT, "expected": f"refund to {SEEDS['IBAN_CODE']}"},
        {"ticket": f"call me on {SEEDS['PHONE_NUMBER']}", "expected": "callback"},
    ]
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    runner = CliRunner()
    assert runner.invoke(cli, ["dataset", "push", str(data)]).exit_code == 0
    for suffix in ("jsonl", "csv", "parquet"):
        out = tmp_path / f"masked.{suffix}"
        result = runner.invoke(cli, ["dataset", "export", "tickets", "-o", str(out), "--mask-pii"])
        assert result.exit_code == 0, result.output
        assert "PII values masked" in result.output
        raw = out.read_bytes()
        for value in SEEDS.values():
            assert value.encode() not in raw, (suffix, value)
    lines = [json.loads(line) for line in (tmp_path / "masked.jsonl").read_text().splitlines()]
    assert lines[0]["expected"] == "refund to <IBAN_1>" and "<IBAN_1>" in lines[0]["ticket"]
    plain = tmp_path / "plain.jsonl"
    assert runner.invoke(cli, ["dataset", "export", "tickets", "-o", str(plain)]).exit_code == 0
    assert SEEDS["IBAN_CODE"] in plain.read_text()  # without the flag the export is unchanged


async def test_the_rest_api_sets_the_policy_that_ingest_applies(
    client: httpx.AsyncClient, store: Store
) -> None:
    assert (await client.get("/api/pii-policy")).json()["ingest"] == "off"
    bad = await client.put("/api/pii-policy", json={"config": {"entities": ["SHOE"]}})
    assert bad.status_code == 400 and "unknown PII entity type 'SHOE'" in bad.json()["detail"]
    unknown = await client.put("/api/pii-policy", json={"store": 1})
    assert unknown.status_code == 400 and "unknown field 'store'" in unknown.json()["detail"]
    ok = await client.put("/api/pii-policy", json={"ingest": "redact"})
    assert ok.status_code == 200 and ok.json()["ingest"] == "redact"
    response = await client.post("/v1/traces", content=_otlp([(SEEDED_TEXT, "ok")]), headers=PROTOBUF)
    assert response.status_code == 200
    step = next(r for r in _stored(store) if r["name"] == "step-0")
    assert "[REDACTED]" in step["input"] and SEEDS["CREDIT_CARD"] not in step["input"]
