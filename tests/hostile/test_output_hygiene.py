"""issue 12 item 7 (a closed pipe keeps the failing status), output to a full device,
--no-color / NO_COLOR on a real terminal, --opensips-version releases tlsmgm does not
model, control characters from configs and MI replies in text output (item 5), and
TLS203's two OpenSIPS quotes. Runs that touch pipes, devices and terminals are real
processes."""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cfgtext import HEADER, mp
from clirun import assert_no_internal_error, run
from miserver import HttpMi, answer, isolate_mi_settings

from tlsmgm_cli import exitcodes
from tlsmgm_cli.core.checks.rules import RULES

ESC_NAME = "ev\x1bPil\x07"  # a domain name holding ESC and BEL
ESC_SIP = "a\x1b]0;pwned\x07b.com"


def tlsmgm(*args: str) -> list[str]:
    return [sys.executable, "-m", "tlsmgm_cli", *args]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TLSMGM_NO_COLOR", "TLSMGM_DEBUG")}
    env.update(extra)
    return env


def read_one_line_then_close(args: list[str], *, merge_stderr: bool = False, timeout: float = 120) -> int:
    """Run ``args``, read one line of its output, close the pipe (like ``| head -1``) and
    return the exit status. stderr (unless merged) is checked for internal errors."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE, env=clean_env())
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert first, "no output at all"
    proc.stdout.close()
    err = b""
    if not merge_stderr:
        assert proc.stderr is not None
        err = proc.stderr.read()
    code = proc.wait(timeout)
    assert_no_internal_error(code, first, err)
    return code


def many_domains_cfg(path: Path, count: int = 2000) -> Path:
    """A config with ``count`` server domains whose certificate and key do not exist
    (check: errors) - far more output than a pipe buffer holds."""
    parts = [HEADER]
    for i in range(count):
        name = f"d{i}"
        parts.append(mp("server_domain", name) + mp("match_ip_address", f"[{name}]10.0.{i // 250}.{i % 250}:5061")
                     + mp("certificate", f"[{name}]/nonexistent/{name}.pem")
                     + mp("private_key", f"[{name}]/nonexistent/{name}.key"))
    path.write_text("".join(parts))
    return path


# --- item 7: a closed pipe keeps the status the run reached ------------------------------------


def test_check_piped_into_a_reader_that_leaves_early_exits_1(tmp_path: Path) -> None:
    cfg = many_domains_cfg(tmp_path / "broken.cfg")
    full = subprocess.run(tlsmgm("check", "-c", str(cfg)), capture_output=True, env=clean_env(), timeout=120)
    assert full.returncode == exitcodes.PROBLEMS
    assert read_one_line_then_close(tlsmgm("check", "-c", str(cfg))) == exitcodes.PROBLEMS


def test_list_with_config_errors_on_a_closed_stderr_pipe_exits_2(tmp_path: Path) -> None:
    cfg = tmp_path / "errors.cfg"  # 3000 modparams naming undefined domains: 6000 lines on stderr
    cfg.write_text(HEADER + "".join(mp("tls_method", f"[nodom{i}]TLSv1") for i in range(3000)))
    code = read_one_line_then_close(tlsmgm("list", "-c", str(cfg)), merge_stderr=True)
    assert code == exitcodes.USAGE


def test_diff_with_drift_piped_into_a_reader_that_leaves_early_exits_1(tmp_path: Path, monkeypatch) -> None:
    isolate_mi_settings(tmp_path, monkeypatch)
    cfg = tmp_path / "many.cfg"
    cfg.write_text(HEADER + "".join(mp("server_domain", f"d{i}") for i in range(3000)))
    with HttpMi(answer({"tls_list": {"Domains": []}})) as mi:  # every domain missing: drift
        code = read_one_line_then_close(tlsmgm("diff", "-c", str(cfg), "--mi-url", mi.url))
    assert code == exitcodes.PROBLEMS


# --- output to a full device -------------------------------------------------------------------


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_output_to_a_full_device_is_a_one_line_error(pki, tmp_path: Path) -> None:
    cfg = tmp_path / "ok.cfg"
    cfg.write_text(HEADER + mp("server_domain", "d") + mp("certificate", f"[d]{pki.server.cert_path}")
                   + mp("private_key", f"[d]{pki.server.key_path}"))
    runs = [["list", "-c", str(cfg)], ["check", "-c", str(cfg), "--format", "json"],
            ["inspect", str(pki.server.cert_path)], ["--version"], ["--help"], ["list", "--help"]]
    for args in runs:
        with open("/dev/full", "w") as full:
            proc = subprocess.run(tlsmgm(*args), stdout=full, stderr=subprocess.PIPE, text=True, env=clean_env(),
                                  timeout=60)
        assert proc.returncode == exitcodes.PROBLEMS, (args, proc.stderr)
        assert proc.stderr.strip() == "tlsmgm: error: cannot write the output: no space left on device", (
            args, proc.stderr)


# --- --no-color and NO_COLOR on a real terminal ------------------------------------------------


def run_on_a_pty(args: list[str], env: dict[str, str], timeout: float = 60) -> bytes:
    """``args`` with stdout and stderr on a pseudo-terminal; everything it wrote."""
    import pty

    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env)
    finally:
        os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
        proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    assert_no_internal_error(proc.returncode, out)
    return out


@pytest.fixture
def esc_cfg(pki, tmp_path: Path) -> Path:
    """One server domain whose name and SIP-domain filter hold raw ESC/BEL/OSC (written
    as \\x1b escapes in double-quoted strings, which the cfg reader decodes)."""
    def q(text: str) -> str:
        return text.replace("\x1b", "\\x1b").replace("\x07", "\\x07")

    cfg = tmp_path / "esc.cfg"
    cfg.write_text(HEADER + mp("server_domain", q(ESC_NAME)) + mp("match_sip_domain", q(f"[{ESC_NAME}]{ESC_SIP}"))
                   + mp("certificate", q(f"[{ESC_NAME}]{pki.server.cert_path}"))
                   + mp("private_key", q(f"[{ESC_NAME}]{pki.server.key_path}")))
    return cfg


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
@pytest.mark.parametrize("how", ["--no-color", "NO_COLOR", "TLSMGM_NO_COLOR"])
def test_no_color_writes_no_escape_sequence_on_a_terminal(esc_cfg: Path, tmp_path: Path, how: str) -> None:
    big = many_domains_cfg(tmp_path / "big.cfg", 300)  # enough domains for check's progress bar
    env = clean_env(TERM="xterm-256color", COLUMNS="200")
    flags: list[str] = []
    if how == "--no-color":
        flags = ["--no-color"]
    else:
        env[how] = "1"
    for args in (["list", "-c", str(esc_cfg)], ["check", "-c", str(big)],
                 ["mi", "tls_list", "--mi-url", "http://127.0.0.1:1/mi"]):
        out = run_on_a_pty(tlsmgm(*flags, *args), env)
        assert out, args
        assert b"\x1b" not in out, (args, out[:400])
    out = run_on_a_pty(tlsmgm(*flags, "list", "-c", str(esc_cfg)), env)
    assert b"ev\\x1bPil\\x07" in out  # the rich table shows the ESC in the name, escaped


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_colour_terminal_table_escapes_untrusted_cells(esc_cfg: Path) -> None:
    out = run_on_a_pty(tlsmgm("list", "-c", str(esc_cfg)), clean_env(TERM="xterm-256color", COLUMNS="200"))
    assert b"ev\\x1bPil\\x07" in out
    assert b"\x1bP" not in out and b"\x07" not in out and b"\x1b]0;" not in out


# --- --opensips-version ------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["2.4.0", "3.4.9", "3.6.9", "4.0.0", "3", "0.0.0"])
def test_unmodelled_opensips_release_is_a_usage_error(esc_cfg: Path, version: str) -> None:
    result = run("list", "-c", str(esc_cfg), "--opensips-version", version)
    assert result.exit_code == exitcodes.USAGE
    assert "not a release tlsmgm models" in result.stderr and "3.6.0 to 3.6.8" in result.stderr


def test_modelled_releases_are_accepted(esc_cfg: Path) -> None:
    for version in ("3.5.0", "3.5.4", "3.6", "3.6.5", "3.6.8"):
        assert run("list", "-c", str(esc_cfg), "--opensips-version", version).exit_code == exitcodes.OK
    assert run("list", "-c", str(esc_cfg), "--opensips-version", "2.4.0").exit_code == exitcodes.USAGE


# --- item 5: control characters in text output ------------------------------------------------


def test_list_text_escapes_control_characters_and_json_keeps_them(esc_cfg: Path) -> None:
    for fmt in ("text", "plain"):
        result = run("list", "-c", str(esc_cfg), "--format", fmt)
        assert result.exit_code == exitcodes.OK, result.output
        assert "\x1b" not in result.output and "\x07" not in result.output
        assert "ev\\x1bPil\\x07" in result.stdout and "a\\x1b]0;pwned\\x07b.com" in result.stdout
    doc = json.loads(run("list", "-c", str(esc_cfg), "--format", "json").stdout)
    dom = doc["domains"][0]
    assert dom["name"] == ESC_NAME
    assert ESC_SIP in dom["sip_domains"]


def test_check_text_escapes_control_characters_and_json_keeps_them(esc_cfg: Path) -> None:
    result = run("check", "-c", str(esc_cfg))
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "ev\\x1bPil\\x07" in result.stdout
    doc = json.loads(run("check", "-c", str(esc_cfg), "--format", "json").stdout)
    assert any(f["domain"] == ESC_NAME for f in doc["findings"])


def test_config_diagnostics_escape_control_characters(tmp_path: Path) -> None:
    cfg = tmp_path / "diag.cfg"
    cfg.write_text(HEADER + mp("tls_method", "[no\\x1b]0;pwned\\x07dom]TLSv1"))
    result = run("list", "-c", str(cfg))
    assert result.exit_code == exitcodes.USAGE
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert "no\\x1b]0;pwned\\x07dom" in result.stderr


def test_mi_and_diff_text_escape_what_the_server_says(tmp_path: Path, monkeypatch) -> None:
    isolate_mi_settings(tmp_path, monkeypatch)
    evil = {"name": "srv\x1b]0;pwned\x07", "type": "TLS_DOMAIN_SRV", "IP ADDRESS FILTERS": ["*"],
            "SIP DOMAIN FILTERS": ["x\x9b31m.com"], "METHOD": "SSLv23", "VERIFY_CERT": True,
            "REQ_CLI_CERT": True, "CRL_CHECKALL": False, "CRL_DIR": "", "CA_DIR": "/etc/pki/CA/",
            "CIPHER_LIST": "", "EC_CURVE": ""}
    cfg = tmp_path / "one.cfg"
    cfg.write_text(HEADER + mp("server_domain", "d"))
    with HttpMi(answer({"tls_list": {"Domains": [evil]}, "tls_reload": "OK\x1b[2J"})) as mi:
        listed = run("mi", "tls_list", "--mi-url", mi.url)
        drift = run("diff", "-c", str(cfg), "--mi-url", mi.url)
        reload = run("mi", "tls_reload", "--mi-url", mi.url)
        as_json = run("mi", "tls_list", "--mi-url", mi.url, "--format", "json")
    for result in (listed, drift, reload):
        text = result.output
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", text), text
    assert "srv\\x1b]0;pwned\\x07" in listed.stdout and "x\\x9b31m.com" in listed.stdout
    assert "srv\\x1b]0;pwned\\x07" in drift.stdout
    assert "OK\\x1b[2J" in reload.stdout
    assert json.loads(as_json.stdout)["Domains"][0]["name"] == evil["name"]


def test_usage_error_from_core_escapes_control_characters(tmp_path: Path) -> None:
    missing = tmp_path / "no\x1b]0;pwned\x07.cfg"
    result = run("mi", "tls_list", "--cli-config", str(missing))
    assert result.exit_code != exitcodes.OK
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert "no\\x1b]0;pwned\\x07.cfg" in result.stderr


# --- TLS203 ------------------------------------------------------------------------------------


def test_tls203_message_and_hint_quote_the_same_opensips_text(pki, tmp_path: Path) -> None:
    cfg = tmp_path / "mismatch.cfg"
    cfg.write_text(HEADER + mp("server_domain", "d") + mp("certificate", f"[d]{pki.wrong_key.cert_path}")
                   + mp("private_key", f"[d]{pki.wrong_key.key_path}"))
    doc = json.loads(run("check", "-c", str(cfg), "--format", "json").stdout)
    finding = next(f for f in doc["findings"] if f["rule"] == "TLS203")
    quoted_message = set(re.findall(r"'([^']*unable[^']*)'", finding["message"]))
    quoted_hint = set(re.findall(r"'([^']*unable[^']*)'", finding["hint"]))
    assert quoted_message == quoted_hint == {"unable to load private key file"}
    assert "does not match the public key of the certificate\"" not in RULES["TLS203"].hint


# ---- -o FILE replaces only a regular file ---------------------------------------------------
@pytest.fixture
def small_cfg(pki, tmp_path: Path) -> Path:
    path = tmp_path / "o.cfg"
    path.write_text(HEADER + mp("server_domain", "d") + mp("certificate", f"[d]{pki.server.cert_path}")
                    + mp("private_key", f"[d]{pki.server.key_path}"))
    return path


def _check_to(cfg: Path, target: Path):
    return run("check", "-c", str(cfg), "--no-db", "-f", "json", "-o", str(target))


def test_output_refuses_a_fifo_a_directory_and_links_to_them(small_cfg: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    directory = tmp_path / "dir"
    directory.mkdir()
    link = tmp_path / "link"
    link.symlink_to(fifo)
    for target, kind in ((fifo, "a FIFO (named pipe)"), (link, "a FIFO (named pipe)")):
        result = _check_to(small_cfg, target)
        assert result.exit_code == 1, result.output
        assert f"cannot write {target}: it is {kind}, not a regular file; refused" in result.stderr
    assert _check_to(small_cfg, directory).exit_code == 2  # click: "is a directory"
    assert fifo.is_fifo() and link.is_symlink() and directory.is_dir()  # all left as they were


def test_output_through_a_link_replaces_the_file_and_keeps_the_link(small_cfg: Path, tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "out.json"
    link.symlink_to(real)
    assert _check_to(small_cfg, link).exit_code == 0
    assert link.is_symlink() and json.loads(real.read_text())["findings"] is not None


def test_output_into_a_missing_directory_creates_nothing(small_cfg: Path, tmp_path: Path) -> None:
    result = _check_to(small_cfg, tmp_path / "nope" / "x.prom")
    assert result.exit_code == 1 and "is not an existing directory" in result.stderr
    assert not (tmp_path / "nope").exists()


def test_closed_standard_output_is_an_error_not_a_silent_success(small_cfg: Path) -> None:
    """`tlsmgm list >&-` used to exit 0 having written nothing anywhere."""
    proc = subprocess.run(["sh", "-c", '"$0" -m tlsmgm_cli list -c "$1" --no-db >&-', sys.executable,
                           str(small_cfg)], capture_output=False, stderr=subprocess.PIPE, text=True,
                          timeout=60, env=clean_env())
    assert proc.returncode == 1, proc.stderr
    assert "standard output is closed" in proc.stderr
    assert_no_internal_error(proc.returncode, proc.stderr)


def test_a_file_system_refusal_is_an_operational_error(tmp_path: Path) -> None:
    long_dir = tmp_path / ("x" * 300)
    result = run("demo", str(long_dir))
    assert result.exit_code == 1 and "File name too long" in result.stderr
    not_utf8 = run("demo", str(tmp_path / "a\udcffb"))
    assert not_utf8.exit_code == 2 and "a\\xffb' is not valid UTF-8" in not_utf8.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing half-written


def test_c1_and_bidirectional_controls_never_reach_the_terminal_raw(pki, tmp_path: Path) -> None:
    """U+009B (CSI) and U+202E (right-to-left override, makes 'moc.evil' read 'live.com') in
    a certificate's CN and a domain name: escaped in text, and written as \\u escapes in JSON
    (the same JSON value)."""
    import datetime as dt

    from cryptography import x509 as cx509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    cn = "evil\u202emoc.\x9b2Jx"
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    name = cx509.Name([cx509.NameAttribute(NameOID.COMMON_NAME, cn)])
    cert = (cx509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(7).not_valid_before(now).not_valid_after(now + dt.timedelta(days=9))
            .sign(key, hashes.SHA256()))
    from cryptography.hazmat.primitives.serialization import Encoding

    path = tmp_path / "bidi.pem"
    path.write_bytes(cert.public_bytes(Encoding.PEM))
    text = run("inspect", str(path))
    assert "\u202e" not in text.output and "\x9b" not in text.output
    assert "\\u202e" in text.stdout
    raw_json = run("inspect", str(path), "-f", "json").stdout
    assert "\u202e" not in raw_json and "\x9b" not in raw_json
    assert json.loads(raw_json)[0]["vars"]["tls_peer_subject_cn"] == cn  # the value is exact
    cfg = tmp_path / "bidi.cfg"
    cfg.write_text(HEADER + mp("server_domain", "a\u202eb") + mp("certificate", f"[a\u202eb]{path}"))
    listed = run("list", "-c", str(cfg), "--no-db")
    assert "\u202e" not in listed.output and "a\\u202eb" in listed.stdout
    as_json = run("list", "-c", str(cfg), "--no-db", "-f", "json").stdout
    assert "\u202e" not in as_json and json.loads(as_json)["domains"][0]["name"] == "a\u202eb"
