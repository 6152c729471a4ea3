"""``tlsmgm handshake`` tells the truth (issue 11 "Commands that fail or mislead", issue 12
"Misleading messages" and item 5): the SNI asked for is the SNI on the wire (IP literals
included), --cert needs --key, a mismatched key is named, the handshake time and the SIP
reply timeout are reported apart, certificate names are escaped in text output."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from clirun import run
from cryptography import x509
from cryptography.x509.oid import NameOID
from tlsserving import accept_loop, running_server, wait_record

from tlsmgm_cli.core.tls.clienthello import INCOMPLETE, UNKNOWN, server_name
from tlsmgm_cli.core.x509 import certgen

ESCAPE_CN = "evil\x1b]0;pwned\x07.example"


# ---- a server that records the SNI of the ClientHello it receives ---------------------------
def _read_record(conn: socket.socket) -> bytes:
    head = b""
    while len(head) < 5:
        chunk = conn.recv(5 - len(head))
        if not chunk:
            return b""
        head += chunk
    length = int.from_bytes(head[3:5], "big")
    body = b""
    while len(body) < length:
        chunk = conn.recv(length - len(body))
        if not chunk:
            break
        body += chunk
    return head + body


@contextmanager
def hello_recorder() -> Iterator[tuple[int, list[bytes | None]]]:
    """A TCP server on 127.0.0.1 that reads one ClientHello per connection, records its
    SNI (read by core/tls/clienthello.py, itself checked against OpenSSL's ClientHellos)
    and closes the connection."""
    seen: list[bytes | None] = []

    def handle(conn: socket.socket, _stop: threading.Event) -> None:
        with conn:
            conn.settimeout(5)
            record = _read_record(conn)
            if record:
                found = server_name(record)
                assert found not in (INCOMPLETE, UNKNOWN), record[:16]
                seen.append(found if isinstance(found, bytes) else None)

    with accept_loop(handle) as port:
        yield port, seen


@pytest.mark.parametrize("sni", ["127.0.0.1", "::1", "10.0.0.7", "bücher.example", "a..b",
                                 "127.000.000.001"])
def test_the_sni_asked_for_is_on_the_wire(sni: str) -> None:
    with hello_recorder() as (port, seen):
        result = run("handshake", f"127.0.0.1:{port}", "--sni", sni, "--no-verify", "--timeout", "2",
                     "-f", "json")
        deadline = time.monotonic() + 5
        while not seen and time.monotonic() < deadline:
            time.sleep(0.01)
    assert seen == [sni.encode("utf-8")]
    out = json.loads(result.stdout)
    assert out["sni"] == sni


def test_ip_sni_selects_the_domain_matching_it_in_serve(tmp_path: Path) -> None:
    """OpenSIPS matches an IP-literal SNI as text against match_sip_domain."""
    issued = certgen.make_cert(None, "127.0.0.1", self_signed=True)
    cert, key = issued.write(tmp_path, "srv", force=True)
    cfg = tmp_path / "srv.cfg"
    cfg.write_text('loadmodule "tls_openssl.so"\nloadmodule "tls_mgm.so"\n'
                   'modparam("tls_mgm", "server_domain", "byip")\n'
                   f'modparam("tls_mgm", "certificate", "[byip]{cert}")\n'
                   f'modparam("tls_mgm", "private_key", "[byip]{key}")\n'
                   'modparam("tls_mgm", "match_sip_domain", "[byip]127.0.0.1")\n'
                   'modparam("tls_mgm", "verify_cert", "[byip]0")\n'
                   'modparam("tls_mgm", "verify_cert", "[nosni]0")\n'
                   'modparam("tls_mgm", "server_domain", "nosni")\n'
                   f'modparam("tls_mgm", "certificate", "[nosni]{cert}")\n'
                   f'modparam("tls_mgm", "private_key", "[nosni]{key}")\n'
                   'modparam("tls_mgm", "match_sip_domain", "[nosni]none")\n')
    with running_server(cfg, ["127.0.0.1:0"]) as (_server, records, ports):
        result = run("handshake", f"127.0.0.1:{ports[0]}", "--sni", "127.0.0.1", "--no-verify", "-f", "json")
        record = wait_record(records, 1)[0]
    assert result.exit_code == 0, result.output
    assert record["sni"] == "127.0.0.1" and record["domain"] == "byip"
    assert json.loads(result.stdout)["sni"] == "127.0.0.1"


@pytest.mark.parametrize("sni, words", [("", "empty"), ("x" * 300, "255 bytes")])
def test_an_sni_that_cannot_be_sent_is_a_usage_error(sni: str, words: str) -> None:
    with hello_recorder() as (port, seen):
        result = run("handshake", f"127.0.0.1:{port}", "--sni", sni, "--no-verify", "--timeout", "1")
        time.sleep(0.2)
    assert result.exit_code == 2
    assert words in result.output and "--sni" in result.output
    assert seen == []  # nothing was even attempted


# ---- --cert / --key -----------------------------------------------------------------------
def test_cert_without_key_is_a_usage_error(tmp_path: Path) -> None:
    cert, _key = certgen.make_cert(None, "c.example", self_signed=True).write(tmp_path, "c", force=True)
    result = run("handshake", "127.0.0.1:9", "--cert", str(cert), "--timeout", "1")
    assert result.exit_code == 2
    assert "--cert needs --key" in result.output
    assert "ckey.pem" not in result.output


@pytest.mark.parametrize("key_kind", ["rsa", "ed25519"])  # a key of another type: OpenSSL blamed the cert
def test_mismatched_key_is_named(tmp_path: Path, key_kind: str) -> None:
    cert, _ = certgen.make_cert(None, "c.example", self_signed=True).write(tmp_path, "c", force=True)
    _, other_key = certgen.make_cert(None, "o.example", self_signed=True, key=key_kind).write(
        tmp_path, "other", force=True)
    result = run("handshake", "127.0.0.1:9", "--cert", str(cert), "--key", str(other_key), "--timeout", "1")
    assert result.exit_code == 2
    assert f"private_key '{other_key}'" in result.output
    assert "does not match the public key of the certificate" in result.output
    assert "unable to load certificate" not in result.output


# ---- --sip-options: handshake time and SIP timeout apart ---------------------------------------
@contextmanager
def silent_tls_server(tmp_path: Path, cn: str = "silent.example") -> Iterator[int]:
    """A TLS server that completes handshakes and then never answers."""
    issued = certgen.make_cert(None, "x", self_signed=True,
                               subject=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]),
                               sans=["DNS:silent.example"])
    cert, key = issued.write(tmp_path, "silent", force=True)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)

    def handle(conn: socket.socket, stop: threading.Event) -> None:
        try:
            conn.settimeout(5)
            with ctx.wrap_socket(conn, server_side=True):
                stop.wait()  # held open, silent, until the test ends
        except (ssl.SSLError, OSError):
            conn.close()

    with accept_loop(handle) as port:
        yield port


def test_sip_timeout_is_reported_apart_from_the_handshake(tmp_path: Path) -> None:
    with silent_tls_server(tmp_path) as port:
        text = run("handshake", f"127.0.0.1:{port}", "--no-verify", "--sip-options", "--timeout", "1.5")
        data = run("handshake", f"127.0.0.1:{port}", "--no-verify", "--sip-options", "--timeout", "1.5",
                   "-f", "json")
    assert text.exit_code == 1 and data.exit_code == 1
    out = json.loads(data.stdout)
    assert out["connected"] is True
    assert out["handshake_seconds"] < 1.0
    assert 0.5 < out["sip_seconds"] <= 1.6
    assert "no SIP reply" in out["error"]
    assert "TLS handshake in" in text.stdout
    assert "no SIP reply to the OPTIONS" in text.stdout and "within" in text.stdout
    connected_line = next(line for line in text.stdout.splitlines() if line.startswith("connected:"))
    assert "1.5" not in connected_line and " in 1.4" not in connected_line


# ---- certificate names are escaped in text output -------------------------------------------
def test_handshake_text_escapes_the_peer_certificate(tmp_path: Path) -> None:
    with silent_tls_server(tmp_path, cn=ESCAPE_CN) as port:
        text = run("handshake", f"127.0.0.1:{port}", "--no-verify", "--timeout", "2")
        data = run("handshake", f"127.0.0.1:{port}", "--no-verify", "--timeout", "2", "-f", "json")
    assert "\x1b" not in text.stdout and "\x07" not in text.stdout
    assert "evil\\x1b]0;pwned\\x07.example" in text.stdout
    assert json.loads(data.stdout)["vars"]["tls_peer_subject_cn"] == ESCAPE_CN
