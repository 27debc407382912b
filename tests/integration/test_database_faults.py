"""A database that is down (issue 11, faults): `lims serve` refuses to start with one line (exit 1); at run
time a lost database is a zh-CN 503 page for the web UI and a JSON problem for the API, and the service
recovers by itself when the database is back (PostgreSQL behind a small TCP proxy this test stops and
starts; SQLite: an unmigrated file is named at start-up)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from api.app import create_app
from lims import demo
from lims.db.engine import make_engine
from lims.demo import PASSWORDS


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(tmp_path, url: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "LIMS_DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "lims.cli", "serve", "--port", str(_free_port())], env=env,
                          capture_output=True, timeout=60, cwd=tmp_path)


def test_serve_pointed_at_a_closed_port_says_so_in_one_line(tmp_path):
    done = _serve(tmp_path, f"postgresql+psycopg://lims@127.0.0.1:{_free_port()}/lims")
    err = done.stderr.decode().strip().splitlines()
    assert done.returncode == 1, done.stderr
    assert len(err) == 1 and "cannot reach the database" in err[0] and "Traceback" not in err[0], err


def test_serve_on_an_unmigrated_database_names_the_fix(tmp_path):
    done = _serve(tmp_path, f"sqlite:///{tmp_path / 'empty.db'}")
    err = done.stderr.decode().strip().splitlines()
    assert done.returncode == 1 and len(err) == 1 and "lims db upgrade" in err[0], err


class TcpProxy:
    """127.0.0.1:port → target; ``stop()`` closes the listener and every connection (the database is
    gone), ``start()`` listens again on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = _free_port()
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self) -> None:
        assert self._listener is not None
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            conns, self._conns = self._conns, []
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()


def test_a_lost_database_is_a_503_and_the_service_recovers_by_itself(db_url, db_factory, monkeypatch):
    url = make_url(db_url)
    if url.get_backend_name() != "postgresql":
        pytest.skip("a database server that goes away: PostgreSQL")
    demo.seed_reference(db_factory)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    proxy.start()
    engine = make_engine(url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False))
    client = TestClient(create_app(engine), raise_server_exceptions=False)
    try:
        r = client.post("/api/v1/auth/login", json={"username": "zhangwei", "password": PASSWORDS["zhangwei"]})
        headers = {"Authorization": f"Bearer {r.json()['token']}"}
        assert client.get("/api/v1/samples", headers=headers).status_code == 200
        proxy.stop()  # the database goes away (pooled connections broken, new ones refused)
        for _ in range(3):
            r = client.get("/api/v1/samples", headers=headers)
            assert r.status_code == 503 and r.json()["detail"]["code"] == "db.unavailable", r.text
            assert r.headers["retry-after"]
        page = client.get("/login")  # a page that needs no database still works
        assert page.status_code == 200
        client.cookies.set("lims_session", "x" * 43)
        r = client.get("/samples", headers={"Accept": "text/html"}, follow_redirects=False)
        assert r.status_code == 503 and 'lang="zh-CN"' in r.text and "数据库暂时无法连接" in r.text
        assert "Traceback" not in r.text and "Internal Server Error" not in r.text
        client.cookies.clear()
        proxy.start()  # back: the next request is served, nobody restarted anything
        assert client.get("/api/v1/samples", headers=headers).status_code == 200
        assert client.get("/api/v1/auth/me", headers=headers).json()["username"] == "zhangwei"
    finally:
        proxy.stop()
        engine.dispose()
