"""issue 12 item 16 and the `gen` internal errors: sizes, dates, serials and names that
X.509 or the key generator cannot take are usage errors (exit 2, one `Error:` line),
never an internal error nor a run of minutes."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from clirun import run, run_proc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlsmgm_cli import exitcodes
from tlsmgm_cli.core import limits
from tlsmgm_cli.core.errors import TlsmgmError
from tlsmgm_cli.core.x509 import certgen


@pytest.fixture(scope="module")
def ca_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gen_ca")
    run("gen", "ca", "--out", str(out))
    return out


def error_line(output: str) -> str:
    lines = [ln for ln in output.splitlines() if ln.startswith("Error:")]
    assert len(lines) == 1, output
    return lines[0]


def usage_error(*args: str) -> str:
    result = run(*args)
    assert result.exit_code == exitcodes.USAGE, result.output
    return error_line(result.output)


def test_rsa_size_over_the_limit_is_refused_at_once(tmp_path: Path) -> None:
    started = time.monotonic()
    # a real process: the old code generated a 100000-bit key for minutes
    proc = run_proc(["gen", "ca", "--out", str(tmp_path), "--rsa", "100000"], timeout=30)
    assert proc.returncode == exitcodes.USAGE
    assert str(limits.RSA_BITS_MAX) in proc.stderr
    assert time.monotonic() - started < 30
    assert not (tmp_path / "ca.key").exists()


def test_rsa_limits_are_the_ones_in_limits(tmp_path: Path) -> None:
    assert limits.RSA_BITS_MAX == 16384
    line = usage_error("gen", "ca", "--out", str(tmp_path / "out"), "--rsa", str(limits.RSA_BITS_MAX + 1))
    assert f"{limits.RSA_BITS_MIN}<=x<={limits.RSA_BITS_MAX}" in line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("args", "words"), [
    (["--cn", "a" * 65], "at most 64"),
    (["--cn", ""], "cannot be empty"),
    (["--cn", "evil\x1b]0;title\x07"], "control characters"),
    (["--days", "99999999"], "--days"),
    (["--days", str(limits.GEN_DAYS_MAX + 1)], "--days"),
    (["--san", "email:not-an-email"], "not an e-mail address"),
    (["--san", "email:a@" + "b" * 64 + ".com"], "at most 63"),
    (["--san", "DNS:" + "a" * 64 + ".example.com"], "at most 63"),
    (["--san", "a" * 64 + ".example.com"], "at most 63"),
    (["--san", ".".join(["a" * 60] * 5)], "at most 253"),
    (["--san", "DNS:a..b"], "empty labels"),
    (["--san", "evil\x1b[2J.example.com"], "control characters"),
    (["--san", "URI:sip:a\x1b]0;x\x07@b"], "control characters"),
    (["--san", "DNS:a\x00b"], "control characters"),
    (["--san", "URI:not a uri"], "not a URI"),
])
def test_gen_cert_bad_values_are_usage_errors(ca_dir: Path, args: list[str], words: str) -> None:
    line = usage_error("gen", "cert", "leaf", "--out", str(ca_dir), *args)
    assert words in line
    assert "\x1b" not in line and "\x00" not in line
    assert not (ca_dir / "leaf.key").exists()


def test_gen_ca_long_cn_and_days(tmp_path: Path) -> None:
    assert "at most 64" in usage_error("gen", "ca", "--out", str(tmp_path), "--cn", "C" * 65)
    assert "--days" in usage_error("gen", "ca", "--out", str(tmp_path), "--days", "99999999")
    assert not (tmp_path / "ca.key").exists()
    # the largest accepted values work
    result = run("gen", "ca", "--out", str(tmp_path), "--cn", "C" * 64, "--days", str(limits.GEN_DAYS_MAX))
    assert result.exit_code == exitcodes.OK, result.output


def test_gen_crl_serials_x509_cannot_hold(ca_dir: Path) -> None:
    for serial, words in (("0x" + "f" * 41, "164 bits"), ("0x8" + "0" * 39, "160 bits"), ("0", "positive")):
        assert words in usage_error("gen", "crl", "--out", str(ca_dir), "--revoke", serial)
    largest = "0x7" + "f" * 39  # 159 bits
    result = run("gen", "crl", "--out", str(ca_dir), "--revoke", largest, "--force")
    assert result.exit_code == exitcodes.OK, result.output
    assert largest in result.output


def test_gen_cert_checked_sans_and_cn_still_work(ca_dir: Path) -> None:
    assert "not an e-mail address" in usage_error("gen", "cert", "ok", "--out", str(ca_dir), "--san",
                                                  "email:nobody")
    result = run("gen", "cert", "ok", "--out", str(ca_dir), "--cn", "c" * 64, "--days",
                 str(limits.GEN_DAYS_MAX), "--san", "email:alice@atlanta.com", "--san", "*.atlanta.com",
                 "--san", "a" * 63 + ".com", "--san", "URI:sip:alice@atlanta.com", "--force")
    assert result.exit_code == exitcodes.OK, result.output
    assert "email:alice@atlanta.com" in result.output


def test_core_refuses_what_x509_cannot_hold() -> None:
    with pytest.raises(TlsmgmError, match="year 9999"):
        certgen.make_ca("x", days=99999999)
    with pytest.raises(TlsmgmError, match="1 to 64"):
        certgen.make_ca("x" * 65)
    with pytest.raises(TlsmgmError, match="too large"):
        certgen.new_key("rsa", bits=limits.RSA_BITS_MAX + 1)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=80))
def test_parse_san_never_crashes_and_never_lets_controls_through(text: str) -> None:
    try:
        name = certgen.parse_san(text)
    except TlsmgmError as err:
        assert str(err)
        return
    value = str(name.value)
    assert not any(ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f for c in value)


def test_name_with_control_characters_is_a_usage_error(ca_dir: Path) -> None:
    line = usage_error("gen", "cert", "a\x1b]0;x\x07b", "--out", str(ca_dir))
    assert "control characters" in line and "\x1b" not in line


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_devices_as_certificate_or_ca_key_are_refused_not_read(ca_dir: Path, tmp_path: Path) -> None:
    # real processes: the old code read /dev/zero without end
    proc = run_proc(["gen", "crl", "--out", str(ca_dir), "--revoke-cert", "/dev/zero"], timeout=30)
    assert proc.returncode == exitcodes.PROBLEMS
    assert "character device" in proc.stderr
    fake = tmp_path / "fake_ca"
    fake.mkdir()
    (fake / "ca.crt").write_bytes((ca_dir / "ca.crt").read_bytes())
    (fake / "ca.key").symlink_to("/dev/zero")
    proc = run_proc(["gen", "cert", "leaf", "--out", str(fake)], timeout=30)
    assert proc.returncode == exitcodes.PROBLEMS
    assert "ca.key" in proc.stderr and "character device" in proc.stderr


@pytest.mark.parametrize(("args", "expected"), [
    (["cert", "a\udcffb"], "Error: Invalid value for NAME: 'a\\xffb' is not valid UTF-8"),
    (["cert", "x", "--cn", "a\udcffb"], "Error: Invalid value for --cn: 'a\\xffb' is not valid UTF-8"),
    (["ca", "--cn", "a\udcffb"], "Error: Invalid value for --cn: 'a\\xffb' is not valid UTF-8"),
    (["cert", "y", "--san", "DNS:a\udcffb"],
     "Error: Invalid value for --san: subjectAltName 'DNS:a\\xffb' is not valid UTF-8"),
])
def test_gen_arguments_that_are_not_utf8_are_usage_errors(ca_dir: Path, args: list[str], expected: str) -> None:
    """argv bytes that are not UTF-8 (a real process: Python keeps them as surrogates)."""
    out = ["--out", str(ca_dir)] if args[0] == "cert" else ["--out", str(ca_dir / "newca")]
    proc = run_proc(["gen", *args, *out])
    assert proc.returncode == exitcodes.USAGE, proc.stderr
    assert error_line(proc.stderr) == expected
    assert not (ca_dir / "newca").exists()


def test_gen_into_a_directory_that_is_not_utf8_shows_it_escaped(tmp_path: Path) -> None:
    out = str(tmp_path / "g\udcff")
    proc = run_proc(["gen", "ca", "--out", out])
    assert proc.returncode == 0, proc.stderr
    assert f"wrote {tmp_path}/g\\xff/ca.crt" in proc.stdout
    assert os.path.isfile(os.fsencode(out) + b"/ca.crt")
