"""``get_prompt`` against a real server (LOOPSTACK_ENDPOINT): the remote source over the REST API."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from server_helpers import LiveServer

from loopstack.config import get_settings
from loopstack.errors import ConfigError, NotFound
from loopstack.prompts import PromptRegistry, clear_prompt_cache, get_prompt
from loopstack.store import get_store
from loopstack.store.keys import create_key


def _point_sdk_at(monkeypatch: pytest.MonkeyPatch, url: str, key: str | None = None) -> None:
    monkeypatch.setenv("LOOPSTACK_ENDPOINT", url)
    if key is not None:
        monkeypatch.setenv("LOOPSTACK_API_KEY", key)
    get_settings.cache_clear()
    clear_prompt_cache()


def test_get_prompt_reads_labels_and_versions_from_the_server(
    live_server: Callable[..., LiveServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = live_server()
    with httpx.Client(base_url=server.url, timeout=10) as http:
        first = {"name": "triage", "messages": [{"role": "user", "content": "Classify: {{ review }}"}]}
        assert http.post("/api/prompts", json=first).json()["version"] == 1
        second = {
            "name": "triage",
            "messages": [{"role": "user", "content": "Label the review: {{ review }}"}],
            "model": "openai/gpt-4o-mini",
            "params": {"temperature": 0},
            "labels": ["production"],
        }
        assert http.post("/api/prompts", json=second).status_code == 201
        moved = http.put("/api/prompts/triage/labels/staging", json={"target": 1}).json()
        assert moved["to_version"] == 1

    _point_sdk_at(monkeypatch, server.url)
    prompt = get_prompt("triage")
    assert (prompt.version, prompt.model, prompt.params) == (2, "openai/gpt-4o-mini", {"temperature": 0})
    messages = prompt.render(review="Crashes on start")
    assert messages == [{"role": "user", "content": "Label the review: Crashes on start"}]
    assert (messages.prompt_name, messages.prompt_version) == ("triage", 2)
    assert get_prompt("triage", label="staging").version == 1
    assert get_prompt("triage", version=1).messages[0]["content"] == "Classify: {{ review }}"
    with pytest.raises(NotFound, match="triage"):
        get_prompt("triage", version=9)
    with pytest.raises(NotFound):
        get_prompt("no-such-prompt")


def test_remote_prompts_are_scoped_by_key_and_a_bad_key_is_a_clear_error(
    live_server: Callable[..., LiveServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = get_store()
    key, _ = create_key(store, "app", "shop")
    PromptRegistry(store, "shop").push(
        "greet", [{"role": "user", "content": "Hi {{ name }}"}], labels=["production"]
    )
    PromptRegistry(store, "other").push(
        "greet", [{"role": "user", "content": "Other"}], labels=["production"]
    )
    server = live_server()

    _point_sdk_at(monkeypatch, server.url, key)
    assert get_prompt("greet").messages[0]["content"] == "Hi {{ name }}"

    _point_sdk_at(monkeypatch, server.url, "lsk_wrong")
    with pytest.raises(ConfigError, match="refused LOOPSTACK_API_KEY"):
        get_prompt("greet")


def test_server_down_serves_the_code_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    _point_sdk_at(monkeypatch, "http://127.0.0.1:9")
    prompt = get_prompt("triage", fallback=[{"role": "user", "content": "Classify: {{ review }}"}])
    assert prompt.is_fallback
    assert prompt.render(review="x") == [{"role": "user", "content": "Classify: x"}]
