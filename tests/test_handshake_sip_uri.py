"""``tlsmgm handshake`` takes SIP URIs and host names (issue 14, part 4): resolved as
OpenSIPS resolves them for TLS (NAPTR -> SRV _sips._tcp -> A) against a local DNS
responder (tests/dnsserver.py), then every resulting IP:PORT is handshaked with the client
domain OpenSIPS would pick for it, against a real ``tlsmgm serve`` server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from clirun import run
from dnsserver import DnsServer
from pki import Pki
from tlsserving import running_server, wait_record


def _server_cfg(tmp_path: Path, pki: Pki) -> Path:
    path = tmp_path / "srv.cfg"
    path.write_text(
        'loadmodule "tls_openssl.so"\nloadmodule "tls_mgm.so"\n'
        'modparam("tls_mgm", "server_domain", "srv")\n'
        f'modparam("tls_mgm", "certificate", "[srv]{pki.server.cert_path}")\n'
        f'modparam("tls_mgm", "private_key", "[srv]{pki.server.key_path}")\n'
        'modparam("tls_mgm", "verify_cert", "[srv]0")\n')
    return path


def _client_cfg(tmp_path: Path, pki: Pki, port: int) -> Path:
    """'to-srv' for 127.0.0.1:PORT (verifies the server); 'fallback' for anything else."""
    path = tmp_path / "cli.cfg"
    path.write_text(
        'loadmodule "tls_openssl.so"\nloadmodule "tls_mgm.so"\n'
        'modparam("tls_mgm", "client_domain", "fallback")\n'
        'modparam("tls_mgm", "verify_cert", "[fallback]0")\n'
        'modparam("tls_mgm", "client_domain", "to-srv")\n'
        f'modparam("tls_mgm", "match_ip_address", "[to-srv]127.0.0.1:{port}")\n'
        f'modparam("tls_mgm", "ca_list", "[to-srv]{pki.ca_bundle_path}")\n'
        'modparam("tls_mgm", "verify_cert", "[to-srv]1")\n')
    return path


def _closed_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def _handshake(*args: str) -> tuple[int, object]:
    result = run("handshake", *args, "--format", "json", "--timeout", "3")
    return result.exit_code, json.loads(result.stdout)


def test_sips_uri_srv_to_a_reaches_the_server_with_the_matching_client_domain(tmp_path: Path, pki: Pki) -> None:
    with running_server(_server_cfg(tmp_path, pki), ["127.0.0.1:0"]) as (_server, records, ports):
        port = ports[0]
        zone = {"_sips._tcp.example.test": {"SRV": [f"0 0 {port} sip1.example.test."]},
                "sip1.example.test": {"A": ["127.0.0.1"]}}
        with DnsServer(zone) as dns:
            code, out = _handshake("sips:alice@example.test", "-c", str(_client_cfg(tmp_path, pki, port)),
                                   "--dns-server", dns.address)
            asked = list(dns.queries)
        record = wait_record(records, 1)[0]
    assert code == 0, out
    assert isinstance(out, dict) and out["connected"] and out["error"] is None
    assert out["domain"] == "to-srv"  # matched by the resolved 127.0.0.1:PORT, not the fallback
    assert out["address"] == f"127.0.0.1:{port}"
    assert out["destination"] == {"ip": "127.0.0.1", "port": port, "proto": "tls", "host": "sip1.example.test",
                                  "via": "SRV _sips._tcp.example.test", "weighted": False}
    assert out["verify"]["code"] == 0 and out["vars"]["tls_peer_verified"] == "1"
    assert record["outcome"] == "selected" and record["domain"] == "srv"
    assert ("example.test", "NAPTR") in asked and ("_sips._tcp.example.test", "SRV") in asked
    assert ("_sip._tls.example.test", "SRV") not in asked  # OpenSIPS never asks _sip._tls


def test_every_destination_of_the_failover_is_handshaked_and_reported(tmp_path: Path, pki: Pki) -> None:
    dead = _closed_port()
    with running_server(_server_cfg(tmp_path, pki), ["127.0.0.1:0"]) as (_server, _records, ports):
        port = ports[0]
        zone = {"_sips._tcp.fo.test": {"SRV": [f"10 0 {dead} down.fo.test.", f"20 0 {port} up.fo.test."]},
                "down.fo.test": {"A": ["127.0.0.1"]}, "up.fo.test": {"A": ["127.0.0.1"]}}
        with DnsServer(zone) as dns:
            code, out = _handshake("sips:fo.test", "-c", str(_client_cfg(tmp_path, pki, port)),
                                   "--dns-server", dns.address)
    assert code == 1 and isinstance(out, list) and len(out) == 2
    first, second = out
    assert first["address"] == f"127.0.0.1:{dead}" and first["domain"] == "fallback"
    assert first["error"] == f"connection refused by 127.0.0.1:{dead}"
    assert second["address"] == f"127.0.0.1:{port}" and second["domain"] == "to-srv" and second["connected"]
    assert [d["destination"]["host"] for d in out] == ["down.fo.test", "up.fo.test"]


def test_a_destination_reached_over_udp_is_reported_not_handshaked(tmp_path: Path, pki: Pki) -> None:
    with running_server(_server_cfg(tmp_path, pki), ["127.0.0.1:0"]) as (_server, records, ports):
        zone = {"udp.test": {"NAPTR": ['10 0 "s" "SIP+D2U" "" _sip._udp.udp.test.']},
                "_sip._udp.udp.test": {"SRV": [f"0 0 {ports[0]} h.udp.test."]},
                "h.udp.test": {"A": ["127.0.0.1"]}}
        with DnsServer(zone) as dns:
            code, out = _handshake("sip:udp.test", "-c", str(_client_cfg(tmp_path, pki, ports[0])),
                                   "--dns-server", dns.address)
        assert [r for r in records if r.get("event") == "connection"] == []  # nothing was sent
    assert code == 1 and isinstance(out, dict)
    assert not out["connected"] and out["domain"] is None and out["destination"]["proto"] == "udp"
    assert out["error"].startswith(f"OpenSIPS sends to 127.0.0.1:{ports[0]} over UDP, not TLS")


def test_explain_shows_each_step(tmp_path: Path, pki: Pki) -> None:
    with running_server(_server_cfg(tmp_path, pki), ["127.0.0.1:0"]) as (_server, _records, ports):
        port = ports[0]
        zone = {"ex.test": {"NAPTR": ['10 0 "s" "SIPS+D2T" "" _sips._tcp.ex.test.']},
                "_sips._tcp.ex.test": {"SRV": [f"0 0 {port} sip.ex.test."]}, "sip.ex.test": {"A": ["127.0.0.1"]}}
        with DnsServer(zone) as dns:
            cfg = str(_client_cfg(tmp_path, pki, port))
            text = run("handshake", "sips:ex.test", "-c", cfg, "--dns-server", dns.address, "--explain")
            verbose = run("-v", "handshake", "sips:ex.test", "-c", cfg, "--dns-server", dns.address)
            code, out = _handshake("sips:ex.test", "-c", cfg, "--dns-server", dns.address, "--explain")
    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    assert lines[0] == "resolving sips:ex.test as OpenSIPS does for sending:"
    assert any(line.startswith('  NAPTR ex.test -> 10 0 "s" "SIPS+D2T" "" _sips._tcp.ex.test') for line in lines)
    assert any(line.startswith(f"  SRV _sips._tcp.ex.test -> 0 0 {port} sip.ex.test") for line in lines)
    assert any(line.startswith("  A sip.ex.test -> 127.0.0.1") for line in lines)
    assert f"  127.0.0.1:{port} TLS (sip.ex.test, SRV _sips._tcp.ex.test)" in lines
    assert any(line.startswith(f"handshake with sips:ex.test (127.0.0.1:{port}), client domain [to-srv]")
               for line in lines)
    assert verbose.exit_code == 0 and verbose.stdout.startswith("resolving sips:ex.test")
    assert code == 0 and isinstance(out, dict)
    queries = [s["query"] for s in out["resolution"]["steps"] if s["query"]]
    assert queries == ["NAPTR ex.test", "SRV _sips._tcp.ex.test", "A sip.ex.test"]


def test_dns_server_that_is_not_an_address_is_a_usage_error() -> None:
    result = run("handshake", "sips:example.test", "--dns-server", "not-an-ip", "--no-verify")
    assert result.exit_code == 2
    assert "Invalid value for --dns-server: DNS resolver 'not-an-ip' is not an IP address" in result.output


def test_unresolvable_sip_uri_is_a_failure_not_a_crash() -> None:
    with DnsServer({}) as dns:
        code, out = _handshake("sips:nowhere.test", "--no-verify", "--dns-server", dns.address)
    assert code == 1 and isinstance(out, dict) and not out["connected"]
    assert out["error"].startswith("cannot resolve 'nowhere.test'")


def test_explain_escapes_control_characters_from_dns() -> None:
    """A NAPTR service holding ESC (from a hostile zone) is shown escaped, never sent raw."""
    zone = {"evil.test": {"NAPTR": ['10 0 "s" "SIPS+D2T\\027]0;owned\\007" "" _sips._tcp.evil.test.']}}
    with DnsServer(zone) as dns:
        result = run("handshake", "sips:evil.test", "--no-verify", "--dns-server", dns.address, "--explain",
                     "--timeout", "2")
    assert result.exit_code == 1
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "SIPS+D2T\\x1b]0;owned\\x07" in result.stdout
