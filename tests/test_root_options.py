"""Root options: --version, -q/--quiet, -v/--verbose, --no-color and NO_COLOR; the progress
bar they govern (terminal-only, human formats, long runs) and the -v/--verbose lines."""

from __future__ import annotations

import json
import os
import platform
import pty
import re
import sqlite3
import ssl
import subprocess
import sys
from pathlib import Path

import cryptography
import pytest
from cfgtext import mp, write_cfg
from clirun import run
from pki import Pki

from tlsmgm_cli import __version__
from tlsmgm_cli.render import console, settings
from tlsmgm_cli.render.progress import PROGRESS_MIN_ITEMS, progress_bar, progress_wanted

FRAGMENT = mp("server_domain", "dom1")  # no loadmodule: a warning, not an error


@pytest.fixture(autouse=True)
def reset_settings(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("TLSMGM_NO_COLOR", raising=False)
    saved = (settings.quiet, settings.verbose, settings.no_color)
    yield
    settings.quiet, settings.verbose, settings.no_color = saved


@pytest.fixture
def fragment(tmp_path):
    return str(write_cfg(tmp_path, FRAGMENT, header=""))


def test_version_lines_exact():
    result = run(*["--version"])
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        f"tlsmgm {__version__}",
        f"Python {platform.python_version()}",
        ssl.OPENSSL_VERSION,
        f"cryptography {cryptography.__version__}",
    ]


def test_version_wins_over_a_subcommand():
    result = run(*["--version", "list", "-c", "/nonexistent.cfg"])
    assert result.exit_code == 0 and result.stdout.startswith("tlsmgm ")


def test_version_in_a_real_process():
    out = subprocess.run([sys.executable, "-m", "tlsmgm_cli", "--version"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.splitlines()[0] == f"tlsmgm {__version__}"


def test_warnings_shown_by_default(fragment):
    result = run(*["list", "-c", fragment])
    assert result.exit_code == 0
    assert "warning: tls_mgm is never loaded" in result.stderr


@pytest.mark.parametrize("flag", ["-q", "--quiet"])
def test_quiet_drops_warnings_keeps_results(fragment, flag):
    result = run(*[flag, "list", "-c", fragment])
    assert result.exit_code == 0
    assert result.stderr == "" and "dom1" in result.stdout
    assert settings.quiet is True


def test_quiet_keeps_errors(tmp_path):
    bad = write_cfg(tmp_path, mp("verify_cert", "[nodom]1"))
    result = run(*["-q", "list", "-c", str(bad)])
    assert result.exit_code == 2 and "error:" in result.stderr


def test_settings_are_per_invocation(fragment):
    run(*["-q", "-vv", "--no-color", "list", "-c", fragment])
    assert (settings.quiet, settings.verbose, settings.no_color) == (True, 2, True)
    run(*["list", "-c", fragment])
    assert (settings.quiet, settings.verbose, settings.no_color) == (False, 0, False)


def test_verbose_counts(fragment):
    run(*["--verbose", "-v", "-v", "list", "-c", fragment])
    assert settings.verbose == 3


@pytest.mark.parametrize("env", [{"NO_COLOR": "1"}, {"TLSMGM_NO_COLOR": "1"}])
def test_no_color_from_environment(fragment, env):
    result = run(*["list", "-c", fragment], env=env)
    assert result.exit_code == 0
    assert settings.no_color is True and console().no_color is True


def test_empty_no_color_means_colour_allowed(fragment):
    run(*["list", "-c", fragment], env={"NO_COLOR": ""})
    assert settings.no_color is False and console().no_color is False


def test_no_color_flag_reaches_rich_console(fragment):
    run(*["--no-color", "list", "-c", fragment])
    assert console().no_color is True and console(stderr=True).no_color is True


# -- the progress bar (terminal-only, human formats, long runs, -q) and -v lines ---------
# Terminals are real pseudo-terminals (pty), never mocks.

LONG = PROGRESS_MIN_ITEMS + 5
ANSI = "\x1b["
SECONDS = r"\d+\.\d\d s"


def server_domains(pki: Pki, count: int) -> str:
    """``count`` valid server domains, each on its own address."""
    return "".join(
        mp("server_domain", f"d{i}") + mp("certificate", f"[d{i}]{pki.server.cert_path}")
        + mp("private_key", f"[d{i}]{pki.server.key_path}")
        + mp("match_ip_address", f"[d{i}]10.1.{i // 250}.{i % 250 + 1}:5061")
        for i in range(count))


def run_on_terminal(*args: str, cwd: Path | None = None) -> tuple[int, str, str]:
    """Run tlsmgm in a real process whose stderr is a pseudo-terminal; stdout is a file.
    Returns (exit status, stdout, stderr as the terminal received it)."""
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TLSMGM_NO_COLOR")}
    env.update(TERM="xterm", COLUMNS="100")
    out_path = Path(cwd or ".") / "stdout.txt"
    with open(out_path, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "tlsmgm_cli", *args], stdout=out, stderr=slave,
                                env=env, cwd=cwd)
    os.close(slave)
    received = bytearray()
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        received += data
    os.close(master)
    status = proc.wait(timeout=120)
    return status, out_path.read_text(), received.decode("utf-8", "replace")


# --- the helper itself ---------------------------------------------------------------

def test_helper_is_a_no_op_when_stderr_is_not_a_terminal(tmp_path: Path, monkeypatch) -> None:
    with open(tmp_path / "err.txt", "w") as not_a_tty:
        monkeypatch.setattr(sys, "stderr", not_a_tty)
        with progress_bar("working", LONG * 10) as advance:
            assert advance is None
    assert (tmp_path / "err.txt").read_text() == ""


def test_helper_decides_on_a_real_terminal(monkeypatch) -> None:
    master, slave = pty.openpty()
    try:
        with os.fdopen(slave, "w", closefd=True) as terminal:
            monkeypatch.setattr(sys, "stderr", terminal)
            assert progress_wanted(PROGRESS_MIN_ITEMS)
            assert not progress_wanted(PROGRESS_MIN_ITEMS - 1)
            assert not progress_wanted(LONG, human=False)
            assert progress_wanted(10, min_items=10)
            settings.quiet = True
            assert not progress_wanted(LONG)
            settings.quiet = False
            with progress_bar("working hard", LONG) as advance:
                assert callable(advance)
                advance(3)
                advance(4, LONG + 1)
            terminal.flush()
            shown = os.read(master, 65536).decode("utf-8", "replace")
    finally:
        os.close(master)
    assert "working hard" in shown


def test_no_color_reaches_the_bar(monkeypatch) -> None:
    master, slave = pty.openpty()
    try:
        with os.fdopen(slave, "w", closefd=True) as terminal:
            monkeypatch.setattr(sys, "stderr", terminal)
            settings.no_color = True
            with progress_bar("plain bar", LONG) as advance:
                assert advance is None  # a bar redraws with cursor escapes: none under --no-color
            terminal.write("end\n")
            terminal.flush()
            shown = os.read(master, 65536).decode("utf-8", "replace")
    finally:
        os.close(master)
    assert "plain bar" not in shown
    assert "\x1b" not in shown, "an escape sequence despite --no-color"


# --- the commands, on a terminal and not --------------------------------------------------

def test_check_bar_on_a_terminal_only_for_text(pki: Pki, tmp_path: Path) -> None:
    cfg = str(write_cfg(tmp_path, server_domains(pki, LONG)))
    status, out, err = run_on_terminal("check", "-c", cfg, "--select", "TLS2", cwd=tmp_path)
    assert status == 0 and "checking domains" in err
    status, out, err = run_on_terminal("check", "-c", cfg, "--select", "TLS2", "-f", "json", cwd=tmp_path)
    assert status == 0 and err == "" and json.loads(out)["summary"]["domains"] == LONG
    status, out, err = run_on_terminal("-q", "check", "-c", cfg, "--select", "TLS2", cwd=tmp_path)
    assert status == 0 and "checking domains" not in err


def test_check_short_run_has_no_bar(pki: Pki, tmp_path: Path) -> None:
    cfg = str(write_cfg(tmp_path, server_domains(pki, 3)))
    status, _, err = run_on_terminal("check", "-c", cfg, "--select", "TLS2", cwd=tmp_path)
    assert status == 0 and "checking domains" not in err


def test_check_in_cli_runner_has_no_progress_text(pki: Pki, tmp_path: Path) -> None:
    cfg = str(write_cfg(tmp_path, server_domains(pki, LONG)))
    result = run("check", "-c", cfg, "--select", "TLS2")
    assert result.exit_code == 0
    assert "checking domains" not in result.output and ANSI not in result.output


def test_inspect_bar_for_many_files_in_human_formats(pki: Pki, tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    certs.mkdir()
    pem = Path(pki.server.cert_path).read_bytes()
    for i in range(LONG):
        (certs / f"c{i:03}.pem").write_bytes(pem)
    (certs / "c100x.pem").write_text("garbage\n")
    pattern = str(certs / "*.pem")
    status, out, err = run_on_terminal("inspect", pattern, "-f", "xlog", cwd=tmp_path)
    assert status == 1 and "inspecting files" in err
    # the error is printed after the bar has gone, at the start of a line
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", err)
    assert re.search(r"[\r\n]tlsmgm: error: .*c100x\.pem: not a certificate", plain)
    assert plain.index("tlsmgm: error") > plain.rindex("inspecting files")
    assert out.count("# ") == LONG
    status, out, err = run_on_terminal("inspect", pattern, "-f", "json", cwd=tmp_path)
    assert status == 1 and "inspecting files" not in err and len(json.loads(out)) == LONG
    result = run("inspect", pattern)
    assert "inspecting files" not in result.output and ANSI not in result.stderr


def sqlite_db(tmp_path: Path, name: str = "tls.db") -> str:
    url = f"sqlite:///{tmp_path / name}"
    assert run("db", "init", "--db", url).exit_code == 0
    return url


def test_db_import_bar_and_rows(pki: Pki, tmp_path: Path) -> None:
    cfg = str(write_cfg(tmp_path, server_domains(pki, LONG)))
    url = sqlite_db(tmp_path)
    status, out, err = run_on_terminal("db", "import", "-c", cfg, "--db", url, cwd=tmp_path)
    assert status == 0, err
    assert "writing rows" in err
    assert f"wrote {LONG} new and 0 changed row(s)" in out
    with sqlite3.connect(tmp_path / "tls.db") as db:
        assert db.execute("SELECT COUNT(*) FROM tls_mgm").fetchone() == (LONG,)


def test_quiet_suppresses_hints(pki: Pki, tmp_path: Path) -> None:
    cfg = str(write_cfg(tmp_path, server_domains(pki, 2)))
    loud = run("db", "import", "-c", cfg, "--db", sqlite_db(tmp_path, "loud.db"))
    assert loud.exit_code == 0 and "OpenSIPS reads the table at startup" in loud.stderr
    quiet = run("-q", "db", "import", "-c", cfg, "--db", sqlite_db(tmp_path, "quiet.db"))
    assert quiet.exit_code == 0 and "OpenSIPS reads the table" not in quiet.stderr
    assert "wrote 2 new and 0 changed row(s)" in quiet.stdout


# --- -v/--verbose -------------------------------------------------------------------------

@pytest.fixture
def included_cfg(pki: Pki, tmp_path: Path) -> Path:
    (tmp_path / "tls.cfg").write_text(
        mp("client_domain", "out") + mp("certificate", f"[out]{pki.client.cert_path}")
        + mp("private_key", f"[out]{pki.client.key_path}"))
    return write_cfg(tmp_path, server_domains(pki, 1) + 'include_file "tls.cfg"\n')


def test_verbose_says_what_was_read(included_cfg: Path) -> None:
    cfg = str(included_cfg)
    result = run("-v", "list", "-c", cfg)
    assert result.exit_code == 0
    assert re.search(rf"^tlsmgm: {re.escape(cfg)}: read 2 files \(main \+ 1 include\), 2 domains "
                     rf"\(1 server, 1 client\), {SECONDS}$", result.stderr, re.M), result.stderr
    assert "  read " not in result.stderr


def test_no_verbose_lines_without_v_or_with_q(included_cfg: Path) -> None:
    for args in ([], ["-q", "-v"]):
        result = run(*args, "list", "-c", str(included_cfg))
        assert result.exit_code == 0 and "tlsmgm: " not in result.stderr and "read 2 files" not in result.stderr


def test_vv_lists_every_file(included_cfg: Path) -> None:
    result = run("-vv", "list", "-c", str(included_cfg))
    lines = result.stderr.splitlines()
    assert f"tlsmgm:   read {included_cfg}" in lines
    assert any(line.startswith("tlsmgm:   read ") and line.endswith("tls.cfg") for line in lines)


def test_verbose_counts_db_domains(pki: Pki, tmp_path: Path) -> None:
    url = sqlite_db(tmp_path)
    added = run("db", "add", "--db", url, "fromdb", "server", f"certificate={pki.server.cert_path}",
                f"private_key={pki.server.key_path}", "match_ip_address=10.9.9.9:5061")
    assert added.exit_code == 0, added.output
    cfg = str(write_cfg(tmp_path, server_domains(pki, 1)))
    result = run("-v", "list", "-c", cfg, "--db", url)
    assert result.exit_code == 0, result.output
    assert re.search(rf"read 1 file, 2 domains \(2 server, 0 client; 1 from DB\), {SECONDS}$",
                     result.stderr, re.M), result.stderr


def test_verbose_check_keeps_json_clean(pki: Pki, tmp_path: Path) -> None:
    cfg = str(write_cfg(tmp_path, server_domains(pki, 3)))
    result = run("-v", "check", "-c", cfg, "-f", "json", "--select", "TLS2")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["summary"]["domains"] == 3
    assert re.search(rf"^tlsmgm: {re.escape(cfg)}: checked 3 domains in {SECONDS}$", result.stderr, re.M)
    assert "read 1 file, 3 domains (3 server, 0 client)" in result.stderr
    assert "checked" not in run("check", "-c", cfg, "-f", "json", "--select", "TLS2").stderr


def test_verbose_inspect_names_the_trust_store(pki: Pki, tmp_path: Path) -> None:
    cfg = write_cfg(tmp_path, server_domains(pki, 1) + mp("ca_list", f"[d0]{pki.ca.cert_path}")
                    + mp("ca_dir", f"[d0]{pki.ca_dir}"))
    result = run("-v", "inspect", str(pki.client.cert_path), "-c", str(cfg), "--domain", "d0",
                 "--var", "tls_peer_verified")
    assert result.stdout == "1\n", result.output
    assert (f"tlsmgm: verifying as server domain [d0]: CAs from {pki.ca.cert_path}, {pki.ca_dir}; "
            "CRLs from nothing") in result.stderr.splitlines()
    assert "verifying" not in run("inspect", str(pki.client.cert_path), "-c", str(cfg), "--domain", "d0",
                                  "--var", "tls_peer_verified").stderr
