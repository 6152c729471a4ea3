"""Helpers for tests that run ``tlsmgm serve``'s TLS server and talk to it: client
certificates, a server config, the server in a thread, and ``handshake``/``inspect`` JSON.

Used by test_serve.py, test_handshake*.py and test_method_policy.py; the ``client_pki``
fixture (conftest.py) is built by ``make_client_pki``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from clirun import run
from pki import Pki

from tlsmgm_cli.core.loader import load_domains
from tlsmgm_cli.core.tls.server import TlsServer, plan_listeners
from tlsmgm_cli.core.x509 import certgen

KEY_IP, KEY_PORT = "10.0.0.10", 5061


@dataclass
class ClientCerts:
    """Client-auth certificates: valid, expired, self-signed, revoked (+ its CRL dir)."""

    valid: certgen.Issued
    expired: certgen.Issued
    self_signed: certgen.Issued
    revoked: certgen.Issued
    crl_dir: Path
    paths: dict[str, tuple[Path, Path]]


def make_client_pki(pki: Pki, d: Path) -> ClientCerts:
    """Client certificates issued by ``pki``'s root, written into ``d`` (the ``client_pki``
    fixture of conftest.py)."""
    now = dt.datetime.now(dt.timezone.utc)
    root = pki.ca.issued
    certs = {
        "valid": certgen.make_cert(root, "valid.client.test", server=False, client=True),
        "expired": certgen.make_cert(root, "expired.client.test", server=False, client=True,
                                     not_before=now - dt.timedelta(days=30), not_after=now - dt.timedelta(days=1)),
        "self_signed": certgen.make_cert(None, "self.client.test", server=False, client=True, self_signed=True),
        "revoked": certgen.make_cert(root, "revoked.client.test", server=False, client=True),
    }
    paths = {name: issued.write(d, name, force=True) for name, issued in certs.items()}
    crl = certgen.make_crl(root, [certs["revoked"].cert.serial_number])
    certgen.write_hashed_crl_dir(d / "crl", [crl])
    return ClientCerts(**certs, crl_dir=d / "crl", paths=paths)


def server_cfg(tmp_path: Path, pki: Pki, client_pki: ClientCerts, extra: str = "") -> Path:
    """Three server domains on 10.0.0.10:5061 (no-SNI, atlanta.com, *.biloxi.com) that all
    verify and require client certificates with CRL checking, plus client domains."""
    lines = ['socket=tls:10.0.0.10:5061', 'loadmodule "proto_tls.so"', 'loadmodule "tls_openssl.so"',
             'loadmodule "tls_mgm.so"']

    def mp(param: str, value: str) -> None:
        lines.append(f'modparam("tls_mgm", "{param}", "{value}")')

    for name, pattern, item in (("nosni", "none", pki.server), ("atl", "atlanta.com", pki.server),
                                ("blx", "*.biloxi.com", pki.server_chain)):
        mp("server_domain", name)
        mp("match_ip_address", f"[{name}]{KEY_IP}:{KEY_PORT}")
        mp("match_sip_domain", f"[{name}]{pattern}")
        mp("certificate", f"[{name}]{item.cert_path}")
        mp("private_key", f"[{name}]{item.key_path}")
        mp("ca_list", f"[{name}]{pki.ca.cert_path}")
        mp("crl_dir", f"[{name}]{client_pki.crl_dir}")
    mp("client_domain", "cli")
    mp("certificate", f"[cli]{client_pki.paths['valid'][0]}")
    mp("private_key", f"[cli]{client_pki.paths['valid'][1]}")
    mp("ca_list", f"[cli]{pki.ca_bundle_path}")
    path = tmp_path / "opensips.cfg"
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


@contextlib.contextmanager
def running_server(cfg: Path, listen: list[str], opensips_version: tuple[int, int, int] = (3, 6, 8)
                   ) -> Iterator[tuple[TlsServer, list[dict], list[int]]]:
    """A TlsServer in a thread: (server, records, bound ports)."""
    domset = load_domains(str(cfg), opensips_version=opensips_version)
    specs, _warnings = plan_listeners(domset, listen)
    records: list[dict] = []
    server = TlsServer(domset, specs, records.append)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll": 0.05}, daemon=True)
    thread.start()
    try:
        yield server, records, [port for _spec, (_host, port) in server.bound]
    finally:
        server.stop()
        thread.join(5)


def wait_record(records: list[dict], count: int, timeout: float = 5.0) -> list[dict]:
    """The connection records once ``count`` of them exist."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        conns = [r for r in records if r.get("event") == "connection"]
        if len(conns) >= count:
            return conns
        time.sleep(0.01)
    raise AssertionError(f"only {records} after {timeout} s")


def handshake_json(*args: str) -> tuple[int, dict]:
    result = run(*["handshake", *args, "--format", "json"])
    assert result.output.strip(), result.output
    return result.exit_code, json.loads(result.stdout)


def inspect_vars(cert_path: Path) -> dict:
    """``tlsmgm inspect --format json`` values for a certificate (as a peer)."""
    result = run(*["inspect", str(cert_path), "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)[0]["vars"]


@contextlib.contextmanager
def accept_loop(handle: Callable[[socket.socket, threading.Event], None]) -> Iterator[int]:
    """A TCP listener on 127.0.0.1 whose every accepted connection goes to
    ``handle(conn, stop)`` in its own thread (``stop`` is set when the block ends; the
    handler owns the connection). Yields the port."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=handle, args=(conn, stop), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        listener.close()
