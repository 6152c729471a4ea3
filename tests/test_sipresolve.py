"""SIP destinations resolved like OpenSIPS 3.6.8 (resolve.c sip_resolvehost, RFC 3263), against
a local DNS responder started by each test (tests/dnsserver.py), never the public internet."""

from __future__ import annotations

import json
import random
import time
from collections import Counter

import pytest
from dnsserver import DnsServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlsmgm_cli import exitcodes
from tlsmgm_cli.core.errors import TlsmgmError
from tlsmgm_cli.core.limits import DNS_MAX_QUERIES, DNS_TIMEOUT_S, LIMITS
from tlsmgm_cli.core.net.sipresolve import parse_sip_target, resolve_sip_destination

ZONE = {
    "example.com": {
        "NAPTR": ['20 0 "s" "SIP+D2U" "" _sip._udp.example.com.',
                  '10 0 "s" "SIPS+D2T" "" _sips._tcp.example.com.',
                  '15 0 "s" "SIP+D2T" "" _sip._tcp.example.com.',
                  # never used: SIPS over UDP, flag "a", a regexp, SIP+D2W (not U/T/S)
                  '5 0 "s" "SIPS+D2U" "" _sips._udp.example.com.',
                  '6 0 "a" "SIPS+D2T" "" _sips._udp.example.com.',
                  '7 0 "s" "SIPS+D2T" "!^.*$!sip:x@b.example.com!" _sips._udp.example.com.',
                  '8 0 "s" "SIP+D2W" "" _sips._udp.example.com.'],
        "A": ["192.0.2.1"],
    },
    "_sips._tcp.example.com": {"SRV": ["20 0 5071 b.example.com.", "10 0 5061 a.example.com."]},
    "_sips._udp.example.com": {"SRV": ["0 0 5999 b.example.com."]},
    "_sip._tcp.example.com": {"SRV": ["0 0 5060 c.example.com."]},
    "_sip._udp.example.com": {"SRV": ["0 0 5060 c.example.com."]},
    "a.example.com": {"A": ["192.0.2.10", "192.0.2.11"], "AAAA": ["2001:db8::10"]},
    "b.example.com": {"A": ["192.0.2.20"]},
    "c.example.com": {"A": ["192.0.2.30"]},
    # SRV only (no NAPTR)
    "srvonly.test": {"A": ["198.51.100.1"]},
    "_sips._tcp.srvonly.test": {"SRV": ["0 0 5062 a.example.com."]},
    "_sip._tls.srvonly.test": {"SRV": ["0 0 5099 b.example.com."]},   # OpenSIPS never asks this
    "_sip._udp.srvonly.test": {"SRV": ["0 0 5060 c.example.com."]},
    # A only
    "aonly.test": {"A": ["198.51.100.2"]},
    "v6.test": {"A": ["198.51.100.3"], "AAAA": ["2001:db8::3", "2001:db8::4"]},
}


def pairs(res):
    return [(d.ip, d.port, d.proto) for d in res.destinations]


@pytest.fixture
def dns():
    with DnsServer(ZONE) as server:
        yield server


def resolve(server, target, **kw):
    return resolve_sip_destination(target, resolver_address=server.address, timeout=2, **kw)


# ------------------------------------------------------------------------- RFC 3263 paths


def test_sips_naptr_then_srv_then_a_keeps_only_sips_services(dns):
    res = resolve(dns, "sips:alice@example.com")
    assert res.ok and res.error is None
    # NAPTR -> the SIPS+D2T replacement -> SRV by priority (a before b) -> A; every address of a
    assert pairs(res) == [("192.0.2.10", 5061, "tls"), ("192.0.2.11", 5061, "tls"), ("192.0.2.20", 5071, "tls")]
    queries = [s.query for s in res.steps if s.query]
    assert queries[:3] == ["NAPTR example.com", "SRV _sips._tcp.example.com", "A a.example.com"]
    naptr = next(s for s in res.steps if s.query == "NAPTR example.com")
    assert "SIP+D2U skipped" in naptr.decision and "SIP+D2T skipped" in naptr.decision
    assert "SIPS+D2U skipped: SIPS over UDP" in naptr.decision
    assert "_sips._udp.example.com" not in dns.asked("SRV")
    # a sips: URI never falls to the SIP+ NAPTRs
    assert "_sip._udp.example.com" not in dns.asked("SRV") and "_sip._tcp.example.com" not in dns.asked("SRV")
    assert res.destinations[0].via == "SRV _sips._tcp.example.com"


def test_sip_uri_takes_every_naptr_service_in_order(dns):
    res = resolve(dns, "sip:example.com")
    # order 10 SIPS+D2T (TLS), then 15 SIP+D2T (TCP), then 20 SIP+D2U (UDP)
    assert pairs(res) == [("192.0.2.10", 5061, "tls"), ("192.0.2.11", 5061, "tls"), ("192.0.2.20", 5071, "tls"),
                          ("192.0.2.30", 5060, "tcp"), ("192.0.2.30", 5060, "udp")]
    assert [d.ip for d in res.tls_destinations] == ["192.0.2.10", "192.0.2.11", "192.0.2.20"]
    assert "_sips._udp.example.com" not in dns.asked("SRV")


def test_sip_uri_without_naptr_is_udp_not_tls(dns):
    res = resolve(dns, "sip:srvonly.test")
    assert dns.asked("NAPTR") == ["srvonly.test"]
    assert dns.asked("SRV") == ["_sip._udp.srvonly.test"]
    assert pairs(res) == [("192.0.2.30", 5060, "udp")]
    assert res.tls_destinations == []
    assert "not TLS" in res.steps[-1].decision


def test_dns_try_naptr_off_goes_straight_to_srv(dns):
    res = resolve(dns, "sips:example.com", try_naptr=False)
    assert dns.asked("NAPTR") == [] and dns.asked("SRV") == ["_sips._tcp.example.com"]
    assert res.destinations[0].ip == "192.0.2.10"
    assert pairs(resolve(dns, "sip:srvonly.test", try_naptr=False)) == [("192.0.2.30", 5060, "udp")]
    assert dns.asked("NAPTR") == []


def test_srv_only_sips_asks_sips_tcp_never_sip_tls(dns):
    res = resolve(dns, "sips:srvonly.test")
    assert dns.asked("SRV") == ["_sips._tcp.srvonly.test"]
    assert "_sip._tls.srvonly.test" not in dns.asked("SRV")
    assert pairs(res) == [("192.0.2.10", 5062, "tls"), ("192.0.2.11", 5062, "tls")]


def test_a_only_default_tls_port(dns):
    res = resolve(dns, "sips:aonly.test")
    assert dns.asked("NAPTR") == ["aonly.test"] and dns.asked("SRV") == ["_sips._tcp.aonly.test"]
    assert pairs(res) == [("198.51.100.2", 5061, "tls")]
    assert res.destinations[0].via == "A aonly.test"


def test_explicit_port_skips_naptr_and_srv(dns):
    res = resolve(dns, "sips:example.com:5080")
    assert dns.asked("NAPTR") == [] and dns.asked("SRV") == []
    assert dns.asked("A") == ["example.com"]
    assert pairs(res) == [("192.0.2.1", 5080, "tls")]
    assert "explicit port 5080" in res.steps[0].decision


def test_explicit_port_on_a_sip_uri_without_transport_is_udp(dns):
    res = resolve(dns, "sip:example.com:5061")
    assert pairs(res) == [("192.0.2.1", 5061, "udp")]
    assert res.tls_destinations == []


def test_port_given_apart_is_an_explicit_port(dns):
    res = resolve(dns, "sips:example.com", port=5090)
    assert dns.asked("SRV") == [] and pairs(res) == [("192.0.2.1", 5090, "tls")]
    with pytest.raises(TlsmgmError):
        resolve(dns, "sips:example.com:5091", port=5090)


def test_ip_literals_need_no_dns():
    with DnsServer({}, silent=True) as server:
        assert pairs(resolve(server, "sips:10.0.0.1")) == [("10.0.0.1", 5061, "tls")]
        assert pairs(resolve(server, "sip:10.0.0.1")) == [("10.0.0.1", 5060, "udp")]
        assert pairs(resolve(server, "10.0.0.1")) == [("10.0.0.1", 5061, "tls")]
        assert pairs(resolve(server, "10.0.0.1:5070")) == [("10.0.0.1", 5070, "tls")]
        assert pairs(resolve(server, "sips:bob@[2001:db8::1]:5071")) == [("2001:DB8:0:0:0:0:0:1", 5071, "tls")]
        assert pairs(resolve(server, "2001:db8::1")) == [("2001:DB8:0:0:0:0:0:1", 5061, "tls")]
        assert server.queries == []


def test_transport_tls_skips_naptr_unlike_sips(dns):
    res = resolve(dns, "sip:example.com;transport=TLS")
    assert dns.asked("NAPTR") == []
    assert dns.asked("SRV") == ["_sips._tcp.example.com"]
    assert pairs(res) == [("192.0.2.10", 5061, "tls"), ("192.0.2.11", 5061, "tls"), ("192.0.2.20", 5071, "tls")]
    sips = resolve(dns, "sips:example.com")
    assert dns.asked("NAPTR") == ["example.com"]
    assert pairs(sips) == pairs(res)


def test_bare_host_and_tls_prefix_are_tls_destinations(dns):
    assert pairs(resolve(dns, "srvonly.test")) == [("192.0.2.10", 5062, "tls"), ("192.0.2.11", 5062, "tls")]
    assert pairs(resolve(dns, "tls:aonly.test:5099")) == [("198.51.100.2", 5099, "tls")]
    assert dns.asked("NAPTR") == []


def test_maddr_is_resolved_instead_of_the_host(dns):
    res = resolve(dns, "sip:bob@nowhere.invalid;maddr=aonly.test;transport=tls")
    assert pairs(res) == [("198.51.100.2", 5061, "tls")]
    assert "nowhere.invalid" not in {n for n, _ in dns.queries}


# ------------------------------------------------------------------------- SRV ordering


def test_srv_priority_order_and_unresolvable_target_skipped():
    zone = {"_sips._tcp.prio.test": {"SRV": ["30 0 5063 t3.prio.test.", "10 0 5061 gone.prio.test.",
                                            "20 0 5062 t2.prio.test.", "40 0 5064 ."]},
            "t2.prio.test": {"A": ["203.0.113.2"]}, "t3.prio.test": {"A": ["203.0.113.3"]}}
    with DnsServer(zone) as server:
        res = resolve(server, "sips:prio.test")
    # priority 10 does not resolve: skipped; then 20, then 30; the '.' target is no service
    assert pairs(res) == [("203.0.113.2", 5062, "tls"), ("203.0.113.3", 5063, "tls")]
    srv = next(s for s in res.steps if s.query == "SRV _sips._tcp.prio.test")
    assert [a.split()[0] for a in srv.answer] == ["10", "20", "30", "40"]
    assert any("does not resolve" in s.decision for s in res.steps if s.query == "A gone.prio.test")
    assert not any(d.weighted for d in res.destinations)


def test_equal_priority_srv_weighted_random_like_opensips():
    zone = {"_sips._tcp.w.test": {"SRV": ["10 90 5062 heavy.w.test.", "10 10 5061 light.w.test.",
                                         "5 0 5060 first.w.test."]},
            "light.w.test": {"A": ["203.0.113.1"]}, "heavy.w.test": {"A": ["203.0.113.9"]},
            "first.w.test": {"A": ["203.0.113.5"]}}
    with DnsServer(zone) as server:
        likely = resolve(server, "sips:w.test")
        # without rng: the most likely order, marked as weighted
        assert pairs(likely) == [("203.0.113.5", 5060, "tls"), ("203.0.113.9", 5062, "tls"),
                                 ("203.0.113.1", 5061, "tls")]
        assert [d.weighted for d in likely.destinations] == [False, True, True]
        firsts = Counter()
        for seed in range(120):
            res = resolve(server, "sips:w.test", rng=random.Random(seed))
            assert res.destinations[0].ip == "203.0.113.5"          # lower priority value always first
            assert sorted(d.ip for d in res.destinations[1:]) == ["203.0.113.1", "203.0.113.9"]
            firsts[res.destinations[1].ip] += 1
    assert firsts["203.0.113.9"] > 80 and firsts["203.0.113.1"] > 2   # ~90 % / ~10 %


# ------------------------------------------------------------------------- IPv6


def test_aaaa_only_with_dns_try_ipv6(dns):
    res = resolve(dns, "sips:v6.test")
    assert pairs(res) == [("198.51.100.3", 5061, "tls")]
    assert dns.asked("AAAA") == []
    a_before = dns.asked("A")
    res6 = resolve(dns, "sips:v6.test", try_ipv6=True)
    # IPv6 addresses when there are any, and then no A lookup at all
    assert pairs(res6) == [("2001:DB8:0:0:0:0:0:3", 5061, "tls"), ("2001:DB8:0:0:0:0:0:4", 5061, "tls")]
    assert dns.asked("A") == a_before
    # no AAAA: back to A
    res4 = resolve(dns, "sips:aonly.test", try_ipv6=True)
    assert pairs(res4) == [("198.51.100.2", 5061, "tls")]
    assert "aonly.test" in dns.asked("AAAA")


# ------------------------------------------------------------------------- failures are data


def test_nxdomain_is_a_step_not_an_exception(dns):
    res = resolve(dns, "sips:nowhere.test")
    assert not res.ok and res.destinations == []
    assert res.error == "could not resolve nowhere.test"
    errors = [s.error for s in res.steps if s.query]
    assert errors and all(e and "NXDOMAIN" in e for e in errors)


def test_servfail_is_a_step():
    with DnsServer({"sf.test": {"A": ["192.0.2.1"]}}, servfail=["sf.test", "_sips._tcp.sf.test"]) as server:
        res = resolve(server, "sips:sf.test")
    assert not res.ok
    assert any(s.error and "no server could answer" in s.error for s in res.steps)


def test_silent_resolver_times_out_within_the_limit():
    with DnsServer(ZONE, silent=True) as server:
        start = time.monotonic()
        res = resolve_sip_destination("sips:example.com", resolver_address=server.address, timeout=0.3)
        elapsed = time.monotonic() - start
    queried = [s for s in res.steps if s.query]
    assert [s.query for s in queried] == ["NAPTR example.com", "SRV _sips._tcp.example.com", "A example.com"]
    assert all("timeout" in (s.error or "") for s in queried)
    assert res.error and not res.destinations
    assert elapsed < 3 * 0.3 + 1.0


def test_hostile_zone_is_bounded_by_the_query_budget():
    zone = {"many.test": {"NAPTR": [f'{i} 0 "s" "SIPS+D2T" "" _sips._tcp.n{i}.many.test.' for i in range(300)]}}
    with DnsServer(zone) as server:
        res = resolve(server, "sips:many.test")
        assert len(server.queries) <= DNS_MAX_QUERIES
    assert not res.ok
    assert any(s.error and "limit" in s.error for s in res.steps)


def test_opensips_failover_skips_a_naptr_after_a_multi_record_srv_set():
    """get_next_he quirk: after the SRV set of a NAPTR with several records, the NAPTR index
    is advanced twice, so the next NAPTR (n3) is never tried."""
    zone = {"q.test": {"NAPTR": ['1 0 "s" "SIPS+D2T" "" _sips._tcp.n1.q.test.',
                                 '2 0 "s" "SIPS+D2T" "" _sips._tcp.n2.q.test.',
                                 '3 0 "s" "SIPS+D2T" "" _sips._tcp.n3.q.test.']},
            "_sips._tcp.n1.q.test": {"SRV": ["0 0 5061 a.q.test."]},
            "_sips._tcp.n2.q.test": {"SRV": ["0 0 5062 b1.q.test.", "1 0 5063 b2.q.test."]},
            "_sips._tcp.n3.q.test": {"SRV": ["0 0 5064 c.q.test."]},
            "a.q.test": {"A": ["192.0.2.1"]}, "b1.q.test": {"A": ["192.0.2.2"]},
            "b2.q.test": {"A": ["192.0.2.3"]}, "c.q.test": {"A": ["192.0.2.4"]}}
    with DnsServer(zone) as server:
        res = resolve(server, "sips:q.test")
        assert "_sips._tcp.n3.q.test" not in server.asked("SRV")
    assert pairs(res) == [("192.0.2.1", 5061, "tls"), ("192.0.2.2", 5062, "tls"), ("192.0.2.3", 5063, "tls")]


def test_sips_with_a_non_tls_transport_is_refused_like_opensips(dns):
    res = resolve(dns, "sips:example.com;transport=udp")
    assert not res.ok and "bad transport for sips uri" in (res.error or "")
    assert dns.queries == []


def test_result_is_plain_json_data(dns):
    data = resolve(dns, "sips:example.com").as_dict()
    again = json.loads(json.dumps(data))
    assert again["destinations"][0] == {"ip": "192.0.2.10", "port": 5061, "proto": "tls", "host": "a.example.com",
                                        "via": "SRV _sips._tcp.example.com", "weighted": False}
    assert {"query", "answer", "decision", "error"} <= set(again["steps"][1])


def test_dns_limits_are_listed():
    assert DNS_TIMEOUT_S > 0
    assert any("DNS" in name for name, _ in LIMITS)


# ------------------------------------------------------------------------- parsing


@pytest.mark.parametrize("text", [
    "", "   ", "sip:", "sips:@example.com", "http://example.com", "sip:exa mple.com", "sip:example.com:0",
    "sip:example.com:65536", "sip:example.com:5x", "sip:2001:db8::1", "sip:[2001:db8::1", "sip:[nothex]:5061",
    "sip:example.com;transport=carrier-pigeon", "sip:-bad-.com.", "sip:a..b", "sip:" + "a" * 64 + ".com",
    "sip:\x1b]0;title\x07.com", "sip:ex\u00e4mple.com", "example.com:99999",
])
def test_bad_targets_are_usage_errors(text):
    with pytest.raises(TlsmgmError) as info:
        parse_sip_target(text)
    assert info.value.exit_code == exitcodes.USAGE


def test_bad_resolver_address_is_a_usage_error():
    with pytest.raises(TlsmgmError):
        resolve_sip_destination("sips:example.com", resolver_address="dns.example.com", timeout=0.1)


def test_uri_parts():
    t = parse_sip_target("sips:alice;x=1@Example.COM:5070;transport=tls;lr?Subject=hi")
    assert (t.scheme, t.host, t.port, t.transport) == ("sips", "Example.COM", 5070, "tls")
    t = parse_sip_target("SIP:[2001:db8::1]")
    assert (t.scheme, t.host, t.port, t.transport) == ("sip", "2001:db8::1", None, None)
    t = parse_sip_target("sip.example.com:5061")
    assert (t.scheme, t.host, t.port, t.transport) == ("", "sip.example.com", 5061, "tls")


_label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(labels=st.lists(_label, min_size=1, max_size=4), scheme=st.sampled_from(["sip", "sips", "SIP"]),
       user=st.one_of(st.none(), st.from_regex(r"[a-z0-9.+_-]{1,12}", fullmatch=True)),
       port=st.one_of(st.none(), st.integers(1, 65535)),
       transport=st.one_of(st.none(), st.sampled_from(["udp", "tcp", "tls", "TLS", "sctp", "ws", "wss"])))
def test_generated_uris_parse_back(labels, scheme, user, port, transport):
    host = ".".join(labels)
    text = f"{scheme}:{user + '@' if user else ''}{host}{':' + str(port) if port else ''}" \
           f"{';transport=' + transport if transport else ''}"
    t = parse_sip_target(text)
    assert (t.scheme, t.host, t.port, t.transport) == (scheme.lower(), host, port,
                                                        transport.lower() if transport else None)


@settings(max_examples=500)
@given(st.text(max_size=80))
def test_any_text_parses_or_is_a_usage_error(text):
    try:
        t = parse_sip_target(text)
    except TlsmgmError as err:
        assert err.exit_code == exitcodes.USAGE
        return
    assert t.host and (t.port is None or 1 <= t.port <= 65535)
    assert all(0x21 <= ord(c) < 0x7F for c in t.host)


# ------------------------------------------------------------------------- the hosts file


def test_system_resolver_reads_the_hosts_file_first_like_gethostbyname(tmp_path):
    hosts = tmp_path / "hosts"
    hosts.write_text("# comment\n192.0.2.77  sip.hosts.test  alias.hosts.test  # trailing\n"
                     "192.0.2.78 sip.hosts.test\n2001:db8::77 sip.hosts.test\n")
    # an explicit port: only the address lookup, answered from the file (no DNS query at all)
    res = resolve_sip_destination("sips:SIP.hosts.test:5062", hosts_file=str(hosts), timeout=1)
    assert pairs(res) == [("192.0.2.77", 5062, "tls")]
    assert res.destinations[0].via == str(hosts)
    res6 = resolve_sip_destination("tls:sip.hosts.test:5062", hosts_file=str(hosts), timeout=1, try_ipv6=True)
    assert pairs(res6) == [("2001:DB8:0:0:0:0:0:77", 5062, "tls")]
    assert pairs(resolve_sip_destination("alias.hosts.test:5061", hosts_file=str(hosts), timeout=1)) == \
        [("192.0.2.77", 5061, "tls")]


def test_hosts_file_is_not_read_with_an_explicit_resolver(tmp_path, dns):
    hosts = tmp_path / "hosts"
    hosts.write_text("192.0.2.99 aonly.test\n")
    res = resolve(dns, "sips:aonly.test:5061", hosts_file=str(hosts))
    assert pairs(res) == [("198.51.100.2", 5061, "tls")]
