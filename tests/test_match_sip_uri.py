"""``match --client --dest`` takes what OpenSIPS relays to (issue 14, part 4): sip:/sips: URIs
and host names, resolved as OpenSIPS 3.6.8 resolves them for TLS (NAPTR -> SRV _sips._tcp
-> A/AAAA; an explicit port skips NAPTR and SRV) against a local DNS responder
(tests/dnsserver.py); every resulting IP:PORT is matched and gets its own client domain."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clirun import run
from dnsserver import DnsServer

from tlsmgm_cli import exitcodes

ZONE = {
    "example.test": {"NAPTR": ['10 0 "s" "SIPS+D2T" "" _sips._tcp.example.test.']},
    "_sips._tcp.example.test": {"SRV": ["0 0 5061 a.example.test.", "1 0 5062 b.example.test."]},
    "a.example.test": {"A": ["127.0.0.1"]},
    "b.example.test": {"A": ["127.0.0.2"], "AAAA": ["::1"]},
    "plain.test": {"A": ["127.0.0.3"]},
}


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    """'to-a' for 127.0.0.1:5061; 'fallback' for any other destination."""
    path = tmp_path / "o.cfg"
    path.write_text(
        'loadmodule "tls_openssl.so"\nloadmodule "tls_mgm.so"\n'
        'modparam("tls_mgm", "client_domain", "fallback")\n'
        'modparam("tls_mgm", "verify_cert", "[fallback]0")\n'
        'modparam("tls_mgm", "client_domain", "to-a")\n'
        'modparam("tls_mgm", "match_ip_address", "[to-a]127.0.0.1:5061")\n'
        'modparam("tls_mgm", "verify_cert", "[to-a]0")\n')
    return path


@pytest.fixture
def dns():
    with DnsServer(ZONE) as server:
        yield server


def _match(cfg: Path, dns: DnsServer, *args: str):
    return run("match", "--no-db", "-c", str(cfg), "--client", "--dns-server", dns.address, *args)


def test_sips_uri_naptr_srv_a_every_destination_gets_its_client_domain(cfg: Path, dns: DnsServer) -> None:
    result = _match(cfg, dns, "--dest", "sips:alice@example.test", "-f", "json")
    assert result.exit_code == exitcodes.OK, result.output
    doc = json.loads(result.stdout)
    assert [(r["socket"], r["domain"], r["outcome"]) for r in doc["results"]] == [
        ("127.0.0.1:5061", "to-a", "selected"), ("127.0.0.2:5062", "fallback", "selected")]
    assert doc["results"][0]["destination"] == {"ip": "127.0.0.1", "port": 5061, "proto": "tls",
                                                "host": "a.example.test", "via": "SRV _sips._tcp.example.test",
                                                "weighted": False}
    assert doc["error"] is None and "steps" not in doc["resolution"]  # steps only with --explain
    assert ("example.test", "NAPTR") in dns.queries and ("_sips._tcp.example.test", "SRV") in dns.queries
    text = _match(cfg, dns, "--dest", "sips:alice@example.test").stdout.splitlines()
    assert text[0].startswith("client -> 127.0.0.1:5061  no SIP-domain AVP  ->  to-a  (any '*'")
    assert text[1] == "  destination: a.example.test via SRV _sips._tcp.example.test"
    assert text[2].startswith("client -> 127.0.0.2:5062  no SIP-domain AVP  ->  fallback")


def test_explain_shows_each_dns_step(cfg: Path, dns: DnsServer) -> None:
    text = _match(cfg, dns, "--dest", "sips:example.test", "--explain").stdout
    assert text.startswith("resolving sips:example.test as OpenSIPS does for sending:\n")
    assert "  SRV _sips._tcp.example.test -> 0 0 5061 a.example.test; 1 0 5062 b.example.test" in text
    assert "address key used: '127.0.0.1:5061'" in text  # the match explanation too
    doc = json.loads(_match(cfg, dns, "--dest", "sips:example.test", "--explain", "-f", "json").stdout)
    queries = [s["query"] for s in doc["resolution"]["steps"] if s["query"]]
    assert queries == ["NAPTR example.test", "SRV _sips._tcp.example.test", "A a.example.test", "A b.example.test"]
    assert all("explain" in r for r in doc["results"])


def test_explicit_port_skips_naptr_and_srv_and_ipv6_is_asked_first(cfg: Path, dns: DnsServer) -> None:
    doc = json.loads(_match(cfg, dns, "--dest", "sips:b.example.test:5070", "-f", "json").stdout)
    assert [(r["socket"], r["domain"]) for r in doc["results"]] == [("127.0.0.2:5070", "fallback")]
    assert dns.queries == [("b.example.test", "A")]
    v6 = json.loads(_match(cfg, dns, "--dest", "sips:b.example.test:5070", "--dns-try-ipv6", "-f", "json").stdout)
    assert [r["socket"] for r in v6["results"]] == ["[::1]:5070"]


def test_a_bare_host_is_a_tls_destination_on_the_default_port(cfg: Path, dns: DnsServer) -> None:
    doc = json.loads(_match(cfg, dns, "--dest", "plain.test", "--sip-domain", "x", "-f", "json").stdout)
    assert [(r["socket"], r["sip_domain"], r["domain"]) for r in doc["results"]] == [
        ("127.0.0.3:5061", "x", "fallback")]
    assert ("_sips._tcp.plain.test", "SRV") in dns.queries and ("plain.test", "NAPTR") not in dns.queries


def test_no_tls_destination_or_no_answer_exits_problems(cfg: Path, dns: DnsServer) -> None:
    udp = _match(cfg, dns, "--dest", "sip:plain.test:5070")
    assert udp.exit_code == exitcodes.PROBLEMS
    assert "127.0.0.3:5070  ->  OpenSIPS sends over UDP, not TLS: no client TLS domain applies" in udp.stdout
    missing = _match(cfg, dns, "--dest", "sips:nowhere.test", "-f", "json")
    assert missing.exit_code == exitcodes.PROBLEMS
    doc = json.loads(missing.stdout)
    assert doc["results"] == [] and "cannot resolve 'nowhere.test': NXDOMAIN" in doc["error"]


def test_an_ip_port_dest_is_matched_as_before_without_dns(cfg: Path, dns: DnsServer) -> None:
    doc = json.loads(_match(cfg, dns, "--dest", "127.0.0.1:5061", "-f", "json").stdout)
    assert list(doc) == ["results"] and "destination" not in doc["results"][0]
    assert doc["results"][0]["domain"] == "to-a" and dns.queries == []


def test_usage_errors(cfg: Path, dns: DnsServer) -> None:
    no_dest = run("match", "--no-db", "-c", str(cfg), "--client", "--tls-domain", "to-a", "--dns-server", dns.address)
    assert no_dest.exit_code == exitcodes.USAGE and "--dns-server and --dns-try-ipv6 resolve --dest" in no_dest.stderr
    bad_server = run("match", "--no-db", "-c", str(cfg), "--client", "--dest", "sips:example.test",
                     "--dns-server", "not-an-ip")
    assert bad_server.exit_code == exitcodes.USAGE and "--dns-server" in bad_server.stderr
    bad_dest = _match(cfg, dns, "--dest", "sips:exa mple.test")
    assert bad_dest.exit_code == exitcodes.USAGE and "--dest" in bad_dest.stderr
    hostile = _match(cfg, dns, "--dest", "sips:\x1b[2Jx.test")
    assert hostile.exit_code == exitcodes.USAGE and "\x1b" not in hostile.stderr
