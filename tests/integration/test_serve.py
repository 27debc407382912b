"""`lims serve --workers N`: N processes each with its own SO_REUSEPORT socket, all answering on one
port; SIGTERM stops them all; a port in use is a clear message, not a traceback."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.integration.serve_support import children, free_port


def _get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()




def test_workers_share_the_port_and_stop_on_sigterm(tmp_path):
    port = free_port()
    env = {**os.environ, "LIMS_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}"}
    subprocess.run([sys.executable, "-m", "lims.cli", "db", "upgrade"], env=env, check=True, capture_output=True)
    proc = subprocess.Popen([sys.executable, "-m", "lims.cli", "serve", "--port", str(port), "--workers", "2"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, body = _get(port, "/api/v1/samples")
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                assert time.monotonic() < deadline, "lims serve did not answer"
                time.sleep(0.2)
        assert status == 401 and b"authentication required" in body
        workers = children(proc.pid)
        assert len(workers) >= 2
        # many fresh connections: every one answered (none lands on a closed socket)
        assert all(_get(port, "/openapi.json")[0] == 200 for _ in range(40))
        # a second server on the same port is refused, though the workers' sockets allow sharing it
        second = subprocess.run([sys.executable, "-m", "lims.cli", "serve", "--port", str(port), "--workers", "2"],
                                env=env, capture_output=True, timeout=60)
        assert second.returncode == 2 and b"cannot listen on" in second.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    # the workers are gone when the parent is; multiprocessing's resource tracker (also a child) leaves
    # when it reads EOF on its pipe from the exited parent, a moment later
    deadline = time.monotonic() + 10
    while [w for w in workers if _running(w)] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [w for w in workers if _running(w)]


def _running(pid: int) -> bool:
    """Alive and not a zombie (an exited orphan waits for init to reap it)."""
    try:
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def test_port_in_use_is_a_message(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        env = {**os.environ, "LIMS_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}"}
        done = subprocess.run([sys.executable, "-m", "lims.cli", "serve", "--port", str(port), "--workers", "2"],
                              env=env, capture_output=True, timeout=60)
    assert done.returncode == 2
    assert b"cannot listen on" in done.stderr and b"Traceback" not in done.stderr
