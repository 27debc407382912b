"""deploy/ (issue 17): the configuration reference is exactly what the settings class says; the systemd
units pass `systemd-analyze verify` and carry their restart policy, user and hardening; the nginx example
passes `nginx -t` with TLS."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lims.config import Settings
from lims.ops import configref

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
DAEMONS = ("lims-serve", "lims-acquire", "lims-upstream", "lims-hub")
HARDENING = {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "PrivateTmp": "yes", "ProtectHome": "yes",
             "User": "lims", "CapabilityBoundingSet": ""}


def test_configuration_reference_is_generated_from_the_settings_class():
    written = (DEPLOY / "configuration.md").read_text(encoding="utf-8")
    assert written == configref.render(), "run: python -m lims.ops.configref > deploy/configuration.md"
    for name, field in Settings.model_fields.items():
        row = next(line for line in written.splitlines() if line.startswith(f"| `LIMS_{name.upper()}` |"))
        assert ("unset" if field.default is None else f"`{field.default}`") in row
        assert row.rstrip(" |").split("|")[-1].strip(), f"LIMS_{name.upper()} has no description"


def _unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text())
    return parser


def test_every_process_has_a_unit_that_restarts_as_a_dedicated_hardened_user():
    names = {u.stem for u in UNITS}
    assert set(DAEMONS) <= names
    for daemon in DAEMONS:
        service = _unit(DEPLOY / "systemd" / f"{daemon}.service")["Service"]
        assert service["Restart"] == "always", daemon
        for key, value in HARDENING.items():
            assert service.get(key) == value, f"{daemon}: {key}"
        assert "/opt/lims/venv/bin/lims" in service["ExecStart"]
    for timer in ("lims-backup", "lims-audit-verify"):
        assert (DEPLOY / "systemd" / f"{timer}.timer").is_file()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_units_pass_systemd_analyze_verify(tmp_path):
    lims = Path(sys.executable).with_name("lims")
    for unit in (DEPLOY / "systemd").iterdir():  # the installed path replaced by this checkout's venv
        (tmp_path / unit.name).write_text(unit.read_text().replace("/opt/lims/venv/bin/lims", str(lims)))
    done = subprocess.run(["systemd-analyze", "verify", *sorted(str(p) for p in tmp_path.iterdir())],
                          capture_output=True, text=True, timeout=120)
    problems = [line for line in (done.stdout + done.stderr).splitlines()
                if line.strip() and "Failed to connect to" not in line and "not running in a container" not in line]
    assert done.returncode == 0 and not problems, problems


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")
def test_nginx_example_passes_nginx_t(tmp_path):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem"), "-days", "1",
                    "-subj", "/CN=jc.example.gov.cn"], check=True, capture_output=True)
    site = ((DEPLOY / "nginx" / "lims.conf").read_text()
            .replace("/etc/ssl/lims/fullchain.pem", str(tmp_path / "cert.pem"))
            .replace("/etc/ssl/lims/privkey.pem", str(tmp_path / "key.pem"))
            .replace("/var/log/nginx/lims.access.log", str(tmp_path / "access.log")))
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
                                         f"http {{\n include {tmp_path}/site.conf;\n}}\n")
    done = subprocess.run(["nginx", "-t", "-c", str(tmp_path / "nginx.conf")], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert "ssl_certificate" in site and "location = /metrics" in site and "X-Request-ID" in site
