"""Structured logs (issue 17): one JSON object a line carrying the request's ID (the client's X-Request-ID or
a new one, echoed in the response), and never a password or token — checked on a real `lims serve`."""

from __future__ import annotations

import http.client
import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time

from lims import demo
from lims.demo import PASSWORDS
from lims.ops import logs

WRONG_PASSWORD = "Wrong-Passw0rd-Zebra-77"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _call(port: int, method: str, path: str, body: dict | None = None,
          headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers={"Content-Type": "application/json", **(headers or {})})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def _start(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "lims.cli", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while True:
        try:
            _call(port, "GET", "/health")
            return proc
        except OSError:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "lims serve did not answer"
            time.sleep(0.2)


def test_json_lines_carry_the_request_id_and_no_secret(db_url, db_factory, tmp_path):
    demo.seed_reference(db_factory)
    port = _free_port()
    env = {**os.environ, "LIMS_DATABASE_URL": db_url, "LIMS_LOG_FORMAT": "json",
           "LIMS_REPORT_DIR": str(tmp_path / "reports")}
    proc = _start(env, port)
    try:
        password = PASSWORDS["zhangwei"]
        status, _h, body = _call(port, "POST", "/api/v1/auth/login", {"username": "zhangwei", "password": password})
        assert status == 200
        token = json.loads(body)["token"]
        status, _h, _b = _call(port, "POST", "/api/v1/auth/login",
                               {"username": "zhangwei", "password": WRONG_PASSWORD})
        assert status == 401
        status, headers, _b = _call(port, "GET", "/api/v1/samples", headers={
            "Authorization": f"Bearer {token}", "X-Request-ID": "req-abc-123"})
        assert status == 200 and headers["x-request-id"] == "req-abc-123"
        _call(port, "GET", f"/api/v1/samples?token={token}&password={password}", headers={"Cookie": f"lims_session={token}"})
        _call(port, "GET", "/api/v1/no-such-route", headers={"X-Request-ID": "req-404"})
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    text = err.decode()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]  # every line is one JSON object
    assert all({"ts", "level", "logger", "message", "request_id"} <= set(doc) for doc in lines)
    ours = [doc for doc in lines if doc["request_id"] == "req-abc-123"]
    assert ours and ours[-1]["route"] == "/api/v1/samples" and ours[-1]["status"] == 200
    assert any(doc.get("route") == "<unmatched>" and doc["request_id"] == "req-404" for doc in lines)
    assert sum(1 for doc in lines if doc["logger"] == "lims.access") >= 5
    for secret in (token, password, WRONG_PASSWORD):
        assert secret not in text


def test_redact_masks_passwords_tokens_and_credentials():
    line = ('login {"username": "li", "password": "Hunter-2-Hunter"} Authorization: Bearer abc.def-123456 '
            "token=tok_9876543210 api_key: KEY123456 cookie=lims_session=xyz789xyz")
    masked = logs.redact(line)
    for secret in ("Hunter-2-Hunter", "abc.def-123456", "tok_9876543210", "KEY123456", "xyz789xyz"):
        assert secret not in masked, masked
    assert '"username": "li"' in masked


def _emit(log_format: str) -> str:
    stream = io.StringIO()
    config = logs.dict_config(log_format)
    handler = logging.StreamHandler(stream)
    formatter = config["formatters"][log_format]["()"]()
    handler.setFormatter(formatter)
    handler.addFilter(logs.RequestIdFilter())
    logger = logging.getLogger(f"test.ops.{log_format}")
    logger.addHandler(handler)
    logger.propagate = False
    marker = logs.REQUEST_ID.set("rid-42")
    try:
        logger.warning("reset for %s with password=%s", "li", "Sup3r-S3cret-Pw", extra={"sample": "S-1"})
    finally:
        logs.REQUEST_ID.reset(marker)
        logger.removeHandler(handler)
    return stream.getvalue()


def test_both_formats_carry_the_request_id():
    doc = json.loads(_emit("json"))
    assert doc["request_id"] == "rid-42" and doc["sample"] == "S-1" and doc["level"] == "WARNING"
    assert "Sup3r-S3cret-Pw" not in doc["message"]
    text = _emit("text")
    assert "[rid-42]" in text and "Sup3r-S3cret-Pw" not in text and not text.startswith("{")
