"""``tlsmgm list`` fits the terminal (issue 14, part 5): on a terminal narrower than the
table, one block per domain (``key: value`` lines); ``--wide`` keeps the table, never folded
into slivers; piped, the plain table scripts read (unless ``--compact``). Run as real
processes under a real pseudo-terminal whose size is set with TIOCSWINSZ."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

from clirun import assert_no_internal_error, run, run_proc
from pki import Pki

NAMES = ["registrar-east.example.com", "carrier-trunk-primary", "outbound-to-provider"]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _cfg(tmp_path: Path, pki: Pki) -> Path:
    """Two server domains and a client domain with long names, filters and paths."""
    east, trunk, out = NAMES
    path = tmp_path / "opensips.cfg"
    path.write_text(
        'loadmodule "tls_openssl.so"\nloadmodule "tls_mgm.so"\n'
        f'modparam("tls_mgm", "server_domain", "{east}")\n'
        f'modparam("tls_mgm", "match_ip_address", "[{east}]192.0.2.10:5061, [2001:db8::10]:5061")\n'
        f'modparam("tls_mgm", "match_sip_domain", "[{east}]east.example.com, *.east.example.com")\n'
        f'modparam("tls_mgm", "certificate", "[{east}]{pki.server.cert_path}")\n'
        f'modparam("tls_mgm", "private_key", "[{east}]{pki.server.key_path}")\n'
        f'modparam("tls_mgm", "ca_list", "[{east}]{pki.ca_bundle_path}")\n'
        f'modparam("tls_mgm", "server_domain", "{trunk}")\n'
        f'modparam("tls_mgm", "match_ip_address", "[{trunk}]198.51.100.7:5061")\n'
        f'modparam("tls_mgm", "certificate", "[{trunk}]{pki.server.cert_path}")\n'
        f'modparam("tls_mgm", "private_key", "[{trunk}]{pki.server.key_path}")\n'
        f'modparam("tls_mgm", "client_domain", "{out}")\n'
        f'modparam("tls_mgm", "match_ip_address", "[{out}]203.0.113.5:5061")\n'
        f'modparam("tls_mgm", "ca_list", "[{out}]{pki.ca_bundle_path}")\n'
        'modparam("tls_mgm", "client_tls_domain_avp", "tls_dom_avp_with_a_long_name")\n')
    return path


def _run_in_pty(args: list[str], columns: int = 80, rows: int = 40, timeout: float = 30,
                env: dict[str, str] | None = None) -> tuple[int, str]:
    """``python -m tlsmgm_cli ARGS`` with stdout on a pseudo-terminal of ``columns``
    columns; (exit status, what the terminal received, without CR)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    full_env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "TLSMGM_DEBUG")}
    full_env.update({"NO_COLOR": "1", **(env or {})})
    proc = subprocess.Popen([sys.executable, "-m", "tlsmgm_cli", *args], stdin=subprocess.DEVNULL,
                            stdout=slave, stderr=subprocess.PIPE, env=full_env)
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        stderr = proc.communicate(timeout=max(deadline - time.monotonic(), 1))[1]
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    out = b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")
    assert_no_internal_error(proc.returncode, out, stderr)
    return proc.returncode, ANSI.sub("", out)


def _words(line: str) -> list[str]:
    """A table line's words, without rich's box characters."""
    return [w for w in line.split() if w not in ("│", "┃")]


def test_narrow_terminal_gets_one_block_per_domain(tmp_path: Path, pki: Pki) -> None:
    cfg = _cfg(tmp_path, pki)
    code, out = _run_in_pty(["list", "-c", str(cfg)], columns=80)
    assert code == 0, out
    lines = out.splitlines()
    assert lines and max(len(line) for line in lines) <= 80, out
    for name in NAMES:  # whole, on their own block's first line
        assert f"name: {name}" in lines, out
    block = out.split(f"name: {NAMES[0]}\n", 1)[1].split("\n\n", 1)[0]
    keys = [line.strip().split(":", 1)[0] for line in block.splitlines() if not line.startswith("    ")]
    assert keys[:5] == ["side", "addresses", "sip domains", "method", "verify/require"], block
    assert {"certificate", "private key", "ca list", "cert"} <= set(keys), block
    addresses = next(line for line in block.splitlines() if line.startswith("  addresses: "))
    assert sorted(addresses.split(": ", 1)[1].split(", ")) == ["192.0.2.10:5061", "[2001:db8::10]:5061"]
    sni = next(line for line in block.splitlines() if line.startswith("  sip domains: "))
    assert sorted(sni.split(": ", 1)[1].split(", ")) == ["*.east.example.com", "east.example.com"]
    assert "globals: client_tls_domain_avp=tls_dom_avp_with_a_long_name" in out


def test_columns_env_is_honoured_like_rich(tmp_path: Path, pki: Pki) -> None:
    """COLUMNS wins over the terminal's own size (rich and shutil both honour it)."""
    cfg = _cfg(tmp_path, pki)
    code, wide_out = _run_in_pty(["list", "-c", str(cfg), "--no-certs"], columns=300)
    assert code == 0 and "name: " not in wide_out  # the table fits 300 columns
    assert any(_words(line)[:2] == ["name", "side"] for line in wide_out.splitlines()), wide_out
    code, out = _run_in_pty(["list", "-c", str(cfg), "--no-certs"], columns=300, env={"COLUMNS": "80"})
    assert code == 0 and all(f"name: {name}" in out.splitlines() for name in NAMES), out
    assert max(len(line) for line in out.splitlines()) <= 80, out


def test_wide_keeps_the_table_without_slivers(tmp_path: Path, pki: Pki) -> None:
    cfg = _cfg(tmp_path, pki)
    code, out = _run_in_pty(["list", "-c", str(cfg), "--wide"], columns=80)
    assert code == 0, out
    lines = out.splitlines()
    assert "name: " not in out
    header = next(line for line in lines if "verify/require" in line)
    assert _words(header)[:3] == ["name", "side", "addresses"], header
    for name in NAMES:  # each row on one line: the name whole, next to its side
        row = next(line for line in lines if name in line)
        assert ("server" if name != NAMES[2] else "client") in row, row


def test_compact_piped_and_no_line_breaks_in_values(tmp_path: Path, pki: Pki) -> None:
    cfg = _cfg(tmp_path, pki)
    result = run("list", "-c", str(cfg), "--compact", "--no-certs")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    for name in NAMES:
        assert f"name: {name}" in lines
    # piped: one line per field, whatever its length (no terminal width to honour)
    assert f"  certificate: {pki.server.cert_path}" in lines


def test_piped_output_is_the_plain_table_as_before(tmp_path: Path, pki: Pki) -> None:
    """Scripts read the piped table: it is the same table with or without --wide, and
    the same as the table of the committed code (tabulate 'simple' of the same rows)."""
    cfg = _cfg(tmp_path, pki)
    default = run_proc(["list", "-c", str(cfg), "--no-certs"])
    wide = run_proc(["list", "-c", str(cfg), "--no-certs", "--wide"])
    assert default.returncode == wide.returncode == 0
    assert default.stdout == wide.stdout
    lines = default.stdout.splitlines()
    assert lines[0].split() == ["name", "side", "addresses", "sip", "domains", "method", "verify/require",
                                "certificate"]
    assert set(lines[1]) <= {"-", " "}
    assert lines[2].split()[:3] == [NAMES[2], "client", "203.0.113.5:5061"]
    assert lines[-1] == "globals: client_tls_domain_avp=tls_dom_avp_with_a_long_name"
    assert "name: " not in default.stdout


def test_compact_escapes_control_characters(tmp_path: Path) -> None:
    path = tmp_path / "evil.cfg"
    path.write_text('loadmodule "tls_openssl.so"\nloadmodule "tls_mgm.so"\n'
                    'modparam("tls_mgm", "server_domain", "evil\x1b]0;owned\x07")\n')
    result = run("list", "-c", str(path), "--compact", "--no-certs")
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout and "name: evil\\x1b]0;owned\\x07" in result.stdout.splitlines()
