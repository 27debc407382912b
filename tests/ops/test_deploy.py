"""deploy/ (issue 17): the configuration reference is exactly what the settings class says; the systemd
units pass `systemd-analyze verify` and carry their restart policy, user and hardening; the nginx example
passes `nginx -t` with TLS; every `lims` command deploy/README.md and the units show parses with the real
CLI, every file the README names exists, and every LIMS_ variable of the examples is a real setting."""

from __future__ import annotations

import configparser
import re
import shlex
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


# deploy/README.md stays true to the software it installs. No install here (that walk-through is done by hand
# on a fresh machine); these catch the drift between the text and the CLI, the files and the settings.

ROOT = DEPLOY.parent
README = (DEPLOY / "README.md").read_text(encoding="utf-8")
TEXTS = {p.name: p.read_text(encoding="utf-8") for p in [DEPLOY / "README.md", *sorted((DEPLOY / "systemd").iterdir())]}
INLINE = re.compile(r"`(lims [^`]+)`")
INSTALLED = re.compile(r"/opt/lims/venv/bin/lims ([^'\n#>]+)")
RELATIVE = re.compile(r"(?<![\w/.$-])((?:[\w.-]+/)+[\w.{},-]+\.(?:py|md|service|timer|conf|example|toml|\{service,timer\}))")
FROM_SOURCE = re.compile(r"/opt/lims/src/([\w./*{},-]+)")
EXTRA_VARIABLES = {"LIMS_ACQUIRE_CONFIG"}  # read outside the settings class (configuration.md, last table)


def _words(command: str) -> list[str]:
    """A documented command as argv: optional parts ``[--out FILE]`` taken, the first of ``a|b|c``."""
    command = re.sub(r"\$\([^)]*\)", "X", command)  # a shell substitution is one word (the backup's file name)
    words = shlex.split(command.replace("[", " ").replace("]", " "))
    return [w.split("|")[0] if "|" in w and not w.startswith("$(") else w for w in words]


def _documented_commands() -> list[tuple[str, list[str]]]:
    found: dict[str, tuple[str, list[str]]] = {}
    for name, text in TEXTS.items():
        for pattern in (INLINE, INSTALLED):
            for m in pattern.finditer(text):
                command = m.group(1).removeprefix("lims ").split(" && ")[0].rstrip()
                argv = _words(command)
                found.setdefault(f"{name}:" + " ".join(argv), (f"{name}: lims {command}", argv))
    return list(found.values())


def test_readme_and_units_show_lims_commands():
    shown = [" ".join(argv) for _, argv in _documented_commands()]
    for needed in ("db upgrade", "upstream keygen", "lab init --code", "user create", "backup --out", "restore",
                   "audit verify", "hub lab add", "hub serve", "serve --host", "acquire --config", "upstream run"):
        assert any(s.startswith(needed) for s in shown), needed


@pytest.mark.parametrize("where,argv", _documented_commands(), ids=[w.split(":")[0] + ":" + "-".join(a[:3]) for w, a in _documented_commands()])
def test_every_documented_lims_command_parses_with_the_real_cli(where, argv):
    from lims.cli import build_parser, command_paths

    path = argv[:argv.index("--help")] if "--help" in argv else argv
    if "--help" in argv or argv in command_paths():  # help, or a command named in prose (`lims restore`)
        assert path in command_paths(), where
        return
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse refused it: the README shows a command the CLI does not take
        pytest.fail(f"{where}: argparse exit {exc.code}")
    assert getattr(args, "handler", None) is not None, f"{where}: not a complete command"


def _named_files() -> set[str]:
    names: set[str] = set()
    for text in TEXTS.values():
        names.update(m.group(1) for m in RELATIVE.finditer(text) if not m.group(1).startswith(".."))
        names.update(m.group(1) for m in FROM_SOURCE.finditer(text))
    expanded = set()
    for name in names:
        m = re.search(r"\{([^}]*)\}", name)
        parts = m.group(1).split(",") if m else [None]
        expanded.update(name.replace(m.group(0), p) if m and p else name for p in parts)
    return expanded


def test_every_file_the_readme_names_exists():
    names = _named_files()
    assert {"deploy/lims.env.example", "systemd/lims-backup.timer", "tests/integration/test_process_faults.py"} <= names
    for name in names:
        hits = list(DEPLOY.glob(name)) + list(ROOT.glob(name))
        assert hits, f"deploy/README.md names {name}, which is not in the repository (deploy/ or the root)"


def test_every_environment_file_of_a_unit_has_an_example():
    for unit in UNITS:
        for line in unit.read_text().splitlines():
            if line.startswith("EnvironmentFile="):
                path = Path(line.split("=", 1)[1].lstrip("-"))
                assert (DEPLOY / f"{path.name}.example").is_file(), f"{unit.name}: no deploy/{path.name}.example"
                assert f"deploy/{path.name}.example" in README, f"README does not say where {path} comes from"


def test_every_lims_variable_in_the_examples_and_units_is_a_real_setting():
    known = {f"LIMS_{name.upper()}" for name in Settings.model_fields} | EXTRA_VARIABLES
    texts = [*TEXTS.values(), *(p.read_text() for p in DEPLOY.glob("*.env.example"))]
    used = {v for text in texts for v in re.findall(r"\bLIMS_[A-Z0-9_]*[A-Z0-9]\b", text)}
    assert "LIMS_DATABASE_URL" in used and "LIMS_HUB_DATABASE_URL" in used
    assert not used - known, f"not settings: {sorted(used - known)}"
