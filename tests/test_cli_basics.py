"""Root command: fast --help (no heavy imports), --version, lazy registry consistency,
and the error contract (exit 2, file:line, never a traceback)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from cfgtext import mp, write_cfg
from clirun import run

from tlsmgm_cli import exitcodes
from tlsmgm_cli.cli import COMMANDS, cli
from tlsmgm_cli.cli.options import parse_version

HEAVY = ("cryptography", "rich", "yaml", "ssl", "tabulate", "sqlite3")


def _help_argvs() -> list[list[str]]:
    """``--help`` for the root, every registered command and every db/gen/mi subcommand."""
    argvs = [["--help"]] + [[name, "--help"] for name in COMMANDS]
    for group in ("db", "gen", "mi"):
        argvs += [[group, sub, "--help"] for sub in cli.get_command(None, group).commands]
    return argvs


@pytest.mark.parametrize("argv", _help_argvs(), ids=" ".join)
def test_help_imports_no_heavy_module(argv):
    code = (
        "import sys\n"
        "from tlsmgm_cli.cli import cli\n"
        "try:\n"
        f"    cli.main({argv!r}, prog_name='tlsmgm')\n"
        "except SystemExit as done:\n"
        "    assert not done.code, done.code\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "Usage: tlsmgm" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_python_dash_m_works():
    out = subprocess.run([sys.executable, "-m", "tlsmgm_cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "tlsmgm" in out.stdout


def test_version_lists_components():
    result = run(*["--version"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].startswith("tlsmgm ") and lines[1].startswith("Python ")
    assert "OpenSSL" in result.output and "cryptography" in result.output


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_registry_short_help_matches_command(name):
    cmd = cli.get_command(None, name)
    if cmd is None:
        pytest.skip(f"{name} not implemented yet")
    assert cmd.help, f"{name} has no --help text"
    first_line = cmd.help.strip().splitlines()[0]
    assert first_line == COMMANDS[name][2]


def test_error_classes_carry_their_exit_status():
    from tlsmgm_cli.core.errors import TlsmgmError, UsageError
    from tlsmgm_cli.core.mi.client import MiError, MiUsageError
    from tlsmgm_cli.core.mi.nodes import NodesError

    assert TlsmgmError("x").exit_code == exitcodes.PROBLEMS  # an operation that failed
    assert UsageError("x").exit_code == exitcodes.USAGE and isinstance(UsageError("x"), TlsmgmError)
    assert MiError("x").exit_code == exitcodes.PROBLEMS
    assert isinstance(MiUsageError("x"), MiError) and MiUsageError("x").exit_code == exitcodes.USAGE
    assert NodesError("x").exit_code == exitcodes.USAGE
    assert TlsmgmError("x", exit_code=exitcodes.USAGE).exit_code == exitcodes.USAGE


def test_usage_error_is_2_and_operational_failure_is_1(tmp_path):
    """A wrong command line exits USAGE; a command that could not do its work, PROBLEMS."""
    ca = tmp_path / "ca"
    assert run("gen", "ca", "--out", str(ca)).exit_code == exitcodes.OK
    again = run("gen", "ca", "--out", str(ca))
    assert again.exit_code == exitcodes.USAGE and "use --force" in again.stderr
    blocker = tmp_path / "plain-file"
    blocker.write_text("x")
    unwritable = run("gen", "ca", "--out", str(blocker / "sub"))  # --out names no usable directory
    assert unwritable.exit_code == exitcodes.USAGE and "is not a directory" in unwritable.stderr
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/mi"
    down = run("mi", "tls_list", "--mi-url", url, "--timeout", "5")
    assert down.exit_code == exitcodes.PROBLEMS and "cannot reach" in down.stderr
    bad_url = run("mi", "tls_list", "--mi-url", "ftp://127.0.0.1/mi")
    assert bad_url.exit_code == exitcodes.USAGE and "not a usable MI URL" in bad_url.stderr
    # diff is the one specified exception: an OpenSIPS that cannot be reached is 2 (issue 14)
    cfg = write_cfg(tmp_path, mp("server_domain", "dom"))
    drift = run("diff", "-c", str(cfg), "--mi-url", url, "--timeout", "5")
    assert drift.exit_code == exitcodes.USAGE and "cannot reach" in drift.stderr


def test_unreadable_config_exit_2(tmp_path):
    result = run(*["list", "-c", str(tmp_path / "missing.cfg")])
    assert result.exit_code == 2
    assert "missing.cfg" in result.stderr and "Traceback" not in result.output


def test_directory_as_config_exit_2(tmp_path):
    result = run(*["list", "-c", str(tmp_path)])
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_binary_garbage_exit_2(tmp_path):
    path = tmp_path / "garbage.cfg"
    path.write_bytes(bytes(range(256)) * 8)
    result = run(*["list", "-c", str(path)])
    assert result.exit_code == 2
    assert f"{path}:1:" in result.stderr


@pytest.mark.parametrize("body, line, needle", [
    ('modparam("tls_mgm", "server_domain", "unterminated)\n', 3, "string"),
    ('/* never closed\nmodparam("tls_mgm", "server_domain", "d")\n', 3, "comment"),
    (mp("server_domain", "d") + mp("certificate", "/etc/c.pem"), 4, "No TLS domain name"),
    (mp("verify_cert", "[d]1") + mp("server_domain", "d"), 3, "TLS domain [d] not defined"),
    (mp("sever_domain", "d"), 3, "parameter <sever_domain> not found in module <tls_mgm>"),
])
def test_bad_config_names_file_line_exit_2(tmp_path, body, line, needle):
    path = write_cfg(tmp_path, body)
    result = run(*["list", "-c", str(path)])
    assert result.exit_code == 2, result.output
    assert f"{path}:{line}:" in result.stderr
    assert needle in result.stderr
    assert "Traceback" not in result.output


def test_include_loop_located_at_include(tmp_path):
    (tmp_path / "a.cfg").write_text('include_file "b.cfg"\n')
    (tmp_path / "b.cfg").write_text('\ninclude_file "a.cfg"\n')
    result = run(*["list", "-c", str(tmp_path / "a.cfg")])
    assert result.exit_code == 2
    assert f"{tmp_path / 'b.cfg'}:2:" in result.stderr


def test_list_json_has_provenance(tmp_path):
    path = write_cfg(tmp_path, mp("server_domain", "d") + mp("tls_method", "[d]TLSv1_2"))
    result = run(*["list", "-c", str(path), "--format", "json", "--no-certs"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    dom = doc["domains"][0]
    assert (dom["name"], dom["file"], dom["line"]) == ("d", str(path), 3)
    assert dom["locations"]["tls_method"] == f"{path}:4"
    assert dom["method"] == "TLSv1_2" and dom["certificate"] == "/etc/opensips/tls/cert.pem"
    assert "certificate" in dom["defaults"]


def test_list_reads_certificate_summary(tmp_path, pki):
    path = write_cfg(tmp_path, mp("server_domain", "d") + mp("certificate", f"[d]{pki.server.cert_path}"))
    result = run(*["list", "-c", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    cert = json.loads(result.stdout)["domains"][0]["cert"]
    assert cert["subject_cn"] == "atlanta.com" and "atlanta.com" in cert["sans"]


def test_list_plain_table_when_piped(tmp_path):
    path = write_cfg(tmp_path, mp("server_domain", "d") + mp("match_sip_domain", "[d]a.com"))
    result = run(*["list", "-c", str(path), "--no-certs"])
    assert result.exit_code == 0
    assert "\x1b[" not in result.stdout
    lines = result.stdout.splitlines()
    assert lines[0].split()[:2] == ["name", "side"]
    assert any(line.split()[:3] == ["d", "server", "*"] for line in lines)


def test_db_url_password_is_masked(tmp_path):
    path = write_cfg(tmp_path, mp("db_url", "mysql://opensips:s3cr3t@db.example.com/opensips"))
    result = run(*["list", "-c", str(path), "--format", "json", "--no-certs"])
    # the DB cannot be reached: a warning, the script domains, exit 0; never the password
    assert result.exit_code == 0, result.output
    assert "s3cr3t" not in result.output
    masked = "mysql://opensips:***@db.example.com/opensips"
    assert f"warning: cannot read the DB domains from {masked}" in result.stderr
    assert json.loads(result.stdout)["globals"]["db_url"] == masked


# -- --opensips-version ----------------------------------------------------------------
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
    assert result.exit_code == exitcodes.USAGE, result.output
    assert "--opensips-version" in result.stderr and "not a version like 3.6.8" in result.stderr
    assert "Traceback" not in result.output
