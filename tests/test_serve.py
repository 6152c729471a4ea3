"""``tlsmgm serve`` against ``tlsmgm handshake`` (and ``openssl s_client``): real TLS on
127.0.0.1, domains chosen exactly as the matcher (``match``) predicts, ``$tls_peer_*``
values equal to ``inspect``'s for the same certificate.

Its helpers (``running_server``, ``handshake_json``...) live in tlsserving.py, the
``client_pki`` fixture in conftest.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from pki import Pki
from tlsserving import (
    KEY_IP,
    KEY_PORT,
    ClientCerts,
    handshake_json,
    inspect_vars,
    running_server,
    server_cfg,
    wait_record,
)

from tlsmgm_cli.core.loader import load_domains
from tlsmgm_cli.core.matching.matcher import DomainMatcher
from tlsmgm_cli.core.tls.server import ListenerSpec, plan_listeners, sip_reply
from tlsmgm_cli.core.tls.sslverify import can_set_sni, set_verify_mode

PEER_FLAGS = {"tls_peer_verified", "tls_peer_revoked", "tls_peer_expired", "tls_peer_selfsigned"}


@pytest.fixture
def cfg(tmp_path: Path, pki: Pki, client_pki: ClientCerts) -> Path:
    return server_cfg(tmp_path, pki, client_pki)


@pytest.mark.parametrize("sni, expected", [
    (None, "nosni"), ("atlanta.com", "atl"), ("ATLANTA.com", "atl"), ("sip.biloxi.com", "blx"),
    ("none", "nosni"),
])
def test_domain_chosen_is_the_matchers(cfg: Path, pki: Pki, sni: str | None, expected: str) -> None:
    predicted = DomainMatcher(load_domains(str(cfg))).match_server(KEY_IP, KEY_PORT, sni)
    assert predicted.domain is not None and predicted.domain.name == expected
    with running_server(cfg, [f"{KEY_IP}:{KEY_PORT}=127.0.0.1:0"]) as (_server, records, ports):
        sni_args = ["--sni", sni] if sni else []
        code, out = handshake_json(f"127.0.0.1:{ports[0]}", "-c", str(cfg), *sni_args)
        record = wait_record(records, 1)[0]
    assert code == 0, out
    assert out["connected"] and out["domain"] == "cli" and out["error"] is None
    assert record["outcome"] == "selected" and record["domain"] == expected
    assert record["sni"] == sni and record["initial_domain"] == predicted.initial.name == "atl"
    served = pki.server_chain if expected == "blx" else pki.server
    assert out["vars"]["tls_peer_subject_cn"] == served.cert.subject.rfc4514_string().removeprefix("CN=")
    assert out["vars"]["tls_peer_verified"] == "1"


def test_unmatched_sni_is_rejected_with_unrecognized_name(cfg: Path) -> None:
    with running_server(cfg, [f"{KEY_IP}:{KEY_PORT}=127.0.0.1:0"]) as (_server, records, ports):
        code, out = handshake_json(f"127.0.0.1:{ports[0]}", "-c", str(cfg), "--sni", "www.atlanta.com")
        record = wait_record(records, 1)[0]
    assert code == 1 and not out["connected"]
    assert "unrecognized_name (112)" in out["error"]
    assert record["outcome"] == "rejected" and record["domain"] is None


def test_peer_vars_equal_inspect_for_valid_client_cert(cfg: Path, client_pki: ClientCerts) -> None:
    with running_server(cfg, [f"{KEY_IP}:{KEY_PORT}=127.0.0.1:0"]) as (_server, records, ports):
        code, out = handshake_json(f"127.0.0.1:{ports[0]}", "-c", str(cfg), "--sip-options")
        record = wait_record(records, 1)[0]
    assert code == 0 and out["sip_reply"] == "SIP/2.0 200 OK"
    expected = inspect_vars(client_pki.paths["valid"][0])
    peer = {k: v for k, v in record["vars"].items() if k.startswith("tls_peer_")}
    assert {k: v for k, v in peer.items() if k not in PEER_FLAGS} == \
        {k: v for k, v in expected.items() if k.startswith("tls_peer_") and k not in PEER_FLAGS}
    assert peer["tls_peer_verified"] == "1"
    # the handshake's $tls_my_* describe the same certificate
    assert out["vars"]["tls_my_subject"] == expected["tls_peer_subject"]
    assert out["vars"]["tls_my_serial"] == expected["tls_peer_serial"]


@pytest.mark.parametrize("which, words", [
    ("expired", "certificate has expired"), ("self_signed", "self-signed certificate"),
    ("revoked", "certificate revoked"),
])
def test_bad_client_certs_are_refused(cfg: Path, client_pki: ClientCerts, which: str, words: str) -> None:
    cert, key = client_pki.paths[which]
    with running_server(cfg, [f"{KEY_IP}:{KEY_PORT}=127.0.0.1:0"]) as (_server, records, ports):
        code, out = handshake_json(f"127.0.0.1:{ports[0]}", "--cert", str(cert), "--key", str(key),
                                   "--no-verify", "--timeout", "3")
        record = wait_record(records, 1)[0]
    assert code == 1 and not out["connected"]
    assert out["error"].startswith("the peer sent TLS alert")
    assert record["outcome"] == "failed" and record["domain"] == "nosni"
    assert words in record["error"]


def test_server_without_verification_gets_no_peer_vars(tmp_path: Path, pki: Pki, client_pki: ClientCerts) -> None:
    cfg = server_cfg(tmp_path, pki, client_pki, "".join(
        f'modparam("tls_mgm", "verify_cert", "[{name}]0")\n' for name in ("nosni", "atl", "blx")))
    with running_server(cfg, [f"{KEY_IP}:{KEY_PORT}=127.0.0.1:0"]) as (_server, records, ports):
        code, _out = handshake_json(f"127.0.0.1:{ports[0]}", "-c", str(cfg))
        record = wait_record(records, 1)[0]
    assert code == 0
    peer = {k: v for k, v in record["vars"].items() if k.startswith("tls_peer_")}
    assert all(v is None for k, v in peer.items() if k not in PEER_FLAGS)
    assert all(peer[k] == "0" for k in PEER_FLAGS)


def test_listener_without_domain_accepts_tcp_and_never_answers(cfg: Path) -> None:
    with running_server(cfg, ["10.0.0.99:5061=127.0.0.1:0"]) as (_server, records, ports):
        started = time.monotonic()
        code, out = handshake_json(f"127.0.0.1:{ports[0]}", "-c", str(cfg), "--timeout", "0.5")
        elapsed = time.monotonic() - started
        record = wait_record(records, 1)[0]
    assert code == 1 and "no TLS answer" in out["error"] and elapsed < 3
    assert record["outcome"] == "dropped"


def test_sip_reply_copies_the_dialog_headers() -> None:
    head = ("OPTIONS sip:a SIP/2.0\r\nVia: SIP/2.0/TLS 1.2.3.4;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\n"
            "To: <sip:a>\r\nCall-ID: abc\r\nCSeq: 7 OPTIONS\r\nMax-Forwards: 70")
    reply = sip_reply(head)
    assert reply is not None and reply.startswith("SIP/2.0 200 OK\r\n")
    for header in ("Via: SIP/2.0/TLS 1.2.3.4;branch=z9hG4bK1", "Call-ID: abc", "CSeq: 7 OPTIONS", "To: <sip:a>"):
        assert header + "\r\n" in reply
    assert "Max-Forwards" not in reply and reply.endswith("Content-Length: 0\r\n\r\n")
    assert sip_reply("SIP/2.0 200 OK\r\nVia: x") is None
    assert sip_reply("INVITE sip:a SIP/2.0").startswith("SIP/2.0 405")


def test_default_listeners_are_rebound_to_loopback(cfg: Path) -> None:
    specs, warnings = plan_listeners(load_domains(str(cfg)), [])
    assert specs == [ListenerSpec(KEY_IP, KEY_PORT, "127.0.0.1", KEY_PORT)] and warnings == []


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl binary")
@pytest.mark.parametrize("sni, expected", [(None, "nosni"), ("x.biloxi.com", "blx")])
def test_openssl_s_client(cfg: Path, client_pki: ClientCerts, sni: str | None, expected: str) -> None:
    cert, key = client_pki.paths["valid"]
    with running_server(cfg, [f"{KEY_IP}:{KEY_PORT}=127.0.0.1:0"]) as (_server, records, ports):
        cmd = ["openssl", "s_client", "-connect", f"127.0.0.1:{ports[0]}", "-cert", str(cert), "-key", str(key)]
        cmd += ["-servername", sni] if sni else ["-noservername"]
        proc = subprocess.run(cmd, input=b"", capture_output=True, timeout=10)
        record = wait_record(records, 1)[0]
    assert b"BEGIN CERTIFICATE" in proc.stdout
    assert record["domain"] == expected and record["vars"]["tls_peer_subject"] == "/CN=valid.client.test"


def test_serve_subprocess_stops_cleanly_on_sigterm(cfg: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "tlsmgm_cli", "serve", "-c", str(cfg), "--listen",
                             f"{KEY_IP}:{KEY_PORT}=127.0.0.1:0", "--format", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = json.loads(proc.stdout.readline())
        assert first["event"] == "listening" and first["listener"] == f"{KEY_IP}:{KEY_PORT}"
        port = first["bind"].rsplit(":", 1)[1]
        done = subprocess.run([sys.executable, "-m", "tlsmgm_cli", "handshake", f"127.0.0.1:{port}",
                               "-c", str(cfg), "--sni", "atlanta.com", "-f", "json"],
                              capture_output=True, text=True, timeout=20)
        assert done.returncode == 0, done.stderr
        record = json.loads(proc.stdout.readline())
        assert record["domain"] == "atl" and record["tls_version"] == json.loads(done.stdout)["vars"]["tls_version"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(5) == 0
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()



SNI_NAME = "sip.example.test"


def verify_switch_cfg(tmp_path: Path, pki: Pki, client_pki: ClientCerts, *, initial_requires: bool,
                      sni_name: str = SNI_NAME) -> Path:
    """Two server domains on 10.0.0.10:5061: [sni] for ``SNI_NAME`` and the no-SNI [nosni]
    (declared last, so it heads the address key: the initial domain). One of them verifies
    and requires client certificates, the other has verify_cert=0."""
    lines = ['socket=tls:10.0.0.10:5061', 'loadmodule "proto_tls.so"', 'loadmodule "tls_openssl.so"',
             'loadmodule "tls_mgm.so"']
    requiring = "nosni" if initial_requires else "sni"
    for name, pattern in (("sni", sni_name), ("nosni", "none")):
        values = {"server_domain": name, "match_ip_address": f"[{name}]{KEY_IP}:{KEY_PORT}",
                  "match_sip_domain": f"[{name}]{pattern}", "certificate": f"[{name}]{pki.server.cert_path}",
                  "private_key": f"[{name}]{pki.server.key_path}", "ca_list": f"[{name}]{pki.ca.cert_path}",
                  "crl_dir": f"[{name}]{client_pki.crl_dir}",
                  "verify_cert": f"[{name}]{int(name == requiring)}",
                  "require_cert": f"[{name}]{int(name == requiring)}"}
        lines += [f'modparam("tls_mgm", "{param}", "{value}")' for param, value in values.items()]
    path = tmp_path / "opensips.cfg"
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8", "surrogateescape"))  # bytes kept as given
    matched = DomainMatcher(load_domains(str(path))).match_server(KEY_IP, KEY_PORT, sni_name)
    assert matched.initial is not None and matched.initial.name == "nosni" and matched.domain.name == "sni"
    return path


def sni_handshake(cfg: Path, version: tuple[int, int, int], *cert_args: str,
                  sni_name: str = SNI_NAME) -> tuple[int, dict, dict]:
    """One ad-hoc handshake with SNI ``sni_name`` against a server for ``version``:
    (exit code, handshake JSON, the server's connection record)."""
    with running_server(cfg, [f"{KEY_IP}:{KEY_PORT}=127.0.0.1:0"], version) as (_server, records, ports):
        code, out = handshake_json(f"127.0.0.1:{ports[0]}", "--sni", sni_name, "--no-verify", "--timeout", "3",
                                   *cert_args)
        record = wait_record(records, 1)[0]
    assert record["initial_domain"] == "nosni" and record["domain"] == "sni" and record["sni"] == sni_name
    return code, out, record


@pytest.mark.parametrize("version, accepted", [((3, 6, 8), False), ((3, 6, 7), True)])
def test_sni_domain_requiring_certs_applies_from_368(tmp_path: Path, pki: Pki, client_pki: ClientCerts,
                                                     version: tuple[int, int, int], accepted: bool) -> None:
    cfg = verify_switch_cfg(tmp_path, pki, client_pki, initial_requires=False)
    code, out, record = sni_handshake(cfg, version)
    assert out["connected"] is accepted and code == (0 if accepted else 1), out
    assert record["outcome"] == ("selected" if accepted else "failed"), record
    if not accepted:
        assert "peer did not return a certificate" in record["error"], record
    assert not any("limitation" in note for note in record["notes"]), record["notes"]
    assert any(note.startswith("before 3.6.8") for note in record["notes"]) is accepted


def test_sni_domain_verifies_the_client_cert_on_368(tmp_path: Path, pki: Pki, client_pki: ClientCerts) -> None:
    cfg = verify_switch_cfg(tmp_path, pki, client_pki, initial_requires=False)
    cert, key = client_pki.paths["valid"]
    code, out, record = sni_handshake(cfg, (3, 6, 8), "--cert", str(cert), "--key", str(key))
    assert code == 0 and out["connected"], out
    assert record["vars"]["tls_peer_subject"] == "/CN=valid.client.test"
    assert record["vars"]["tls_peer_verified"] == "1"
    # on 3.6.7 the initial domain (verify_cert=0) never asks for it
    code, _out, old = sni_handshake(cfg, (3, 6, 7), "--cert", str(cert), "--key", str(key))
    assert code == 0 and old["vars"]["tls_peer_subject"] is None


@pytest.mark.parametrize("version, accepted", [((3, 6, 8), True), ((3, 6, 7), False)])
def test_sni_domain_without_verification_applies_from_368(tmp_path: Path, pki: Pki, client_pki: ClientCerts,
                                                          version: tuple[int, int, int], accepted: bool) -> None:
    cfg = verify_switch_cfg(tmp_path, pki, client_pki, initial_requires=True)
    code, out, record = sni_handshake(cfg, version)
    assert out["connected"] is accepted and code == (0 if accepted else 1), out
    assert record["outcome"] == ("selected" if accepted else "failed"), record
    if accepted:
        assert record["vars"]["tls_peer_verified"] == "0" and record["vars"]["tls_peer_subject"] is None


NON_ASCII_SNI = "caf\udce9.example.test"  # byte 0xE9, not UTF-8: CPython cannot pass it to sni_callback


@pytest.mark.skipif(not can_set_sni(), reason="needs libssl reachable to send a non-ASCII SNI")
@pytest.mark.parametrize("initial_requires, accepted", [(True, True), (False, False)])
def test_non_ascii_sni_selects_its_domain_and_verify_mode(tmp_path: Path, pki: Pki, client_pki: ClientCerts,
                                                         capfd: pytest.CaptureFixture[str],
                                                         initial_requires: bool, accepted: bool) -> None:
    """The SNI's bytes as OpenSSL hands them to OpenSIPS: the domain whose filter holds the
    same bytes is chosen, with its verify_cert/require_cert (3.6.8), and nothing is printed."""
    cfg = verify_switch_cfg(tmp_path, pki, client_pki, initial_requires=initial_requires, sni_name=NON_ASCII_SNI)
    code, out, record = sni_handshake(cfg, (3, 6, 8), sni_name=NON_ASCII_SNI)
    assert out["connected"] is accepted and code == (0 if accepted else 1), out
    assert record["outcome"] == ("selected" if accepted else "failed"), record
    if not accepted:
        assert "peer did not return a certificate" in record["error"], record
    assert "Exception" not in capfd.readouterr().err


def test_set_verify_mode_changes_only_the_one_connection(pki: Pki) -> None:
    """Real handshakes over socketpairs: the mode set on one server connection is what it
    enforces; its context and a sibling connection keep theirs; unvalidated objects give False."""
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(pki.server.cert_path, pki.server.key_path)
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.check_hostname, client_ctx.verify_mode = False, ssl.CERT_NONE

    def handshake(required: bool) -> str | None:
        srv_sock, cli_sock = socket.socketpair()
        for sock in (srv_sock, cli_sock):
            sock.settimeout(5)
        server = server_ctx.wrap_socket(srv_sock, server_side=True, do_handshake_on_connect=False)
        if required:
            assert set_verify_mode(server, ssl.CERT_REQUIRED)
        errors: list[str] = []

        def serve() -> None:
            try:
                server.do_handshake()
                server.sendall(b"y")
            except ssl.SSLError as err:
                errors.append(err.reason or str(err))

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        with contextlib.suppress(ssl.SSLError, OSError):  # TimeoutError is an OSError
            with client_ctx.wrap_socket(cli_sock, do_handshake_on_connect=False) as client:
                client.settimeout(5)
                client.do_handshake()
                client.sendall(b"x")
                client.recv(1)
        cli_sock.close()  # wakes the server thread if it still waits
        thread.join(10)
        assert not thread.is_alive()
        server.close()
        return errors[0] if errors else None

    assert handshake(required=True) == "PEER_DID_NOT_RETURN_A_CERTIFICATE"
    assert server_ctx.verify_mode == ssl.CERT_NONE
    assert handshake(required=False) is None
    assert not set_verify_mode(object(), ssl.CERT_REQUIRED)  # type: ignore[arg-type]
    assert not set_verify_mode(client_ctx, ssl.CERT_REQUIRED)  # type: ignore[arg-type]


# -- serve survives a client that resets at once -------------------------------------
@pytest.fixture
def thread_crashes(monkeypatch: pytest.MonkeyPatch) -> list[threading.ExceptHookArgs]:
    """Exceptions that escape any thread (threading's excepthook would print a traceback)."""
    crashes: list[threading.ExceptHookArgs] = []
    monkeypatch.setattr(threading, "excepthook", crashes.append)
    return crashes


def connect_and_reset(port: int) -> None:
    """Connect and close with SO_LINGER 0: the server gets an RST instead of a hello."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_client_reset_is_recorded_and_the_server_keeps_serving(
        tmp_path: Path, pki: Pki, client_pki, thread_crashes) -> None:
    cfg = server_cfg(tmp_path, pki, client_pki)
    with running_server(cfg, [f"{KEY_IP}:{KEY_PORT}=127.0.0.1:0"]) as (_server, records, ports):
        for _ in range(5):
            connect_and_reset(ports[0])
        reset = wait_record(records, 5)
        code, out = handshake_json(f"127.0.0.1:{ports[0]}", "-c", str(cfg))
        after = wait_record(records, 6)[-1]
    assert thread_crashes == []
    for record in reset:
        assert record["outcome"] == "failed", record
        assert record["error"].startswith("connection error: "), record
    assert code == 0 and out["connected"], out
    assert after["outcome"] == "selected" and after["domain"] == "nosni"


def test_unexpected_error_is_recorded_not_raised(tmp_path: Path, pki: Pki, client_pki,
                                                 thread_crashes, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fault injection: no real certificate is known to trip ``cert_vars``, so make it fail."""
    from tlsmgm_cli.core.tls import server as tlsserver

    def broken_cert_vars(*_args: object) -> dict:
        raise ValueError("odd certificate")

    monkeypatch.setattr(tlsserver, "cert_vars", broken_cert_vars)
    cfg = server_cfg(tmp_path, pki, client_pki)
    with running_server(cfg, [f"{KEY_IP}:{KEY_PORT}=127.0.0.1:0"]) as (_server, records, ports):
        handshake_json(f"127.0.0.1:{ports[0]}", "-c", str(cfg), "--timeout", "3")
        record = wait_record(records, 1)[0]
        monkeypatch.undo()
        monkeypatch.setattr(threading, "excepthook", thread_crashes.append)
        code, _out = handshake_json(f"127.0.0.1:{ports[0]}", "-c", str(cfg))
        after = wait_record(records, 2)[-1]
    assert thread_crashes == []
    assert record["outcome"] == "failed"
    assert record["error"] == "internal error: ValueError: odd certificate"
    assert code == 0 and after["outcome"] == "selected"
