"""``tlsmgm handshake``: verify flags as OpenSIPS sets them, and every failure path with
a clear message and exit 1 within the timeout (real sockets on 127.0.0.1)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from clirun import run
from pki import Pki
from tlsserving import handshake_json, inspect_vars, running_server

from tlsmgm_cli.core.tls.handshake import alert_name, split_target


def _single_domain_cfg(tmp_path: Path, cert: Path, key: Path, sni_pattern: str = "*") -> Path:
    """One server domain (no client verification) serving ``cert`` for ``sni_pattern``."""
    path = tmp_path / "srv.cfg"
    path.write_text(
        'loadmodule "tls_openssl.so"\nloadmodule "tls_mgm.so"\n'
        'modparam("tls_mgm", "server_domain", "only")\n'
        f'modparam("tls_mgm", "certificate", "[only]{cert}")\n'
        f'modparam("tls_mgm", "private_key", "[only]{key}")\n'
        'modparam("tls_mgm", "verify_cert", "[only]0")\n'
        f'modparam("tls_mgm", "match_sip_domain", "[only]{sni_pattern}")\n')
    return path


def _client_cfg(tmp_path: Path, pki: Pki, verify: int, crl_dir: Path | None) -> Path:
    path = tmp_path / "cli.cfg"
    text = ('loadmodule "tls_openssl.so"\nloadmodule "tls_mgm.so"\n'
            'modparam("tls_mgm", "client_domain", "out")\n'
            f'modparam("tls_mgm", "ca_list", "[out]{pki.ca_bundle_path}")\n'
            f'modparam("tls_mgm", "verify_cert", "[out]{verify}")\n')
    if crl_dir:
        text += f'modparam("tls_mgm", "crl_dir", "[out]{crl_dir}")\n'
    path.write_text(text)
    return path


@pytest.mark.parametrize("which, flag", [
    ("expired", "tls_peer_expired"), ("self_signed", "tls_peer_selfsigned"), ("revoked", "tls_peer_revoked"),
    ("server", "tls_peer_verified"),
])
def test_verify_cert_0_client_evaluates_without_enforcing(tmp_path: Path, pki: Pki, which: str, flag: str) -> None:
    item = getattr(pki, which)
    srv = _single_domain_cfg(tmp_path, item.cert_path, item.key_path)
    cli_cfg = _client_cfg(tmp_path, pki, 0, pki.revoked.crl_dir)
    with running_server(srv, ["127.0.0.1:0"]) as (_server, _records, ports):
        code, out = handshake_json(f"127.0.0.1:{ports[0]}", "-c", str(cli_cfg))
    assert code == 0 and out["connected"] and out["domain"] == "out"
    flags = {k: out["vars"][k] for k in ("tls_peer_verified", "tls_peer_revoked", "tls_peer_expired",
                                         "tls_peer_selfsigned")}
    assert flags == {k: "1" if k == flag else "0" for k in flags}
    assert out["verify"]["enforced"] is False
    expected = inspect_vars(item.cert_path)
    for name, value in out["vars"].items():
        if name.startswith("tls_peer_") and name not in flags:
            assert value == expected[name], name


@pytest.mark.parametrize("which, words", [
    ("expired", "certificate has expired"), ("self_signed", "self-signed certificate"),
    ("revoked", "certificate revoked"),
])
def test_certificate_failing_verification(tmp_path: Path, pki: Pki, which: str, words: str) -> None:
    item = getattr(pki, which)
    srv = _single_domain_cfg(tmp_path, item.cert_path, item.key_path)
    cli_cfg = _client_cfg(tmp_path, pki, 1, pki.revoked.crl_dir)
    with running_server(srv, ["127.0.0.1:0"]) as (_server, _records, ports):
        code, out = handshake_json(f"127.0.0.1:{ports[0]}", "-c", str(cli_cfg))
    assert code == 1 and not out["connected"] and out["vars"] == {}
    assert out["error"].startswith("certificate verify failed: ") and words in out["error"]
    assert out["chain"] and out["chain"][0]["subject"] == inspect_vars(item.cert_path)["tls_peer_subject"]


def test_server_that_never_speaks(pki: Pki) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True).start()
    started = time.monotonic()
    code, out = handshake_json(f"127.0.0.1:{listener.getsockname()[1]}", "--ca", str(pki.ca.cert_path),
                               "--timeout", "0.5")
    elapsed = time.monotonic() - started
    listener.close()
    for conn in accepted:
        conn.close()
    assert code == 1 and not out["connected"]
    assert out["error"].startswith("no TLS answer from 127.0.0.1:") and "within 0.5 s" in out["error"]
    assert 0.4 < elapsed < 3


def test_refused_port() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there any more
    code, out = handshake_json(f"127.0.0.1:{port}", "--no-verify", "--timeout", "2")
    assert code == 1 and out["error"] == f"connection refused by 127.0.0.1:{port}"


def test_name_that_does_not_resolve() -> None:
    started = time.monotonic()
    code, out = handshake_json("sip.tlsmgm-test.invalid:5061", "--no-verify", "--timeout", "2")
    assert code == 1 and out["error"].startswith("cannot resolve 'sip.tlsmgm-test.invalid'")
    assert time.monotonic() - started < 10


def test_unrecognized_name(tmp_path: Path, pki: Pki) -> None:
    srv = _single_domain_cfg(tmp_path, pki.server.cert_path, pki.server.key_path, "atlanta.com")
    with running_server(srv, ["127.0.0.1:0"]) as (_server, _records, ports):
        code, out = handshake_json(f"127.0.0.1:{ports[0]}", "--no-verify", "--sni", "evil.example")
    assert code == 1 and out["error"] == "the peer sent TLS alert unrecognized_name (112)"


def test_no_client_domain_for_destination(tmp_path: Path, pki: Pki) -> None:
    cfg = tmp_path / "c.cfg"
    cfg.write_text('loadmodule "tls_openssl.so"\nloadmodule "tls_mgm.so"\n'
                   'modparam("tls_mgm", "client_domain", "pinned")\n'
                   'modparam("tls_mgm", "match_ip_address", "[pinned]127.0.0.1:1")\n'
                   'modparam("tls_mgm", "match_sip_domain", "[pinned]biloxi.com")\n')
    code, out = handshake_json("127.0.0.1:1", "-c", str(cfg))
    assert code == 1 and out["domain"] is None and "no TLS client domain found" in out["error"]
    code, out = handshake_json("127.0.0.1:1", "-c", str(cfg), "--tls-domain", "Pinned")
    assert code == 1 and "no client domain has that" in out["error"]


def test_repeat_reports_each_handshake(tmp_path: Path, pki: Pki) -> None:
    srv = _single_domain_cfg(tmp_path, pki.server.cert_path, pki.server.key_path)
    with running_server(srv, ["127.0.0.1:0"]) as (_server, records, ports):
        code, out = handshake_json(f"127.0.0.1:{ports[0]}", "--ca", str(pki.ca.cert_path), "--repeat", "5")
    assert code == 0 and len(out) == 5 and all(r["connected"] for r in out)
    assert len([r for r in records if r.get("event") == "connection"]) == 5


def test_whole_process_text_output(tmp_path: Path, pki: Pki) -> None:
    srv = _single_domain_cfg(tmp_path, pki.server.cert_path, pki.server.key_path)
    with running_server(srv, ["127.0.0.1:0"]) as (_server, _records, ports):
        done = subprocess.run([sys.executable, "-m", "tlsmgm_cli", "handshake", f"127.0.0.1:{ports[0]}",
                               "--ca", str(pki.ca.cert_path), "--sip-options"],
                              capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "SIP OPTIONS reply: SIP/2.0 200 OK" in done.stdout
    assert "$tls_peer_subject = '/CN=atlanta.com'" in done.stdout
    assert "$tls_my_subject = <null>" in done.stdout  # no client certificate


def test_yaml_format(tmp_path: Path, pki: Pki) -> None:
    import yaml


    srv = _single_domain_cfg(tmp_path, pki.server.cert_path, pki.server.key_path)
    with running_server(srv, ["127.0.0.1:0"]) as (_server, _records, ports):
        result = run(*["handshake", f"127.0.0.1:{ports[0]}", "--no-verify", "-f", "yaml"])
    data = yaml.safe_load(result.stdout)
    assert result.exit_code == 0 and data["connected"] is True and data["vars"]["tls_peer_verified"] == "0"
    assert json.dumps(data)  # plain data only


@pytest.mark.parametrize("text, expected", [
    ("sip.example.com:5061", ("sip.example.com", 5061)), ("[::1]:5061", ("::1", 5061)),
    ("10.0.0.1:1", ("10.0.0.1", 1)),
])
def test_split_target(text: str, expected: tuple[str, int]) -> None:
    assert split_target(text) == expected


@pytest.mark.parametrize("text", ["host", "host:0", "host:x", "::1:5061", ":5061", "[::1]5061"])
def test_split_target_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        split_target(text)


def test_bad_target_is_a_usage_error() -> None:


    result = run(*["handshake", "host.example:99999"])
    assert result.exit_code == 2 and "'99999' is not a number from 1 to 65535" in result.output


@pytest.mark.parametrize("reason, name", [
    ("TLSV1_UNRECOGNIZED_NAME", "unrecognized_name"), ("SSLV3_ALERT_HANDSHAKE_FAILURE", "handshake_failure"),
    ("TLSV13_ALERT_CERTIFICATE_REQUIRED", "certificate_required"), ("TLSV1_ALERT_UNKNOWN_CA", "unknown_ca"),
    ("WRONG_VERSION_NUMBER", None), (None, None),
])
def test_alert_name(reason: str | None, name: str | None) -> None:
    assert alert_name(reason) == name
