"""get_prompt: labels resolved through the store, a fresh process sees label moves, cache and fallback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import loopstack
from loopstack.config import get_settings
from loopstack.errors import NotFound, StoreUnavailable
from loopstack.prompts import (
    LocalPromptSource,
    PromptClient,
    PromptMessages,
    PromptRegistry,
    clear_prompt_cache,
)
from loopstack.store import Store

V1 = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Review: {{ review }}"}]
V2 = [{"role": "system", "content": "Be very brief."}, {"role": "user", "content": "Review: {{ review }}"}]

FRESH = (
    "import json, loopstack\n"
    "p = loopstack.get_prompt('triage')\n"
    "m = p.render(review='great app')\n"
    "print(json.dumps({'version': p.version, 'name': m.prompt_name, 'messages': m}))\n"
)


def _fresh_process() -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", FRESH], capture_output=True, text=True, env=dict(os.environ), timeout=120
    )
    assert out.returncode == 0, out.stderr
    result: dict[str, object] = json.loads(out.stdout)
    return result


def test_label_moves_reach_a_fresh_process_and_rollback_works(store: Store) -> None:
    reg = PromptRegistry(store)
    assert reg.push("triage", V1, model="openai/gpt-4o-mini").version == 1
    assert reg.push("triage", V2, model="openai/gpt-4o-mini").version == 2
    reg.set_label("triage", "production", 1)

    prompt = loopstack.get_prompt("triage")
    messages = prompt.render(review="great app")
    assert (prompt.name, prompt.version, prompt.label, prompt.is_fallback) == (
        "triage",
        1,
        "production",
        False,
    )
    assert isinstance(messages, PromptMessages) and isinstance(messages, list)
    assert (messages.prompt_name, messages.prompt_version) == ("triage", 1)
    assert messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Review: great app"},
    ]

    reg.set_label("triage", "production", 2)
    fresh = _fresh_process()
    assert fresh["version"] == 2 and fresh["name"] == "triage"
    assert fresh["messages"] == [
        {"role": "system", "content": "Be very brief."},
        {"role": "user", "content": "Review: great app"},
    ]

    reg.rollback("triage")
    assert _fresh_process()["version"] == 1
    # Pushing v2's content again creates nothing.
    again = reg.push("triage", V2, model="openai/gpt-4o-mini")
    assert (again.version, again.created) == (2, False)
    assert [v.version for v in reg.versions("triage")] == [1, 2]


def test_cached_until_ttl_then_stale_while_revalidate(store: Store) -> None:
    reg = PromptRegistry(store)
    reg.push("triage", V1, labels=["production"])
    now = [1000.0]
    client = PromptClient(LocalPromptSource(store=store), ttl=30, clock=lambda: now[0])
    assert client.get("triage").version == 1

    reg.push("triage", V2, labels=["production"])
    now[0] += 10
    assert client.get("triage").version == 1  # fresh enough: served from the cache

    now[0] += 30
    assert client.get("triage").version == 1  # stale: served at once, refreshed in the background
    client.wait_for_refreshes()
    assert client.get("triage").version == 2


def test_versions_are_cached_for_good_and_cache_ttl_zero_always_fetches(store: Store) -> None:
    reg = PromptRegistry(store)
    reg.push("triage", V1, labels=["production"])
    now = [0.0]
    client = PromptClient(LocalPromptSource(store=store), ttl=5, clock=lambda: now[0])
    assert client.get("triage", version=1).version == 1
    reg.push("triage", V2, labels=["production"])
    now[0] += 1e6
    assert client.get("triage", version=1).messages == V1
    assert client.get("triage", cache_ttl=0).version == 2
    assert client.get("triage").version == 2


def test_clear_prompt_cache_makes_the_next_call_fetch(store: Store) -> None:
    reg = PromptRegistry(store)
    reg.push("triage", V1, labels=["production"])
    assert loopstack.get_prompt("triage").version == 1
    reg.push("triage", V2, labels=["production"])
    assert loopstack.get_prompt("triage").version == 1
    clear_prompt_cache()
    assert loopstack.get_prompt("triage").version == 2


def test_fallback_when_the_store_cannot_be_reached(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOPSTACK_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/nothing")
    get_settings.cache_clear()
    with pytest.raises(StoreUnavailable, match="cannot use the database at postgresql"):
        loopstack.get_prompt("triage")
    prompt = loopstack.get_prompt("triage", fallback=[{"role": "user", "content": "Review: {{ review }}"}])
    assert (prompt.is_fallback, prompt.version, prompt.ref) == (True, 0, "triage@fallback")
    msgs = prompt.render(review="ok")
    assert msgs == [{"role": "user", "content": "Review: ok"}]
    assert (msgs.prompt_name, msgs.prompt_version) == ("triage", 0)
    assert loopstack.get_prompt("triage", fallback="Hi {{ name }}").render(name="x") == [
        {"role": "user", "content": "Hi x"}
    ]


def test_a_cached_prompt_survives_losing_the_store(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db = tmp_path / "app.db"
    store = Store(f"sqlite:///{db}")
    PromptRegistry(store).push("triage", V1, labels=["production"])
    now = [0.0]
    source = LocalPromptSource(store=store)
    client = PromptClient(source, ttl=1, clock=lambda: now[0])
    assert client.get("triage").version == 1
    source.close()
    store.close()
    db.unlink()  # the store is gone: the refresh finds no prompt table
    now[0] += 5
    assert client.get("triage").messages == V1
    client.wait_for_refreshes()
    assert "prompt triage: refresh failed, serving the cached copy" in caplog.text
    assert client.get("triage").messages == V1


def test_unknown_prompt_without_fallback_raises_not_found(store: Store) -> None:
    with pytest.raises(NotFound, match="unknown prompt 'nope'"):
        loopstack.get_prompt("nope")


def test_endpoint_unreachable_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # LOOPSTACK_ENDPOINT selects the remote source (prompts/_remote.py, tested in tests/server).
    monkeypatch.setenv("LOOPSTACK_ENDPOINT", "http://127.0.0.1:9")
    get_settings.cache_clear()
    with pytest.raises(StoreUnavailable, match="cannot reach the Loopstack server at http://127.0.0.1:9"):
        loopstack.get_prompt("triage")


def test_while_serving_a_fallback_the_source_is_retried_in_the_background(store: Store) -> None:
    now = [0.0]
    client = PromptClient(LocalPromptSource(store=store), ttl=60, clock=lambda: now[0])
    fb = [{"role": "user", "content": "fallback {{ x }}"}]
    assert client.get("triage", fallback=fb).is_fallback  # not pushed yet
    PromptRegistry(store).push("triage", V1, labels=["production"])
    assert client.get("triage", fallback=fb).is_fallback  # within the retry period: no new fetch
    now[0] += 10
    assert client.get("triage", fallback=fb).is_fallback  # served at once, retried in the background
    client.wait_for_refreshes()
    got = client.get("triage", fallback=fb)
    assert (got.is_fallback, got.version) == (False, 1)
    # A call without a fallback never gets someone else's fallback.
    other = PromptClient(LocalPromptSource(store=store), ttl=60, clock=lambda: now[0])
    assert other.get("nope", fallback=fb).is_fallback
    with pytest.raises(NotFound):
        other.get("nope")
