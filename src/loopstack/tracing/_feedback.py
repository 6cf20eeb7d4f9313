"""``feedback()``: attach a user's judgement (thumbs, accept, a correction) to a trace from app code.

With an endpoint it is ``POST /api/scores`` on the server; without one it is written to the local store
through the same scores repository the server uses.
"""

from __future__ import annotations

from typing import Any

from loopstack.errors import ConfigError, InvalidInput, StoreUnavailable


def feedback(
    trace_id: str,
    name: str,
    value: bool | float | str,
    *,
    span_id: str | None = None,
    data_type: str | None = None,
    comment: str | None = None,
    author: str | None = None,
    source: str = "user-feedback",
    metadata: dict[str, Any] | None = None,
    timeout: float = 5.0,
) -> dict[str, Any]:
    """Store a score on ``trace_id`` (or one of its spans) and return it.

    ``value``: ``"up"``/``"down"``, ``True``/``False`` or ``"accept"``/``"reject"`` (boolean), a number, a
    category, or text with ``data_type="text"`` (a correction). Raises ``InvalidInput`` for a bad value.
    """
    from loopstack.config import get_settings

    settings = get_settings()
    body = {
        "trace_id": trace_id,
        "span_id": span_id,
        "name": name,
        "value": value,
        "data_type": data_type,
        "comment": comment,
        "author": author,
        "source": source,
        "metadata": metadata,
    }
    if not settings.endpoint:
        from loopstack.store import get_store
        from loopstack.store.scores import ScoreInput, add_score

        store = get_store(settings.resolved_database_url)
        score = ScoreInput(
            trace_id=trace_id,
            name=name,
            value=value,
            span_id=span_id,
            data_type=data_type,
            source=source,
            author=author,
            comment=comment,
            metadata=metadata,
        )
        row = add_score(store, store.project_id(settings.project), score)
        row.pop("project_id", None)
        return row

    import httpx

    headers = {"authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
    url = settings.endpoint.rstrip("/") + "/api/scores"
    try:
        response = httpx.post(
            url, json={k: v for k, v in body.items() if v is not None}, headers=headers, timeout=timeout
        )
    except httpx.HTTPError as exc:
        raise StoreUnavailable(f"cannot reach the Loopstack server at {settings.endpoint}: {exc}") from None
    if response.status_code == 201:
        result: dict[str, Any] = response.json()
        return result
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = response.text[:200]
    if response.status_code in (401, 403):
        raise ConfigError(f"the server at {settings.endpoint} refused LOOPSTACK_API_KEY: {detail}")
    raise InvalidInput(f"feedback {name!r} refused ({response.status_code}): {detail}")
