"""Hostile input to `handshake --sip-options`, a domain's crl_dir and `gen`: every SIP
exchange is bounded (deadline, provisional replies, bytes) and a malformed status line is
said so; CRL and certificate files are read through the size-limited reader; `gen`
refuses non-ASCII e-mail/URI SANs, existing targets before a long key generation, names
too long for the file system, and leaves no empty directory after a failed write."""

from __future__ import annotations

import json
import os
import resource
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from clirun import assert_no_internal_error, run, run_proc
from pki import Pki
from tlsserving import accept_loop, running_server

from tlsmgm_cli import exitcodes
from tlsmgm_cli.core.domain import CLIENT, TlsDomain
from tlsmgm_cli.core.errors import TlsmgmError
from tlsmgm_cli.core.limits import PKI_FILE_MAX_BYTES
from tlsmgm_cli.core.tls import handshake as hs
from tlsmgm_cli.core.tls.context import build_context, local_certificate_der
from tlsmgm_cli.core.x509 import certgen

MiB = 1024 * 1024
TRYING = b"SIP/2.0 100 Trying\r\nContent-Length: 0\r\n\r\n"


# ---- a TLS server answering the OPTIONS as told -----------------------------------------------
@contextmanager
def sip_server(tmp_path: Path, answer: Callable[[ssl.SSLSocket, threading.Event], None]) -> Iterator[int]:
    """A TLS server on 127.0.0.1 that reads the OPTIONS of each connection and then lets
    ``answer(conn, stop)`` write whatever it likes."""
    cert, key = certgen.make_cert(None, "sip.example", self_signed=True).write(tmp_path, "sipsrv", force=True)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)

    def handle(conn: socket.socket, stop: threading.Event) -> None:
        try:
            conn.settimeout(5)
            with ctx.wrap_socket(conn, server_side=True) as tls:
                request = b""
                while b"\r\n\r\n" not in request:
                    chunk = tls.recv(4096)
                    if not chunk:
                        return
                    request += chunk
                answer(tls, stop)
        except (ssl.SSLError, OSError):
            pass
        finally:
            conn.close()

    with accept_loop(handle) as port:
        yield port


def flood(data: bytes) -> Callable[[ssl.SSLSocket, threading.Event], None]:
    def answer(tls: ssl.SSLSocket, stop: threading.Event) -> None:
        while not stop.is_set():
            tls.sendall(data * 64)
    return answer


def drip(data: bytes, every: float) -> Callable[[ssl.SSLSocket, threading.Event], None]:
    def answer(tls: ssl.SSLSocket, stop: threading.Event) -> None:
        while not stop.is_set():
            tls.sendall(data)
            time.sleep(every)
    return answer


def once(data: bytes) -> Callable[[ssl.SSLSocket, threading.Event], None]:
    def answer(tls: ssl.SSLSocket, stop: threading.Event) -> None:
        tls.sendall(data)
        stop.wait(3)
    return answer


def sip_handshake(port: int, *extra: str, timeout: float = 5) -> tuple[int, dict, float]:
    """`handshake --sip-options` as a real process (a run that never ends fails the test
    after 30 s instead of hanging it): exit status, JSON result, seconds taken."""
    started = time.monotonic()
    proc = run_proc(["handshake", f"127.0.0.1:{port}", "--no-verify", "--sip-options", "--timeout",
                     str(timeout), "-f", "json", *extra], timeout=30)
    return proc.returncode, json.loads(proc.stdout), time.monotonic() - started


# ---- 1. the SIP exchange is bounded ----------------------------------------------------------
def test_a_flood_of_provisional_replies_ends(tmp_path: Path) -> None:
    with sip_server(tmp_path, flood(TRYING)) as port:
        code, out, took = sip_handshake(port)
    assert code == exitcodes.PROBLEMS
    assert out["connected"] is True and out["sip_reply"] is None
    assert f"{hs.SIP_PROVISIONAL_MAX} provisional replies" in out["error"]
    assert "no final reply to the SIP OPTIONS" in out["error"]
    assert took < 15


def test_a_flood_of_bytes_without_a_message_end_is_cut_at_the_byte_limit(tmp_path: Path) -> None:
    with sip_server(tmp_path, flood(b"SIP/2.0 100 Trying\r\nX-Padding: " + b"x" * 1000)) as port:
        code, out, took = sip_handshake(port)
    assert code == exitcodes.PROBLEMS and out["connected"] is True
    assert "bytes without a final reply to the SIP OPTIONS" in out["error"]
    assert f"{hs.SIP_READ_LIMIT // 1024} KiB" in out["error"]
    assert "closed the connection" not in out["error"]  # the old misleading words
    assert took < 15


def test_provisional_replies_until_the_deadline_say_so(tmp_path: Path) -> None:
    with sip_server(tmp_path, drip(TRYING, 0.05)) as port:
        code, out, took = sip_handshake(port, timeout=1.5)
    assert code == exitcodes.PROBLEMS and out["connected"] is True
    assert "no final SIP reply to the OPTIONS" in out["error"] and "provisional" in out["error"]
    assert "--timeout 1.5 s" in out["error"]
    assert took < 15


def test_read_final_status_checks_the_deadline_itself(tmp_path: Path) -> None:
    """A peer that never pauses long enough for recv to time out is still cut at the deadline."""
    with sip_server(tmp_path, drip(b"SIP/2.0 100 Trying\r\n\r\n", 0.001)) as port:
        raw = socket.create_connection(("127.0.0.1", port), timeout=5)
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        with ctx.wrap_socket(raw) as tls:
            tls.sendall(b"OPTIONS sip:x SIP/2.0\r\n\r\n")
            started = time.monotonic()
            with pytest.raises((hs.SipDeadline, hs.SipGaveUp)):
                hs.read_final_status(tls, started + 0.3)
            assert time.monotonic() - started < 3


def test_provisional_replies_then_the_final_one(tmp_path: Path) -> None:
    body = b"v=0\r\n\r\no=- 0 0 IN IP4 x\r\n"  # a body holding CRLF CRLF: skipped by its length
    answer = (b"\r\n\r\n" + TRYING + b"SIP/2.0 183 Progress\r\nl: %d\r\n\r\n" % len(body) + body
              + b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n")
    with sip_server(tmp_path, once(answer)) as port:
        code, out, _took = sip_handshake(port)
    assert code == exitcodes.OK, out
    assert out["sip_reply"] == "SIP/2.0 200 OK" and out["error"] is None


# ---- 2. a status code is three ASCII digits --------------------------------------------------
@pytest.mark.parametrize("status", ["SIP/2.0 \u00b200 OK", "SIP/2.0 \u0662\u0660\u0660 OK", "SIP/2.0 20 OK",
                                    "HTTP/1.1 200 OK"])
def test_a_status_code_that_is_not_ascii_digits_is_malformed(tmp_path: Path, status: str) -> None:
    with sip_server(tmp_path, once(status.encode() + b"\r\n\r\n")) as port:
        result = run("handshake", f"127.0.0.1:{port}", "--no-verify", "--sip-options", "--timeout", "5")
    assert result.exit_code == exitcodes.PROBLEMS, result.output
    assert "the reply to the SIP OPTIONS is malformed" in result.output
    assert "is not a SIP status line" in result.output
    assert "SIP OPTIONS reply:" not in result.output


# ---- 3. crl_dir and the certificate through the size-limited reader --------------------------
def sparse(path: Path, size: int) -> Path:
    with open(path, "wb") as handle:
        handle.truncate(size)
    return path


def test_an_oversized_file_in_crl_dir_is_skipped_and_never_read(tmp_path: Path, pki: Pki) -> None:
    """The CRL next to a 512 MiB file still revokes, and the process stays small."""
    crl_dir = tmp_path / "crl"
    shutil.copytree(pki.revoked.crl_dir, crl_dir)
    sparse(crl_dir / "00huge.pem", 512 * MiB)
    srv = tmp_path / "srv.cfg"
    srv.write_text('loadmodule "tls_openssl.so"\nloadmodule "tls_mgm.so"\n'
                   'modparam("tls_mgm", "server_domain", "only")\n'
                   f'modparam("tls_mgm", "certificate", "[only]{pki.revoked.cert_path}")\n'
                   f'modparam("tls_mgm", "private_key", "[only]{pki.revoked.key_path}")\n'
                   'modparam("tls_mgm", "verify_cert", "[only]0")\n')
    cli = tmp_path / "cli.cfg"
    cli.write_text('loadmodule "tls_openssl.so"\nloadmodule "tls_mgm.so"\n'
                   'modparam("tls_mgm", "client_domain", "out")\n'
                   f'modparam("tls_mgm", "ca_list", "[out]{pki.ca_bundle_path}")\n'
                   f'modparam("tls_mgm", "crl_dir", "[out]{crl_dir}")\n')
    # a fresh interpreter reports the largest resident size of its one child
    probe = ("import resource, subprocess, sys\n"
             "p = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=60)\n"
             "print(p.returncode); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
             "sys.stderr.write(p.stdout + p.stderr)\n")
    with running_server(srv, ["127.0.0.1:0"]) as (_server, _records, ports):
        done = subprocess.run([sys.executable, "-c", probe, sys.executable, "-m", "tlsmgm_cli", "handshake",
                               f"127.0.0.1:{ports[0]}", "-c", str(cli), "--no-db", "-f", "json"],
                              capture_output=True, text=True, timeout=90)
    code, max_kib = (int(x) for x in done.stdout.split())
    assert_no_internal_error(code, done.stderr)
    assert code == exitcodes.PROBLEMS and "certificate revoked" in done.stderr
    assert max_kib * 1024 < 256 * MiB, f"{max_kib} KiB resident: the 512 MiB file was read"


def test_crl_dir_skips_what_is_too_large_without_failing_the_domain(tmp_path: Path, pki: Pki) -> None:
    crl_dir = tmp_path / "crl"
    crl_dir.mkdir()
    sparse(crl_dir / "big.pem", PKI_FILE_MAX_BYTES + 1)
    dom = TlsDomain(name="c", side=CLIENT, ca_list=str(pki.ca.cert_path), crl_dir=str(crl_dir))
    ctx = build_context(dom)  # no CRL usable: no CRL checking, as OpenSIPS (behaviour §6.7)
    assert not ctx.verify_flags & ssl.VERIFY_CRL_CHECK_LEAF
    shutil.copy(next(pki.revoked.crl_dir.iterdir()), crl_dir / "good.pem")
    ctx = build_context(dom)
    assert ctx.verify_flags & ssl.VERIFY_CRL_CHECK_LEAF and ctx.cert_store_stats()["crl"] == 1


def test_local_certificate_is_read_within_the_limit(tmp_path: Path) -> None:
    big = sparse(tmp_path / "big.crt", PKI_FILE_MAX_BYTES + 1)
    dom = TlsDomain(name="c", side=CLIENT, certificate=str(big), private_key=str(big))
    with pytest.raises(TlsmgmError) as caught:
        local_certificate_der(dom)
    assert f"certificate '{big}'" in str(caught.value) and "over the 32 MiB limit" in str(caught.value)
    os.mkfifo(tmp_path / "fifo.crt")  # refused at once, not waited on
    dom = TlsDomain(name="c", side=CLIENT, certificate=str(tmp_path / "fifo.crt"))
    with pytest.raises(TlsmgmError, match="FIFO"):
        local_certificate_der(dom)


# ---- 4. non-ASCII in e-mail and URI SANs -----------------------------------------------------
@pytest.fixture(scope="module")
def ca_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gen_ca")
    assert run("gen", "ca", "--out", str(out)).exit_code == 0
    return out


@pytest.mark.parametrize("san, char", [("email:\u00fc@x.com", "\u00fc"), ("URI:sip:\u00fc@x.com", "\u00fc"),
                                       ("URI:sip:a@\u00e9.com", "\u00e9")])
def test_non_ascii_email_and_uri_sans_are_usage_errors(ca_dir: Path, tmp_path: Path, san: str, char: str) -> None:
    result = run("gen", "cert", "leaf", "--out", str(tmp_path), "--ca-dir", str(ca_dir), "--san", san)
    assert result.exit_code == exitcodes.USAGE, result.output
    assert san in result.output and f"non-ASCII character '{char}'" in result.output
    assert "IA5String" in result.output
    assert not list(tmp_path.iterdir())


def test_idna_hosts_still_work_in_email_sans(ca_dir: Path, tmp_path: Path) -> None:
    result = run("gen", "cert", "leaf", "--out", str(tmp_path), "--ca-dir", str(ca_dir),
                 "--san", "email:a@\u00e9.com", "--san", "URI:sip:a@xn--9ca.com", "-f", "json")
    assert result.exit_code == 0, result.output
    assert "email:a@xn--9ca.com" in result.output and "URI:sip:a@xn--9ca.com" in result.output


# ---- 5. existing targets are refused before the key is generated -----------------------------
@pytest.mark.parametrize("command", ["ca", "cert"])
def test_existing_target_is_refused_before_a_long_key_generation(ca_dir: Path, tmp_path: Path,
                                                                 command: str) -> None:
    name = "ca" if command == "ca" else "leaf"
    out = ca_dir if command == "ca" else tmp_path
    if command == "cert":
        (out / "leaf.key").write_text("mine\n")
    args = ["gen", "ca"] if command == "ca" else ["gen", "cert", "leaf", "--ca-dir", str(ca_dir)]
    started = time.monotonic()
    # RSA 16384 takes a minute or more: the refusal must come first
    proc = run_proc([*args, "--out", str(out), "--rsa", "16384"], timeout=20)
    assert proc.returncode == exitcodes.USAGE
    assert f"{out / name}." in proc.stderr and "already exists (use --force" in proc.stderr
    assert time.monotonic() - started < 20
    if command == "cert":
        assert (out / "leaf.key").read_text() == "mine\n" and not (out / "leaf.crt").exists()


# ---- 6. names too long for the file system ---------------------------------------------------
LONG = "a" * 300


def test_a_name_too_long_for_a_file_is_a_usage_error(ca_dir: Path, tmp_path: Path) -> None:
    result = run("gen", "cert", LONG, "--cn", "x", "--out", str(tmp_path), "--ca-dir", str(ca_dir))
    assert result.exit_code == exitcodes.USAGE, result.output
    assert "Invalid value for NAME" in result.output and "at most 255" in result.output
    assert "File name too long" not in result.output


@pytest.mark.parametrize("args", [
    ["gen", "ca", "--out", "{long}"],
    ["gen", "cert", "leaf", "--out", "{long}", "--ca-dir", "{ca}"],
    ["gen", "cert", "leaf", "--out", "{tmp}", "--ca-dir", "{long}"],
    ["gen", "crl", "--out", "{long}", "--ca-dir", "{ca}"],
])
def test_a_path_component_too_long_is_a_clean_error(ca_dir: Path, tmp_path: Path, args: list[str]) -> None:
    long_dir = tmp_path / LONG
    argv = [a.format(long=long_dir, ca=ca_dir, tmp=tmp_path) for a in args]
    result = run(*argv)
    assert result.exit_code == exitcodes.USAGE, result.output
    assert str(long_dir) in result.output and "the path is too long for the file system" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# ---- a failed write leaves no empty directory behind -----------------------------------------
def _small_files() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (200, 200))  # every write past 200 bytes fails (EFBIG)


@pytest.mark.parametrize("args", [["gen", "crl", "--revoke", "7"], ["gen", "ca"]])
def test_a_failed_write_leaves_no_empty_directory(ca_dir: Path, tmp_path: Path, args: list[str]) -> None:
    out = tmp_path / "new" / "pki"
    extra = ["--ca-dir", str(ca_dir)] if args[1] == "crl" else []
    proc = run_proc([*args, "--out", str(out), *extra], timeout=60, preexec_fn=_small_files)
    assert proc.returncode == exitcodes.PROBLEMS, proc.stderr
    assert "cannot write" in proc.stderr and "File too large" in proc.stderr
    assert not (tmp_path / "new").exists()
