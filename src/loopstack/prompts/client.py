"""``get_prompt``: prompts for application code, cached in-process with stale-while-revalidate.

A cache hit is a dict lookup and a clock read. A stale entry is returned at once and refreshed on a
background thread, so a slow or failing store never stalls a request once a prompt has been fetched.
When nothing is cached and the source fails, the ``fallback`` given in code is served (and marked).
Fetches by version number are cached for good: versions are immutable.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from loopstack.config import Settings, get_settings
from loopstack.errors import InvalidInput, LoopstackError
from loopstack.prompts._types import DEFAULT_LABEL
from loopstack.prompts.prompt import Prompt
from loopstack.prompts.source import PromptSource, make_source

log = logging.getLogger("loopstack.prompts")

_Key = tuple[str, str | None, int | None]

#: While serving a code fallback, how often the source is tried again in the background.
FALLBACK_RETRY_SECONDS = 5.0
Fallback = str | list[dict[str, str]]


@dataclass(slots=True)
class _Entry:
    prompt: Prompt
    expires: float


class PromptClient:
    """A PromptSource behind a TTL cache with stale-while-revalidate and code fallbacks."""

    def __init__(
        self, source: PromptSource, ttl: float = 60.0, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.source = source
        self.ttl = ttl
        self._clock = clock
        self._cache: dict[_Key, _Entry] = {}
        self._refreshing: dict[_Key, threading.Thread] = {}
        self._lock = threading.Lock()

    def get(
        self,
        name: str,
        label: str | None = None,
        version: int | None = None,
        fallback: Fallback | None = None,
        cache_ttl: float | None = None,
    ) -> Prompt:
        """The prompt, from the cache when fresh enough (see module docstring)."""
        key = (name, label, version)
        ttl = self.ttl if cache_ttl is None else cache_ttl
        entry = self._cache.get(key)
        if entry is not None and ttl > 0:
            if not entry.prompt.is_fallback:
                if entry.expires > self._clock():
                    return entry.prompt
                self._revalidate(key, ttl)
                return entry.prompt
            if fallback is not None:
                # The source failed recently: serve this call's fallback, retrying in the background.
                if entry.expires <= self._clock():
                    self._revalidate(key, ttl)
                return _fallback_prompt(name, label, fallback)
        try:
            return self._fetch(key, ttl)
        except Exception as exc:
            if fallback is None:
                raise
            prompt = _fallback_prompt(name, label, fallback)
            log.warning("prompt %s: serving the fallback given in code (%s)", name, _reason(exc))
            if ttl > 0:
                # Later calls get the fallback without waiting; the source is retried in the background.
                self._cache[key] = _Entry(prompt, self._retry_at(ttl, prompt))
            return prompt

    def clear(self) -> None:
        """Forget every cached prompt."""
        self._cache.clear()

    def wait_for_refreshes(self, timeout: float = 10.0) -> None:
        """Block until background refreshes running now have finished (tests, orderly shutdown)."""
        with self._lock:
            threads = list(self._refreshing.values())
        for thread in threads:
            thread.join(timeout)

    def _fetch(self, key: _Key, ttl: float) -> Prompt:
        name, label, version = key
        prompt: Prompt = self.source.fetch(name, label=label, version=version)
        wanted = label if version is not None else (label or DEFAULT_LABEL)
        if prompt.label != wanted:
            prompt = replace(prompt, label=wanted)
        if ttl > 0:
            expires = float("inf") if version is not None else self._clock() + ttl
            self._cache[key] = _Entry(prompt, expires)
        return prompt

    def _retry_at(self, ttl: float, prompt: Prompt) -> float:
        # A fallback is retried sooner than a stale real prompt: getting off it matters more.
        return self._clock() + (min(ttl, FALLBACK_RETRY_SECONDS) if prompt.is_fallback else ttl)

    def _revalidate(self, key: _Key, ttl: float) -> None:
        with self._lock:
            if key in self._refreshing:
                return
            thread = threading.Thread(
                target=self._refresh, args=(key, ttl), daemon=True, name="loopstack-prompt-refresh"
            )
            self._refreshing[key] = thread
        thread.start()

    def _refresh(self, key: _Key, ttl: float) -> None:
        try:
            self._fetch(key, ttl)
        except Exception as exc:  # noqa: BLE001 - keep serving the stale prompt, never raise
            log.warning("prompt %s: refresh failed, serving the cached copy (%s)", key[0], _reason(exc))
            entry = self._cache.get(key)
            if entry is not None:
                entry.expires = self._retry_at(ttl, entry.prompt)  # no retry storm while it is down
        finally:
            with self._lock:
                self._refreshing.pop(key, None)


def _reason(exc: Exception) -> str:
    return str(exc) if isinstance(exc, LoopstackError) else f"{type(exc).__name__}: {exc}"


def _fallback_prompt(name: str, label: str | None, fallback: Fallback) -> Prompt:
    from loopstack.prompts._content import FieldError, check_messages

    messages: Any = [{"role": "user", "content": fallback}] if isinstance(fallback, str) else fallback
    try:
        checked = check_messages(messages, "fallback")
    except FieldError as exc:
        raise InvalidInput(f"prompt {name}: {exc}") from None
    return Prompt(name, 0, checked, label=label, is_fallback=True)


_client: tuple[Settings, PromptClient] | None = None
_client_lock = threading.Lock()


def _after_fork_in_child() -> None:
    # Refresh threads do not survive fork: forget them so the child refreshes for itself.
    current = _client
    if current is not None:
        current[1]._refreshing.clear()
        current[1]._lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


def prompt_client() -> PromptClient:
    """The process-wide client for the current settings (rebuilt when settings are reloaded)."""
    global _client
    settings = get_settings()
    current = _client
    if current is not None and current[0] is settings:
        return current[1]
    with _client_lock:
        if _client is None or _client[0] is not settings:
            _client = (settings, PromptClient(make_source(settings), settings.prompt_cache_ttl))
        return _client[1]


def get_prompt(
    name: str,
    label: str | None = None,
    version: int | None = None,
    fallback: Fallback | None = None,
    *,
    cache_ttl: float | None = None,
    user_id: str | None = None,
    session_id: str | None = None,
) -> Prompt:
    """Fetch prompt ``name`` by label or version (default: the ``production`` label).

    ``fallback`` (messages, or one string used as the user message) is served when the prompt cannot
    be fetched and nothing is cached; the result then has ``is_fallback=True`` and version 0.
    ``cache_ttl`` overrides ``Settings.prompt_cache_ttl`` for this call (0 = always fetch).

    While a rollout runs on the label, ``user_id`` (or ``session_id``) picks this user's arm in-process
    from the cached payload, with no request of its own; the version and arm are stamped on the current
    span. Without either id the label's own version (the control) is returned.
    """
    prompt = prompt_client().get(name, label, version, fallback, cache_ttl)
    unit = user_id if user_id is not None else session_id
    if unit is None or prompt.rollout is None:
        return prompt
    return pick_arm(prompt, str(unit))


def pick_arm(prompt: Prompt, unit: str) -> Prompt:
    """The version of ``prompt``'s rollout arm for ``unit`` (a user or session id), stamped on the span."""
    arms = prompt.rollout
    if arms is None:
        return prompt
    arm = arms.arm(unit)
    base: Prompt = arms.candidate if arm == "candidate" else prompt
    picked = Prompt(
        base.name,
        base.version,
        base.messages,
        base.model,
        base.params,
        label=prompt.label,
        rollout_id=arms.id,
        rollout_arm=arm,
    )
    _stamp_span(picked, arms.step, unit)
    return picked


def _stamp_span(prompt: Prompt, step: int, unit: str) -> None:
    from opentelemetry import trace

    from loopstack import semconv as sc

    span = trace.get_current_span()
    if not span.is_recording():
        return
    try:
        span.set_attributes(
            {
                sc.PROMPT_NAME: prompt.name,
                sc.PROMPT_VERSION: prompt.version,
                sc.ROLLOUT_ID: str(prompt.rollout_id),
                sc.ROLLOUT_ARM: str(prompt.rollout_arm),
                sc.ROLLOUT_STEP: step,
                sc.ROLLOUT_UNIT: unit,
            }
        )
    except Exception as exc:  # noqa: BLE001 - stamping never breaks the caller
        log.debug("prompt %s: could not stamp the rollout arm: %s", prompt.name, exc)


def clear_prompt_cache() -> None:
    """Drop every cached prompt so the next ``get_prompt`` fetches again."""
    current = _client
    if current is not None:
        current[1].clear()
