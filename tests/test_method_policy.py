"""TLS407 (issue 11): a domain whose tls_method range completes no handshake under the
local OpenSSL's security policy is an error of ``check``, found by really trying, and
the claim holds against a real server built from the same config."""

from __future__ import annotations

import json
import socket
import ssl
import warnings
from pathlib import Path

import pytest
from clirun import run
from pki import Pki
from tlsserving import running_server


def _config(tmp_path: Path, pki: Pki, method: str, ciphers: str | None = None, side: str = "server") -> Path:
    text = ('loadmodule "tls_openssl.so"\nloadmodule "tls_mgm.so"\nloadmodule "proto_tls.so"\n'
            'socket = tls:127.0.0.1:5061\n'
            f'modparam("tls_mgm", "{side}_domain", "dom1")\n'
            f'modparam("tls_mgm", "tls_method", "[dom1]{method}")\n'
            f'modparam("tls_mgm", "certificate", "[dom1]{pki.server.cert_path}")\n'
            f'modparam("tls_mgm", "private_key", "[dom1]{pki.server.key_path}")\n'
            f'modparam("tls_mgm", "ca_list", "[dom1]{pki.ca_bundle_path}")\n'
            'modparam("tls_mgm", "verify_cert", "[dom1]0")\n'
            'modparam("tls_mgm", "require_cert", "[dom1]0")\n')
    if side == "server":
        text += 'modparam("tls_mgm", "match_ip_address", "[dom1]127.0.0.1:5061")\n'
    if ciphers is not None:
        text += f'modparam("tls_mgm", "ciphers_list", "[dom1]{ciphers}")\n'
    path = tmp_path / "opensips.cfg"
    path.write_text(text)
    return path


def _tls407(cfg: Path) -> tuple[int, list[dict]]:
    result = run("check", "-c", str(cfg), "-f", "json")
    data = json.loads(result.stdout)
    return result.exit_code, [f for f in data["findings"] if f["rule"] == "TLS407"]


def _tls10_refused_here() -> bool:
    """Whether the local OpenSSL's default policy refuses TLS 1.0 (OpenSSL 3 at level >= 1)."""
    from tlsmgm_cli.core.tls.context import probe_method_policy

    return not probe_method_policy("TLSv1", None, "server").ok


@pytest.mark.parametrize("side", ["server", "client"])
def test_tls10_only_domain_is_an_error(tmp_path: Path, pki: Pki, side: str) -> None:
    if not _tls10_refused_here():
        pytest.skip(f"{ssl.OPENSSL_VERSION} allows TLS 1.0 at its default security level")
    code, found = _tls407(_config(tmp_path, pki, "tlsv1", side=side))
    assert code == 1
    assert len(found) == 1 and found[0]["severity"] == "error" and found[0]["domain"] == "dom1"
    message = found[0]["message"]
    assert ssl.OPENSSL_VERSION in message and "security level" in message
    assert "checked against the OpenSSL tlsmgm runs with" in message
    assert "TLSv1_2-TLSv1_3" in message and "@SECLEVEL=0" in message
    assert found[0]["stops_start"] is False  # OpenSIPS starts; its handshakes fail


def test_the_claim_holds_against_a_real_server(tmp_path: Path, pki: Pki) -> None:
    """The server built from the same domain fails even a maximally permissive client."""
    if not _tls10_refused_here():
        pytest.skip(f"{ssl.OPENSSL_VERSION} allows TLS 1.0 at its default security level")
    cfg = _config(tmp_path, pki, "tlsv1")
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        client.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    client.set_ciphers("ALL:@SECLEVEL=0")
    with running_server(cfg, ["127.0.0.1:5061=127.0.0.1:0"]) as (_server, _records, ports):
        with socket.create_connection(("127.0.0.1", ports[0]), timeout=5) as raw:
            with pytest.raises(ssl.SSLError):
                client.wrap_socket(raw).close()
    _code, found = _tls407(cfg)
    assert found


def test_only_ranges_that_cannot_shake_hands_are_errors(tmp_path: Path, pki: Pki) -> None:
    if not _tls10_refused_here():
        pytest.skip(f"{ssl.OPENSSL_VERSION} allows TLS 1.0 at its default security level")
    verdicts = {}
    for method, ciphers in (("tlsv1", None), ("TLSv1-TLSv1_3", None), ("TLSv1_2", None),
                            ("tlsv1", "DEFAULT:@SECLEVEL=0")):
        _code, found = _tls407(_config(tmp_path, pki, method, ciphers))
        verdicts[(method, ciphers)] = bool(found)
    assert verdicts == {("tlsv1", None): True, ("TLSv1-TLSv1_3", None): False, ("TLSv1_2", None): False,
                        ("tlsv1", "DEFAULT:@SECLEVEL=0"): False}


def test_the_probe_is_cached_per_range_and_ciphers() -> None:
    from tlsmgm_cli.core.tls.context import probe_method_policy

    probe_method_policy.cache_clear()
    first = probe_method_policy("TLSv1", "DEFAULT", "server")
    again = probe_method_policy("TLSv1", "DEFAULT", "server")
    assert first is again and probe_method_policy.cache_info().hits == 1
    assert first.openssl == ssl.OPENSSL_VERSION


def test_a_domain_reached_only_by_sni_is_not_flagged(tmp_path: Path, pki: Pki) -> None:
    """The initial domain's tls_method governs the handshake (behaviour §6.11): a TLS 1.0-only
    domain that no listener starts with completes its handshakes, so no TLS407; a real
    server built from the config proves it."""
    if not _tls10_refused_here():
        pytest.skip(f"{ssl.OPENSSL_VERSION} allows TLS 1.0 at its default security level")
    cfg = _config(tmp_path, pki, "tlsv1")
    cfg.write_text(cfg.read_text() + (
        'modparam("tls_mgm", "match_sip_domain", "[dom1]sni.example.com")\n'
        'modparam("tls_mgm", "server_domain", "first")\n'
        'modparam("tls_mgm", "match_ip_address", "[first]127.0.0.1:5061")\n'
        'modparam("tls_mgm", "match_sip_domain", "[first]none")\n'
        f'modparam("tls_mgm", "certificate", "[first]{pki.server.cert_path}")\n'
        f'modparam("tls_mgm", "private_key", "[first]{pki.server.key_path}")\n'
        'modparam("tls_mgm", "verify_cert", "[first]0")\n'
        'modparam("tls_mgm", "require_cert", "[first]0")\n'
        'modparam("tls_mgm", "tls_method", "[first]TLSv1_2-TLSv1_3")\n'))
    code, found = _tls407(cfg)
    assert found == [] and code == 0
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    with running_server(cfg, ["127.0.0.1:5061=127.0.0.1:0"]) as (_server, records, ports):
        with socket.create_connection(("127.0.0.1", ports[0]), timeout=5) as raw:
            with client.wrap_socket(raw, server_hostname="sni.example.com") as tls:
                assert tls.version() in ("TLSv1.2", "TLSv1.3")
    # the same domain as the listener's initial domain is flagged again
    code, found = _tls407(_config(tmp_path, pki, "tlsv1"))
    assert code == 1 and len(found) == 1
