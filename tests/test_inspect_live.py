"""``inspect HOST:PORT [--sni NAME]``: the chain a live server presents, shown like a file.

Servers are plain Python ``ssl`` servers on 127.0.0.1 (and ::1 when available) started by
the tests with the generated test PKI; one records the SNI each ClientHello carried and
answers a chosen name with another certificate. A silent TCP server (accepts, never
answers) gives a one-line timeout error.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from clirun import run, run_proc

from tlsmgm_cli import exitcodes


class TlsServer:
    """A TLS server on a free port, one thread; ``snis`` lists the server_name of each
    handshake (None: no SNI). ``alt`` = (sni, cert_path, key_path) answers that SNI with
    another certificate."""

    def __init__(self, cert: Path, key: Path, host: str = "127.0.0.1", alt: tuple[str, Path, Path] | None = None):
        self.snis: list[str | None] = []
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(str(cert), str(key))
        alt_ctx = None
        if alt is not None:
            alt_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            alt_ctx.load_cert_chain(str(alt[1]), str(alt[2]))

        def on_sni(sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
            self.snis.append(name)
            if alt is not None and name == alt[0]:
                sock.context = alt_ctx

        self.ctx.sni_callback = on_sni
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.listener = socket.socket(family, socket.SOCK_STREAM)
        self.listener.bind((host, 0))
        self.listener.listen(8)
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _addr = self.listener.accept()
            except (TimeoutError, OSError):
                continue
            conn.settimeout(5)
            try:
                with self.ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)  # until the client closes
            except (ssl.SSLError, OSError):
                pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.listener.close()


@contextmanager
def tls_server(*args, **kwargs) -> Iterator[TlsServer]:
    server = TlsServer(*args, **kwargs)
    try:
        yield server
    finally:
        server.close()


@contextmanager
def silent_server() -> Iterator[int]:
    """Accepts TCP connections and never sends a byte."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


def _json(result) -> list[dict]:
    assert result.exit_code == exitcodes.OK, result.output + result.stderr
    return json.loads(result.output)


def test_live_chain_is_shown_like_the_file(pki) -> None:
    chain = pki.server_chain
    with tls_server(chain.cert_path, chain.key_path) as server:
        live = _json(run("inspect", f"127.0.0.1:{server.port}", "--ca", str(pki.ca.cert_path), "-f", "json"))
    from_file = _json(run("inspect", str(chain.cert_path), "--ca", str(pki.ca.cert_path), "-f", "json"))
    assert len(live) == 2  # leaf + intermediate, leaf first
    for got, want in zip(live, from_file, strict=True):
        assert got["vars"] == want["vars"]
        assert got["extra"]["sha256_fingerprint"] == want["extra"]["sha256_fingerprint"]
    assert live[0]["vars"]["tls_peer_subject_cn"] == "biloxi.com"
    assert live[0]["vars"]["tls_peer_verified"] == "1"
    assert live[0]["source"] == f"127.0.0.1:{server.port}"
    assert live[0]["extra"]["sni"] is None
    assert live[0]["extra"]["tls_version"].startswith("TLS")
    assert "openssl s_client -connect" in live[0]["extra"]["openssl_command"]
    assert server.snis == [None]  # no SNI unless asked


def test_sni_is_sent_exactly_and_selects_the_certificate(pki) -> None:
    with tls_server(pki.server.cert_path, pki.server.key_path,
                    alt=("Special.Atlanta.COM", pki.special.cert_path, pki.special.key_path)) as server:
        target = f"127.0.0.1:{server.port}"
        chosen = _json(run("inspect", target, "--sni", "Special.Atlanta.COM", "-f", "json"))
        default = _json(run("inspect", target, "--sni", "other.example.com", "-f", "json"))
    # Python's ssl lowercases nothing: the server saw the name byte for byte
    assert server.snis == ["Special.Atlanta.COM", "other.example.com"]
    assert chosen[0]["vars"]["tls_peer_subject_cn"] == pki.special.cert.subject.get_attributes_for_oid(
        __import__("cryptography.x509.oid", fromlist=["NameOID"]).NameOID.COMMON_NAME)[0].value
    assert chosen[0]["extra"]["sni"] == "Special.Atlanta.COM"
    assert default[0]["vars"]["tls_peer_subject_cn"] == "atlanta.com"


def test_live_text_view_decodes_the_served_leaf(pki) -> None:
    with tls_server(pki.server.cert_path, pki.server.key_path) as server:
        result = run("inspect", f"127.0.0.1:{server.port}", "--text")
        as_json = _json(run("inspect", f"127.0.0.1:{server.port}", "--text", "-f", "json"))
    assert result.exit_code == exitcodes.OK, result.stderr
    assert "$tls_peer_subject_cn" in result.output and "atlanta.com" in result.output
    assert "X509v3 Subject Alternative Name:" in result.output and "DNS:atlanta.com" in result.output
    assert as_json[0]["x509"]["subject"].endswith("CN = atlanta.com")


def test_silent_server_times_out_in_one_line() -> None:
    with silent_server() as port:
        proc = run_proc(["inspect", f"127.0.0.1:{port}", "--timeout", "0.5"], timeout=30)
    assert proc.returncode == exitcodes.PROBLEMS
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"tlsmgm: error: 127.0.0.1:{port}: ")
    assert "no TLS answer within 0.5 s" in lines[0]


def test_refused_connection_is_one_line_exit_1() -> None:
    with silent_server() as port:
        pass  # closed: nothing listens there now
    result = run("inspect", f"127.0.0.1:{port}", "--timeout", "2")
    assert result.exit_code == exitcodes.PROBLEMS
    assert result.stderr.count("\n") == 1 and "refused" in result.stderr


def test_ipv6_target_in_brackets(pki) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 in this Python")
    try:
        server = TlsServer(pki.server.cert_path, pki.server.key_path, host="::1")
    except OSError as err:
        pytest.skip(f"cannot listen on ::1: {err}")
    try:
        items = _json(run("inspect", f"[::1]:{server.port}", "-f", "json"))
    finally:
        server.close()
    assert items[0]["vars"]["tls_peer_subject_cn"] == "atlanta.com"
    assert items[0]["extra"]["address"] == f"[::1]:{server.port}"


def test_an_existing_file_named_like_host_port_wins(pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with tls_server(pki.server.cert_path, pki.server.key_path) as server:
        name = f"127.0.0.1:{server.port}"
        Path(name).write_bytes(pki.client.cert_path.read_bytes())
        from_file = _json(run("inspect", name, "-f", "json"))
        Path(name).unlink()
        from_server = _json(run("inspect", name, "-f", "json"))
    assert from_file[0]["vars"]["tls_peer_subject_cn"] == "client.atlanta.com"
    assert "sni" not in from_file[0]["extra"]
    assert from_server[0]["vars"]["tls_peer_subject_cn"] == "atlanta.com"
    assert server.snis == [None]


def test_sni_and_timeout_need_a_live_target(pki) -> None:
    for extra in (["--sni", "x.example.com"], ["--timeout", "3"]):
        result = run("inspect", str(pki.server.cert_path), *extra)
        assert result.exit_code == exitcodes.USAGE
        assert "HOST:PORT" in result.stderr


def test_unsendable_sni_is_a_usage_error() -> None:
    result = run("inspect", "127.0.0.1:5061", "--sni", "")
    assert result.exit_code == exitcodes.USAGE
    assert "empty SNI" in result.stderr


def test_help_teaches_files_and_servers() -> None:
    out = run("inspect", "--help").output
    assert "HOST:PORT" in out and "--sni" in out and "--text" in out and "--timeout" in out


@pytest.mark.parametrize(("target", "expected"), [
    ("a" * 300 + ":5061", "cannot resolve"),          # IDNA refuses a 300-octet label
    ("nonexistent.invalid:5061", "cannot resolve"),
    ("[::1]:99999", "not HOST:PORT"),
    ("x\x1b]0;t\x07.invalid:5061", "cannot resolve 'x\\x1b]0;t\\x07.invalid'"),
])
def test_bad_targets_are_one_line_errors(target: str, expected: str) -> None:
    result = run("inspect", target, "--timeout", "2")
    assert result.exit_code == exitcodes.PROBLEMS
    assert result.stderr.count("\n") == 1 and expected in result.stderr
    assert "\x1b" not in result.stderr
