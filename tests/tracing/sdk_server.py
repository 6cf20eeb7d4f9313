"""A real Loopstack server in this process: the app over its own store, served by uvicorn on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time

from loopstack.config import Settings
from loopstack.store import Store


class InProcessServer:
    """The real server app (its own SQLite store, one API key) served by uvicorn on 127.0.0.1."""

    def __init__(self, store: Store, key: str) -> None:
        import uvicorn

        from loopstack.server import create_app

        self.store = store
        self.key = key
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = create_app(Settings(), store, ui=False)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> InProcessServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.app.state.writer.close()
