"""`tlsmgm serve` under hostile clients (issue 12, items 12 and 14, and 5 for its log).

Each test runs `tlsmgm serve` as a real process on 127.0.0.1 and talks TLS to it:

* ClientHellos whose SNI makes a wildcard-heavy pattern backtrack must not delay a
  legitimate client (matching is polynomial, see core/matching/fnmatch_posix.py);
* out of file descriptors (EMFILE on accept), serve backs off instead of spinning at
  100 % CPU, and says so once;
* a client's SNI reaches the text log with its control characters escaped.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import select
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pki import Pki

from tlsmgm_cli.core.tls.sslverify import can_set_sni

KEY = "10.0.0.10:5061"
HOSTILE_SNI = ".".join(["a" * 62] * 4)  # 251 bytes, no 'b': every split of the stars fails


def _cfg(tmp_path: Path, pki: Pki, evil_pattern: str) -> Path:
    lines = ['loadmodule "proto_tls.so"', 'loadmodule "tls_openssl.so"', 'loadmodule "tls_mgm.so"']
    for name, pattern in (("good", "good.example.com"), ("evil", evil_pattern), ("plain", "none")):
        lines += [f'modparam("tls_mgm", "server_domain", "{name}")',
                  f'modparam("tls_mgm", "match_ip_address", "[{name}]{KEY}")',
                  f'modparam("tls_mgm", "match_sip_domain", "[{name}]{pattern}")',
                  f'modparam("tls_mgm", "certificate", "[{name}]{pki.server.cert_path}")',
                  f'modparam("tls_mgm", "private_key", "[{name}]{pki.server.key_path}")']
    path = tmp_path / "opensips.cfg"
    path.write_text("\n".join(lines) + "\n")
    return path


def _read_line(stream, timeout: float) -> str:
    """One line of a child's output, or AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    buf = b""
    fd = stream.fileno()
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        assert left > 0, f"no line within {timeout} s (got {buf!r})"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 1)
            assert chunk, f"the process ended (got {buf!r})"
            buf += chunk
    return buf.decode()


@contextlib.contextmanager
def _serve(cfg: Path, fmt: str = "json", preexec_fn=None) -> Iterator[tuple[subprocess.Popen, int]]:
    """`tlsmgm serve --format FMT` keyed on KEY, bound to a free port on 127.0.0.1:
    (process, port). Fails the test when the server printed a traceback."""
    env = {**os.environ}
    env.pop("TLSMGM_DEBUG", None)
    proc = subprocess.Popen([sys.executable, "-m", "tlsmgm_cli", "serve", "-c", str(cfg),
                             "--listen", f"{KEY}=127.0.0.1:0", "--format", fmt],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            preexec_fn=preexec_fn)
    try:
        head = _read_line(proc.stdout, 30)
        if fmt == "json":
            listening = json.loads(head)
            assert listening["event"] == "listening", listening
            port = int(listening["bind"].rpartition(":")[2])
        else:
            port = int(head.split(" for listener")[0].rpartition(":")[2])
        yield proc, port
    finally:
        proc.kill()
        proc.wait(10)
        errors = proc.stderr.read()
        proc.stdout.close()
        proc.stderr.close()
    for marker in (b"Traceback", b"internal error", b"Exception ignored"):
        assert marker not in errors, errors.decode(errors="replace")


def _client_context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _handshake(port: int, sni: str, timeout: float) -> float:
    """Seconds a full TLS handshake with ``sni`` took (raises on failure)."""
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
        with _client_context().wrap_socket(raw, server_hostname=sni) as tls:
            tls.do_handshake()
    return time.monotonic() - start


def _hostile_hello(port: int, done: threading.Event) -> None:
    """Send a ClientHello with the hostile SNI; wait for whatever answer (or none)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=60) as raw:
            with _client_context().wrap_socket(raw, server_hostname=HOSTILE_SNI,
                                               do_handshake_on_connect=False) as tls:
                with contextlib.suppress(OSError, ssl.SSLError):
                    tls.do_handshake()
    except OSError:
        pass
    finally:
        done.set()


@pytest.mark.parametrize("pattern", ["[a]*a*a*a*a*b", "[a]*a*a*a*a*a*b", "*a*a*a*a*a*a*a*a*a*a*b"])
def test_hostile_snis_do_not_delay_a_legitimate_client(tmp_path: Path, pki: Pki, pattern: str) -> None:
    with _serve(_cfg(tmp_path, pki, pattern)) as (_proc, port):
        done = [threading.Event() for _ in range(4)]
        for event in done:
            threading.Thread(target=_hostile_hello, args=(port, event), daemon=True).start()
        time.sleep(0.3)  # the hostile hellos are in
        took = _handshake(port, "good.example.com", timeout=10)
        assert took < 2.0, f"a legitimate handshake took {took:.1f} s behind 4 hostile ClientHellos"
        for event in done:  # and the hostile ones got their answer (rejected) quickly too
            assert event.wait(5)


def test_sni_with_terminal_escapes_is_shown_escaped_in_the_text_log(tmp_path: Path, pki: Pki) -> None:
    with _serve(_cfg(tmp_path, pki, "*.example.com"), fmt="text") as (proc, port):
        with contextlib.suppress(OSError, ssl.SSLError):
            _handshake(port, "x\x1b]0;owned\x07.example.com", timeout=10)
        line = _read_line(proc.stdout, 10)
    assert "\x1b" not in line and "\x07" not in line
    assert "x\\x1b]0;owned\\x07.example.com" in line


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _low_nofile(limit: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    return apply


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs /proc to read CPU time")
def test_out_of_descriptors_backs_off_and_logs_once(tmp_path: Path, pki: Pki) -> None:
    with _serve(_cfg(tmp_path, pki, "*.example.com"), preexec_fn=_low_nofile(48)) as (proc, port):
        clients = []
        try:
            for _ in range(80):  # more than the server has descriptors: the rest wait in the backlog
                clients.append(socket.create_connection(("127.0.0.1", port), timeout=5))
            time.sleep(0.5)  # the server has hit EMFILE by now
            before = _cpu_seconds(proc.pid)
            time.sleep(2.0)
            used = _cpu_seconds(proc.pid) - before
        finally:
            for sock in clients:
                sock.close()
        assert used < 0.5, f"serve used {used:.2f} s of CPU in 2 s while out of descriptors"
        records = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 0.2)
            if not ready:
                if records:
                    break
                continue
            records.append(json.loads(_read_line(proc.stdout, 5)))
        warnings = [r for r in records if r.get("event") == "warning"]
    assert len(warnings) == 1, warnings
    assert "Too many open files" in warnings[0]["message"] and "EMFILE" in warnings[0]["message"]


# --- an SNI that is not ASCII ----------------------------------------------------------------
# CPython decodes the server_name as ASCII before calling sni_callback: a byte >= 0x80 made
# serve print "Exception ignored ... UnicodeDecodeError" and answer alert 80 (internal
# error), logged as a connection without SNI. OpenSSL hands OpenSIPS the bytes.


def _non_ascii_cfg(tmp_path: Path, pki: Pki) -> Path:
    """[nosni] (no SNI, atlanta.com), [latin] for the byte 0xE9 (biloxi.com), [utf8] for
    é in UTF-8 (rsa.atlanta.com); written as bytes."""
    lines = ['loadmodule "proto_tls.so"', 'loadmodule "tls_openssl.so"', 'loadmodule "tls_mgm.so"']
    for name, pattern, item in (("latin", "caf\udce9.*", pki.server_chain), ("utf8", "café.*", pki.rsa),
                                ("nosni", "none", pki.server)):
        lines += [f'modparam("tls_mgm", "server_domain", "{name}")',
                  f'modparam("tls_mgm", "match_ip_address", "[{name}]{KEY}")',
                  f'modparam("tls_mgm", "match_sip_domain", "[{name}]{pattern}")',
                  f'modparam("tls_mgm", "certificate", "[{name}]{item.cert_path}")',
                  f'modparam("tls_mgm", "private_key", "[{name}]{item.key_path}")',
                  f'modparam("tls_mgm", "verify_cert", "[{name}]0")',
                  f'modparam("tls_mgm", "require_cert", "[{name}]0")']
    path = tmp_path / "opensips.cfg"
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8", "surrogateescape"))
    return path


def _served_cn(port: int, sni: bytes | None) -> str:
    """The CN of the certificate served for ``sni`` (sent byte for byte), or the SSL error."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    from tlsmgm_cli.core.tls.sslverify import set_sni

    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with _client_context().wrap_socket(raw, do_handshake_on_connect=False) as tls:
            if sni is not None:
                assert set_sni(tls, sni)
            try:
                tls.do_handshake()
            except ssl.SSLError as err:
                return f"error: {err.reason}"
            cert = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))
    return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


@pytest.mark.skipif(not can_set_sni(), reason="needs libssl reachable to send a non-ASCII SNI")
def test_non_ascii_sni_is_matched_as_bytes(tmp_path: Path, pki: Pki) -> None:
    cases = [(b"caf\xe9.net", "biloxi.com", "latin", "caf\\udce9.net"),
             (b"caf\xc3\xa9.net", "rsa.atlanta.com", "utf8", "caf\\udcc3\\udca9.net"),
             (b"caf\xe8.net", "error: TLSV1_UNRECOGNIZED_NAME", None, "caf\\udce8.net"),
             (b"other.net", "error: TLSV1_UNRECOGNIZED_NAME", None, "other.net"),  # ASCII: the callback
             (None, "atlanta.com", "nosni", None)]
    with _serve(_non_ascii_cfg(tmp_path, pki)) as (proc, port):
        for sni, served, domain, logged in cases:
            assert _served_cn(port, sni) == served, sni
            line = _read_line(proc.stdout, 10)
            assert "\\udc" in line or logged is None or logged.isascii() and "\\u" not in logged
            record = json.loads(line)
            assert record["domain"] == domain and record["outcome"] == ("selected" if domain else "rejected"), record
            assert json.dumps(record["sni"]) == (json.dumps(None) if logged is None else f'"{logged}"'), record


@pytest.mark.skipif(not can_set_sni(), reason="needs libssl reachable to send a non-ASCII SNI")
def test_non_ascii_sni_is_escaped_in_the_text_log(tmp_path: Path, pki: Pki) -> None:
    with _serve(_non_ascii_cfg(tmp_path, pki), fmt="text") as (proc, port):
        assert _served_cn(port, b"caf\xe9.\x1b]0;x\x07.net") == "biloxi.com"
        line = _read_line(proc.stdout, 10)
    assert "caf\\xe9.\\x1b]0;x\\x07.net" in line and "latin" in line, line
