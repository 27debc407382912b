"""Run the hub app on loopback in a thread (demo and integration tests)."""

from __future__ import annotations

import os
import socket
import threading
import time

from lims.db.engine import make_engine, make_session_factory
from lims.db.migrate import upgrade


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LoopbackHub:
    """The upstream hub (hub mode, ``api.hub:create_hub_app``) on loopback in a thread, with its own
    database. The app is named by import string: `lims` does not import `api`."""

    def __init__(self, database_url: str) -> None:
        import uvicorn

        self.engine = make_engine(database_url)
        upgrade(self.engine)
        self.factory = make_session_factory(self.engine)
        self.port = _free_port()
        os.environ["LIMS_HUB_DATABASE_URL"] = database_url
        config = uvicorn.Config("api.hub:create_hub_app", factory=True, host="127.0.0.1", port=self.port,
                                log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LoopbackHub:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("hub did not start within 10 s")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)
        self.engine.dispose()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
