"""Templates and response helpers: autoescaping Jinja2, a strict CSP, query-string URLs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

#: Where the pages live; static assets are under ``{PREFIX}/static``.
PREFIX = "/ui"

#: No inline script or style anywhere: our JS and CSS come from /ui/static only.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def fmt_ms(value: float | None) -> str:
    """Milliseconds for people: ``840 ms``, ``2.31 s``."""
    if value is None:
        return "–"
    return f"{value:.0f} ms" if value < 1000 else f"{value / 1000:.2f} s"


def fmt_cost(value: float | None) -> str:
    if value is None:
        return "–"
    return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


def fmt_num(value: float | int | None, digits: int = 3) -> str:
    if value is None or value != value:  # NaN: nothing could be computed
        return "–"
    if isinstance(value, int) or float(value).is_integer() and abs(value) >= 1:
        return f"{int(value):,}"
    return f"{value:.{digits}g}"


def fmt_signed(value: float | None) -> str:
    """A difference with its sign; ``–`` where there is none (NaN: no interval could be computed)."""
    if value is None or value != value:
        return "–"
    return f"{value:+.3f}"


def fmt_pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def fmt_dt(value: datetime | None) -> str:
    if value is None:
        return "–"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def pretty_json(value: Any) -> str:
    """JSON text re-indented for reading; other text unchanged."""
    if isinstance(value, str):
        text: str = value
        try:
            value = json.loads(text)
        except ValueError:
            return text
        if isinstance(value, str):
            return text
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def chat_messages(text: str | None) -> list[dict[str, str]] | None:
    """The messages when ``text`` is a JSON list of ``{role, content}``, else ``None``."""
    if not text or not text.lstrip().startswith("["):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, list) or not data:
        return None
    out = []
    for m in data:
        if not isinstance(m, dict) or "role" not in m or "content" not in m:
            return None
        content = m["content"]
        out.append(
            {"role": str(m["role"]), "content": content if isinstance(content, str) else pretty_json(content)}
        )
    return out


def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("loopstack.ui", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        ms=fmt_ms, cost=fmt_cost, num=fmt_num, signed=fmt_signed, pct=fmt_pct, dt=fmt_dt, pretty=pretty_json
    )
    env.globals["chat_messages"] = chat_messages
    return env


ENV = _env()


def url_with(request: Request, path: str | None = None, **changes: Any) -> str:
    """The current URL (or ``path``) with query parameters changed; ``None`` removes one."""
    params = dict(request.query_params) if path is None else {}
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = str(value)
    base = path if path is not None else request.url.path
    return base + ("?" + urlencode(params) if params else "")


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render ``template`` with the shared context, behind the security headers."""
    html = ENV.get_template(template).render(
        request=request,
        q=request.query_params,
        url_with=lambda path=None, **kw: url_with(request, path, **kw),
        root=PREFIX,
        **context,
    )
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)
