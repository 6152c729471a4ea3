"""issue 12 items 4, 6 and 8 on the config reader: a config, include or preprocessor that
is a device, a FIFO, a stream without end or a private key; a .tlsmgm.yaml that tries to
run a program. Inputs are built at test time; runs that could hang are real processes
under a timeout."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest
from clirun import run, run_proc
from hypothesis import given
from hypothesis import strategies as st

from tlsmgm_cli.core.cfg import parse as cfgparse
from tlsmgm_cli.core.cfg.parse import read_config

HEADER = 'loadmodule "tls_openssl.so"\nloadmodule "tls_mgm.so"\n'
TIMEOUT = 30  # seconds; the old reader grew without bound on /dev/zero and waited on FIFOs
needs_dev_zero = pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def one_line(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert len(lines) == 1, text
    return lines[0]


# --- item 8: size limits, devices, FIFOs -------------------------------------------------


@needs_dev_zero
@pytest.mark.parametrize("command", ["list", "check"])
def test_dev_zero_as_config_is_refused_in_one_line(command: str) -> None:
    started = time.monotonic()
    proc = run_proc([command, "-c", "/dev/zero"], timeout=TIMEOUT)
    assert time.monotonic() - started < TIMEOUT / 2
    assert proc.returncode == 2
    assert one_line(proc.stderr).endswith("config '/dev/zero' is a character device, not a regular file; "
                                          "refused (tlsmgm reads only regular files)")


@needs_fifo
def test_fifo_as_config_is_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "cfg.fifo"
    os.mkfifo(fifo)
    proc = run_proc(["list", "-c", str(fifo)], timeout=TIMEOUT)
    assert proc.returncode == 2
    assert "is a FIFO (named pipe), not a regular file" in one_line(proc.stderr)


def test_config_over_the_limit_names_the_limit(tmp_path: Path) -> None:
    big = tmp_path / "big.cfg"
    with open(big, "wb") as fh:  # sparse: nothing is written, nothing is read
        fh.truncate(64 * 1024 * 1024 + 1)
    res = run("list", "-c", str(big))
    assert res.exit_code == 2
    assert "over the 64 MiB limit tlsmgm reads" in one_line(res.stderr)


@needs_dev_zero
@needs_fifo
def test_device_fifo_and_symlink_loop_includes(tmp_path: Path) -> None:
    fifo = tmp_path / "inc.fifo"
    os.mkfifo(fifo)
    loop = tmp_path / "loop.cfg"
    os.symlink(loop, loop)
    cfg = write(tmp_path / "main.cfg", HEADER + (
        'include_file "/dev/zero"\n'
        f'include_file "{fifo}"\n'
        'include_file "loop.cfg"\n'))
    started = time.monotonic()
    pc = read_config(cfg)
    assert time.monotonic() - started < TIMEOUT / 2
    assert [(d.code, d.loc.line, d.message) for d in pc.diagnostics] == [
        ("include-unreadable", 3, "included file '/dev/zero' is a character device, not a regular file; "
                                  "refused (tlsmgm reads only regular files)"),
        ("include-unreadable", 4, f"included file '{fifo}' is a FIFO (named pipe), not a regular file; "
                                  "refused (tlsmgm reads only regular files)"),
        ("include-unreadable", 5, f"included file '{loop}': is a symbolic link loop"),
    ]


def test_includes_repeated_past_the_limit_stop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same file included many times (no loop) cannot grow the flattened text without end."""
    monkeypatch.setattr(cfgparse, "CONFIG_MAX_BYTES", 10 * 1024)
    write(tmp_path / "part.cfg", "# " + "x" * 998 + "\n")
    cfg = write(tmp_path / "main.cfg", 'include_file "part.cfg"\n' * 20)
    pc = read_config(cfg)
    assert [(d.code, d.message) for d in pc.diagnostics] == [
        ("include-too-large", "the config with its includes is over the 10 KiB limit tlsmgm reads; the rest "
                              "was not read")]
    assert len(pc.statements) == 0 and len(pc.files) == 2


def test_include_fan_out_bomb_stops_at_the_include_limit(tmp_path: Path) -> None:
    """41 tiny files, each including the next one twice: 2**40 includes, a few bytes of text.
    The old reader followed them all (hours); now it stops after INCLUDES_MAX with one error."""
    for i in range(40):
        write(tmp_path / f"f{i}.cfg", f'include_file "f{i + 1}.cfg"\n' * 2)
    write(tmp_path / "f40.cfg", "# end\n")
    cfg = write(tmp_path / "main.cfg", HEADER + 'include_file "f0.cfg"\n')
    started = time.monotonic()
    proc = run_proc(["check", "-c", cfg, "--no-db", "--format", "json"], timeout=TIMEOUT)
    assert time.monotonic() - started < TIMEOUT / 2
    assert proc.returncode == 1, proc.stderr
    findings = json.loads(proc.stdout)["findings"]
    too_many = [f for f in findings if "include_file/import_file directives followed" in f["message"]]
    assert len(too_many) == 1 and too_many[0]["rule"] == "TLS002"
    assert too_many[0]["message"] == ("more than 10,000 include_file/import_file directives followed (a file "
                                      "included again and again); the rest were not read")


@needs_dev_zero
def test_endless_preprocessor_output_is_cut_at_the_limit(tmp_path: Path) -> None:
    cfg = write(tmp_path / "pp.cfg", HEADER)
    started = time.monotonic()
    proc = run_proc(["list", "-c", cfg, "--pp", "cat /dev/zero"], timeout=TIMEOUT)
    assert time.monotonic() - started < TIMEOUT / 2
    assert proc.returncode == 2
    assert (f"{cfg}:1: error: preprocessor 'cat /dev/zero' wrote more than the 64 MiB limit tlsmgm reads; "
            "stopped it") in proc.stderr


@pytest.mark.parametrize("pp", ['sh -c "exit 3"', '"unterminated', "no-such-program-here"])
def test_a_failed_preprocessor_never_says_opensips_would_start(tmp_path: Path, pp: str) -> None:
    """Nothing was read, so nothing was checked: the verdict is unknown, not "would start"."""
    cfg = write(tmp_path / "pp.cfg", HEADER)
    text = run("check", "-c", cfg, "--no-db", "--pp", pp)
    assert text.exit_code in (1, 2), text.output
    if text.exit_code == 1:
        assert "would start with this config" not in text.stdout
        assert "Whether OpenSIPS 3.6.8 would start is unknown" in text.stdout
        doc = json.loads(run("check", "-c", cfg, "--no-db", "--pp", pp, "-f", "json").stdout)
        assert doc["opensips_would_start"] is None


def test_preprocessor_timeout_comes_from_limits() -> None:
    from tlsmgm_cli.core import limits

    assert cfgparse.PREPROCESSOR_TIMEOUT == limits.PREPROCESSOR_TIMEOUT_S
    pc = cfgparse.read_config_text("x=1\n", "m.cfg", preprocessor="sleep 20", preprocessor_timeout=0.3)
    assert [d.message for d in pc.diagnostics] == ["preprocessor 'sleep 20' timed out after 0.3 s"]


# --- item 4: --pp and .tlsmgm.yaml ------------------------------------------------------------


def test_pp_runs_as_an_argv_without_a_shell(tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    cfg = write(tmp_path / "o.cfg", HEADER)
    res = run("list", "-c", cfg, "--pp", f"cat; touch {marker}")
    assert res.exit_code == 2
    assert not marker.exists()
    assert "cannot run preprocessor" in res.stderr and "cat;: not found" in res.stderr
    res = run("-v", "list", "-c", cfg, "--pp", "sed -e 's/x/y/'")
    assert res.exit_code == 0, res.stderr
    assert "tlsmgm: running preprocessor (no shell): sed -e s/x/y/" in res.stderr
    assert "without a shell" in run("list", "--help").stdout


@pytest.mark.parametrize("where", ["next-to-config", "cwd"])
def test_found_settings_file_never_runs_its_pp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               where: str) -> None:
    marker = tmp_path / "PWNED"
    cfg_dir = tmp_path / "etc"
    cfg_dir.mkdir()
    cfg = write(cfg_dir / "o.cfg", HEADER)
    settings_dir = cfg_dir if where == "next-to-config" else tmp_path
    write(settings_dir / ".tlsmgm.yaml", f"pp: touch {marker}\nformat: json\n")
    monkeypatch.chdir(tmp_path)
    res = run("check", "-c", cfg)
    assert not marker.exists()
    assert res.stdout.lstrip().startswith("{")  # the file's other keys still apply
    assert (f"tlsmgm: warning: {settings_dir / '.tlsmgm.yaml'}: 'pp: touch {marker}' ignored: a .tlsmgm.yaml "
            "found next to the config or in the working directory never runs a program") in res.stderr


def test_named_settings_file_may_set_pp(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    cfg = write(tmp_path / "o.cfg", HEADER)
    settings = write(tmp_path / "ci.yaml", f"pp: {sys.executable} -c \"import pathlib,sys; "
                                           f"pathlib.Path('{marker}').touch(); sys.stdout.write(sys.stdin.read())\"\n")
    res = run("check", "-c", cfg, "--settings", settings)
    assert marker.exists()
    assert "ignored" not in res.stderr
    res = run("check", "-c", cfg, "--settings", str(tmp_path / "missing.yaml"))
    assert res.exit_code == 2 and "missing.yaml': not found" in res.stderr


# --- item 6: a private key given as the config -----------------------------------------------


def _key_body(path: Path) -> list[str]:
    """The base64 lines of a PEM key (what must never be printed)."""
    return [ln for ln in path.read_text().splitlines() if ln and not ln.startswith("-----")]


@pytest.mark.parametrize("fmt", ["github", "text", "json"])
def test_private_key_as_config_is_refused_without_quoting_it(pki, fmt: str) -> None:
    key = pki.server.key_path
    res = run("check", "-c", str(key), "--format", fmt)
    assert res.exit_code == 2
    assert one_line(res.stderr).endswith(f"config '{key}': this is a private key, not an opensips.cfg; "
                                         "nothing of it is read or shown")
    out = res.stdout + res.stderr
    assert not any(chunk[i:i + 8] in out for chunk in _key_body(key) for i in range(0, len(chunk) - 8, 8))


def test_private_key_in_an_include_or_preprocessor_output_is_not_quoted(pki, tmp_path: Path) -> None:
    key = pki.server.key_path
    mixed = write(tmp_path / "mixed.cfg", 'log_level=3\n' + key.read_text() + 'junk here\n')
    cfg = write(tmp_path / "main.cfg", HEADER + f'include_file "{key}"\ninclude_file "{mixed}"\n')
    pc = read_config(cfg)
    assert [(d.code, d.loc.line) for d in pc.diagnostics] == [("include-unreadable", 3), ("include-unreadable", 4)]
    assert all("this is a private key, not an opensips.cfg" in d.message for d in pc.diagnostics)
    text = " ".join(f"{d.message} {d.hint}" for d in pc.diagnostics)
    assert not any(line[:16] in text for line in _key_body(key))
    pc = read_config(write(tmp_path / "p.cfg", HEADER), preprocessor=f"cat {key}")
    assert [d.message for d in pc.diagnostics] == [
        f"preprocessor 'cat {key}' output: this is a private key, not an opensips.cfg; nothing of it is read "
        "or shown"]


# ---- integer literals beyond Python's 4,300-digit conversion limit ---------------------------
def test_huge_integer_literals_are_read_not_crashed_on(tmp_path) -> None:
    """`int()` refuses more than 4,300 decimal digits: a config (or --socket) with such a
    number used to end in an internal error."""
    huge = "9" * 5000
    cfg = tmp_path / "big.cfg"
    cfg.write_text(f'log_level = {huge}\nloadmodule "tls_openssl.so"\nloadmodule "tls_mgm.so"\n'
                   'modparam("tls_mgm", "server_domain", "d")\n'
                   f'modparam("tls_mgm", "verify_cert", "[d]{huge}")\n'
                   f'modparam("proto_tls", "tls_port", {huge})\n'
                   f'socket=tls:127.0.0.1:{huge}\n')
    for args in (["check", "-c", str(cfg), "--no-db"], ["list", "-c", str(cfg), "--no-db"],
                 ["match", "-c", str(cfg), "--no-db", "--socket", f"127.0.0.1:{huge}"]):
        result = run(*args)
        assert result.exit_code in (1, 2), result.output


@given(st.text(alphabet="0123456789", min_size=1, max_size=400))
def test_str2int_wraps_like_c_without_reading_the_whole_number(digits: str) -> None:
    from tlsmgm_cli.core.net.addresses import str2int

    assert str2int(digits) == int(digits) % (1 << 32)


@given(st.integers(min_value=-(1 << 80), max_value=1 << 80), st.sampled_from([10, 16, 8]))
def test_cfg_numbers_saturate_like_strtol(value: int, base: int) -> None:
    from tlsmgm_cli.core.cfg.lex import LONG_MAX, parse_number

    sign = "-" if value < 0 else ""
    body = {10: str(abs(value)), 16: f"0x{abs(value):x}", 8: f"0{abs(value):o}"}[base]
    if base == 8 and abs(value) < 8:
        return  # '00'..'07' are octal only with two digits; plain decimal otherwise
    assert parse_number(sign + body) == max(min(value, LONG_MAX), -LONG_MAX - 1)


def test_key_material_without_its_pem_lines_is_never_quoted(tmp_path: Path, pki) -> None:
    """A key whose BEGIN/END lines were cut off used to come back piecewise in "unexpected
    '...'" findings (26 findings, a quarter of the key)."""
    body = [line for line in pki.rsa.key_path.read_text().splitlines() if not line.startswith("-----")]
    bare = write(tmp_path / "bare.cfg", "\n".join(body) + "\n")
    mixed = write(tmp_path / "mixed.cfg", HEADER + "\n".join(body[3:6]) + "\n")
    for cfg in (bare, mixed):
        for args in (["check", "-c", cfg, "--no-db", "-f", "github"], ["list", "-c", cfg, "--no-db"],
                     ["match", "-c", cfg, "--no-db", "--sni", "a.com"]):
            result = run(*args)
            assert result.exit_code in (1, 2), result.output
            for line in body:
                for piece in (line[i:i + 12] for i in range(0, len(line) - 12, 12)):
                    assert piece not in result.output, (args, piece)
    assert "this looks like base64 key or certificate material" in run("list", "-c", bare).stderr
