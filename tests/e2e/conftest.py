"""Browser test fixtures: a real uvicorn server on 127.0.0.1 and Debian's Chromium driven by Playwright.

Set ``LOOPSTACK_SCREENSHOTS=1`` to copy the screenshots the tests take into ``docs/screenshots/``.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from loopstack.store import Store

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Read at import: the autouse home fixture clears LOOPSTACK_* variables before each test.
SCREENSHOTS = os.environ.get("LOOPSTACK_SCREENSHOTS") == "1"
DOCS_SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """The app served by uvicorn in a background thread."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def build_app(store: Store) -> Any:
    """The app under test: the real server (its factory mounts the UI behind its auth)."""
    from loopstack.server import create_app

    return create_app(store=store)


@pytest.fixture
def e2e_store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'e2e.db'}")
    yield store
    store.close()


@pytest.fixture
def live_server(e2e_store: Store) -> Iterator[LiveServer]:
    with LiveServer(build_app(e2e_store)) as server:
        yield server


# Module scope, not session: Playwright's sync API keeps an event loop running in the main thread
# while it is open, which would break every later test that calls asyncio.run().
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    pg = context.new_page()
    pg.dialogs = []  # every alert/confirm the page tries to open
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    yield pg
    context.close()


@pytest.fixture
def shot(tmp_path: Path) -> Callable[[Any, str], Path]:
    """Screenshot a page (full page) into tmp, and into docs/screenshots with LOOPSTACK_SCREENSHOTS=1."""

    def take(pg: Any, name: str) -> Path:
        out = tmp_path / f"{name}.png"
        pg.screenshot(path=str(out), full_page=True)
        if SCREENSHOTS:
            DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(out, DOCS_SHOTS / f"{name}.png")
        return out

    return take
