"""Review fixes: private SQLite files, empty rule selections, a serve connection that
cannot take the server down, and --opensips-version bounds."""

from __future__ import annotations

import os
import socket
import stat
import struct
import threading
from pathlib import Path

import pytest
from cfgtext import mp, write_cfg
from click.testing import CliRunner
from pki import Pki
from test_serve import (  # noqa: F401 - client_pki is a fixture
    KEY_IP,
    KEY_PORT,
    client_pki,
    handshake_json,
    running_server,
    server_cfg,
    wait_record,
)

from tlsmgm_cli.cli import cli
from tlsmgm_cli.cli.options import parse_version

EXPOSED = "holds private keys and is readable by group/others"


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def file_mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_022():
    """A umask that would make new files 0644."""
    old = os.umask(0o022)
    yield
    os.umask(old)


# -- 1. SQLite files holding private keys ------------------------------------------------
def test_db_init_creates_the_sqlite_file_0600(tmp_path: Path, umask_022: None) -> None:
    path = tmp_path / "opensips.db"
    result = run("db", "init", "--db", f"sqlite:///{path}")
    assert result.exit_code == 0, result.output
    assert file_mode(path) == 0o600


def test_db_init_leaves_an_existing_files_mode(tmp_path: Path, umask_022: None) -> None:
    path = tmp_path / "shared.db"
    path.touch(mode=0o640)
    assert run("db", "init", "--db", f"sqlite:///{path}").exit_code == 0
    assert file_mode(path) == 0o640


def test_add_and_update_warn_about_a_readable_sqlite_file(tmp_path: Path, pki: Pki, umask_022: None) -> None:
    path = tmp_path / "opensips.db"
    url = f"sqlite:///{path}"
    assert run("db", "init", "--db", url).exit_code == 0
    private = run("db", "add", "--db", url, "d1", "server", f"certificate={pki.server.cert_path}",
                  f"private_key={pki.server.key_path}", "verify_cert=0")
    assert private.exit_code == 0, private.output
    assert EXPOSED not in private.stderr
    path.chmod(0o644)
    added = run("db", "add", "--db", url, "d2", "server", f"certificate={pki.server.cert_path}",
                f"private_key={pki.server.key_path}", "verify_cert=0")
    assert added.exit_code == 0, added.output
    assert f"{path} (mode 0644) {EXPOSED}" in added.stderr
    assert f"chmod 600 {path}" in added.stderr
    updated = run("db", "update", "--db", url, "d1", "server", "cipher_list=HIGH")
    assert updated.exit_code == 0 and EXPOSED in updated.stderr


def test_import_warns_about_a_readable_sqlite_file(tmp_path: Path, pki: Pki, umask_022: None) -> None:
    cfg = write_cfg(tmp_path, mp("server_domain", "srv") + mp("verify_cert", "[srv]0")
                    + mp("certificate", f"[srv]{pki.server.cert_path}")
                    + mp("private_key", f"[srv]{pki.server.key_path}"))
    path = tmp_path / "opensips.db"
    url = f"sqlite:///{path}"
    assert run("db", "init", "--db", url).exit_code == 0
    path.chmod(0o604)
    dry = run("db", "import", "-c", str(cfg), "--db", url, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert EXPOSED not in dry.stderr  # the table holds no row yet
    imported = run("db", "import", "-c", str(cfg), "--db", url)
    assert imported.exit_code == 0, imported.output
    assert f"(mode 0604) {EXPOSED}" in imported.stderr


# -- 2. a rule selection that selects nothing --------------------------------------------
@pytest.mark.parametrize("args, words", [
    (["--select", ""], "names no rule"),
    (["--select", ","], "names no rule"),
    (["--ignore", "TLS"], "leave no rule to run"),
    (["--select", "TLS00", "--ignore", "TLS0"], "leave no rule to run"),
])
def test_empty_rule_selection_is_a_usage_error(tmp_path: Path, args: list[str], words: str) -> None:
    cfg = write_cfg(tmp_path, mp("server_domain", "d"))
    result = run("check", "-c", str(cfg), *args)
    assert result.exit_code == 2, result.output
    assert words in result.stderr and "Traceback" not in result.output


def test_nonempty_rule_selection_still_runs(tmp_path: Path) -> None:
    cfg = write_cfg(tmp_path, mp("server_domain", "d"))
    result = run("check", "-c", str(cfg), "--select", "TLS0", "--ignore", "TLS00", "--format", "json")
    assert result.exit_code in (0, 1), result.output
    assert '"findings"' in result.stdout


# -- 3. serve survives a client that resets at once ----------------------------------------
@pytest.fixture
def thread_crashes(monkeypatch: pytest.MonkeyPatch) -> list[threading.ExceptHookArgs]:
    """Exceptions that escape any thread (threading's excepthook would print a traceback)."""
    crashes: list[threading.ExceptHookArgs] = []
    monkeypatch.setattr(threading, "excepthook", crashes.append)
    return crashes


def connect_and_reset(port: int) -> None:
    """Connect and close with SO_LINGER 0: the server gets an RST instead of a hello."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_client_reset_is_recorded_and_the_server_keeps_serving(
        tmp_path: Path, pki: Pki, client_pki, thread_crashes) -> None:  # noqa: F811
    cfg = server_cfg(tmp_path, pki, client_pki)
    with running_server(cfg, [f"{KEY_IP}:{KEY_PORT}=127.0.0.1:0"]) as (_server, records, ports):
        for _ in range(5):
            connect_and_reset(ports[0])
        reset = wait_record(records, 5)
        code, out = handshake_json(f"127.0.0.1:{ports[0]}", "-c", str(cfg))
        after = wait_record(records, 6)[-1]
    assert thread_crashes == []
    for record in reset:
        assert record["outcome"] == "failed", record
        assert record["error"].startswith("connection error: "), record
    assert code == 0 and out["connected"], out
    assert after["outcome"] == "selected" and after["domain"] == "nosni"


def test_unexpected_error_is_recorded_not_raised(tmp_path: Path, pki: Pki, client_pki,  # noqa: F811
                                                 thread_crashes, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fault injection: no real certificate is known to trip ``cert_vars``, so make it fail."""
    from tlsmgm_cli.core.tls import server as tlsserver

    def broken_cert_vars(*_args: object) -> dict:
        raise ValueError("odd certificate")

    monkeypatch.setattr(tlsserver, "cert_vars", broken_cert_vars)
    cfg = server_cfg(tmp_path, pki, client_pki)
    with running_server(cfg, [f"{KEY_IP}:{KEY_PORT}=127.0.0.1:0"]) as (_server, records, ports):
        handshake_json(f"127.0.0.1:{ports[0]}", "-c", str(cfg), "--timeout", "3")
        record = wait_record(records, 1)[0]
        monkeypatch.undo()
        monkeypatch.setattr(threading, "excepthook", thread_crashes.append)
        code, _out = handshake_json(f"127.0.0.1:{ports[0]}", "-c", str(cfg))
        after = wait_record(records, 2)[-1]
    assert thread_crashes == []
    assert record["outcome"] == "failed"
    assert record["error"] == "internal error: ValueError: odd certificate"
    assert code == 0 and after["outcome"] == "selected"


# -- 4. --opensips-version ---------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("3.6.8", (3, 6, 8)), ("3.6", (3, 6, 0)), ("3.5", (3, 5, 0)), ("003.005.012", (3, 5, 12)),
    (" 3.6.5 ", (3, 6, 5)),  # releases tlsmgm does not model: tests/hostile/test_output_hygiene.py
])
def test_parse_version_accepts(text: str, expected: tuple[int, int, int]) -> None:
    assert parse_version(text) == expected


@pytest.mark.parametrize("text", ["-1", "99999999999999999999.1", "1000", "3.6.8.1", "", "3..6", "3.6.",
                                  "v3.6", "3.6.8a", "+3", "3.\u00b2", "1" * 5000])
def test_bad_opensips_version_is_a_usage_error(tmp_path: Path, text: str) -> None:
    cfg = write_cfg(tmp_path, mp("server_domain", "d"))
    result = run("list", "-c", str(cfg), "--no-certs", "--opensips-version", text)
    assert result.exit_code == 2, result.output
    assert "--opensips-version" in result.stderr and "not a version like 3.6.8" in result.stderr
    assert "Traceback" not in result.output


def test_tls_library_none_downgrades_library_level_errors(tmp_path):
    """Spec §7.1: with tls_library "none" no file is opened at startup - a missing
    certificate or a bad cipher list does not stop OpenSIPS (warning, not error)."""
    import json

    from cfgtext import mp, write_cfg
    from click.testing import CliRunner

    from tlsmgm_cli.cli import cli

    body = (mp("server_domain", "d") + mp("certificate", f"[d]{tmp_path}/missing.pem")
            + mp("private_key", f"[d]{tmp_path}/missing.key") + mp("ciphers_list", "[d]NOPE"))
    strict = write_cfg(tmp_path, body, name="strict.cfg")
    none = write_cfg(tmp_path, mp("tls_library", "none") + body, name="none.cfg")
    run = lambda p: CliRunner().invoke(cli, ["check", "-c", str(p), "--format", "json"])  # noqa: E731
    strict_doc, none_doc = json.loads(run(strict).stdout), json.loads(run(none).stdout)
    strict_errors = {f["rule"] for f in strict_doc["findings"] if f["severity"] == "error"}
    assert {"TLS200"} <= strict_errors
    assert run(none).exit_code == 0
    downgraded = {f["rule"] for f in none_doc["findings"] if f["severity"] == "warning"}
    assert strict_errors - downgraded == set()
    assert all("tls_library is" in f["hint"] for f in none_doc["findings"] if f["rule"] in strict_errors)
