"""The domain matcher (core/matching/matcher.py, core/matching/fnmatch_posix.py) against
behaviour §4.1, §4.2, §4.4 to §4.11 (the observed server and client sides included) and
the worked examples of behaviour §4.12 row by row. Expectations are derived by hand from
the behaviour reference (docs/opensips-behaviour.md).
Configs are real config text read by the real reader."""

from __future__ import annotations

import ctypes
import ctypes.util
import locale

import pytest
from cfgtext import load, mp
from hypothesis import given, settings
from hypothesis import strategies as st

from tlsmgm_cli.core.db.backend import connect
from tlsmgm_cli.core.db.rows import TlsRow, insert_rows
from tlsmgm_cli.core.domain import CLIENT, SERVER, DomainSet, TlsDomain
from tlsmgm_cli.core.matching.fnmatch_posix import compile_pattern, fnmatch, to_c_text
from tlsmgm_cli.core.matching.matcher import (
    AddressArray,
    DomainMatcher,
    MapEntry,
    build_matching_map,
    matching_diagnostics,
    pattern_rank,
    tls_listeners,
)
from tlsmgm_cli.core.net.addresses import parse_hostport

# ---------------------------------------------------------------------------------------
# config helpers


def dom(kind: str, name: str, addr: str | None = None, sip: str | None = None,
        method: str | None = None) -> str:
    """A server_domain/client_domain declaration with its filters."""
    out = mp(f"{kind}_domain", name)
    if addr is not None:
        out += mp("match_ip_address", f"[{name}]{addr}")
    if sip is not None:
        out += mp("match_sip_domain", f"[{name}]{sip}")
    if method is not None:
        out += mp("tls_method", f"[{name}]{method}")
    return out


def srv(name: str, addr: str | None = None, sip: str | None = None, **kw) -> str:
    return dom("server", name, addr, sip, **kw)


def cli(name: str, addr: str | None = None, sip: str | None = None) -> str:
    return dom("client", name, addr, sip)


def matcher_for(tmp_path, body: str, **kw) -> DomainMatcher:
    domset = load(tmp_path, body, **kw)
    assert not domset.errors, domset.errors
    return DomainMatcher(domset)


def server(m: DomainMatcher, socket: str, sni: str | None = None) -> tuple[str, str | None]:
    ip, port = parse_hostport(socket)
    r = m.match_server(ip, port, sni)
    return r.outcome, r.domain.name if r.domain else None


def client(m: DomainMatcher, dest: str | None, sip_domain: str | None = None,
           tls_domain: str | None = None) -> tuple[str, str | None]:
    ip, port = parse_hostport(dest) if dest else (None, None)
    r = m.match_client(ip, port, sip_domain, tls_domain)
    return r.outcome, r.domain.name if r.domain else None


SEL, REJ, DROP = "selected", "rejected", "dropped"

# ---------------------------------------------------------------------------------------
# behaviour §4.12 Config S (the README example)

CONFIG_S = (
    srv("dom1", "10.0.0.10:5061", "atlanta.com")
    + srv("dom2", "10.0.0.10:5061", "biloxi.com")
    + srv("dom3", "10.0.0.10:5061", "none")
    + cli("dom4", "*", "atlanta.com")
    + cli("dom5", "*", "biloxi.com")
    + cli("dom6", "1.2.3.4:6677", "*")
    + mp("client_sip_domain_avp", "tls_sip_dom")
    + mp("client_tls_domain_avp", "tls_dom")
)


@pytest.fixture(scope="module")
def config_s(tmp_path_factory) -> DomainMatcher:
    return matcher_for(tmp_path_factory.mktemp("s"), CONFIG_S)


def test_config_s_lists_and_maps(config_s):
    ds = config_s.domset
    assert [d.name for d in ds.server] == ["dom3", "dom2", "dom1"]
    assert [d.name for d in ds.client] == ["dom6", "dom5", "dom4"]
    smap = config_s.maps[SERVER].arrays
    assert [(e.pattern, e.domain.name) for e in smap["10.0.0.10:5061"].entries] == [
        ("none", "dom3"), ("biloxi.com", "dom2"), ("atlanta.com", "dom1")]
    cmap = config_s.maps[CLIENT].arrays
    assert [(e.pattern, e.domain.name) for e in cmap["1.2.3.4:6677"].entries] == [("*", "dom6")]
    assert [(e.pattern, e.domain.name) for e in cmap["*"].entries] == [
        ("biloxi.com", "dom5"), ("atlanta.com", "dom4")]


def test_s01_accept_initial_domain_is_arr0(config_s):
    ip, port = parse_hostport("10.0.0.10:5061")
    assert config_s.match_server(ip, port, "atlanta.com").initial.name == "dom3"


def test_s02_sni_atlanta_switches_from_dom3_to_dom1(config_s):
    ip, port = parse_hostport("10.0.0.10:5061")
    r = config_s.match_server(ip, port, "atlanta.com")
    assert (r.outcome, r.domain.name, r.initial.name) == (SEL, "dom1", "dom3")


def test_s03_sni_biloxi(config_s):
    assert server(config_s, "10.0.0.10:5061", "biloxi.com") == (SEL, "dom2")


def test_s04_no_sni_matches_none(config_s):
    assert server(config_s, "10.0.0.10:5061") == (SEL, "dom3")


def test_s05_uppercase_sni_on_368(config_s):
    assert server(config_s, "10.0.0.10:5061", "ATLANTA.com") == (SEL, "dom1")


def test_s05_uppercase_sni_rejected_on_367(tmp_path):
    m = matcher_for(tmp_path, CONFIG_S, opensips_version=(3, 6, 7))
    assert server(m, "10.0.0.10:5061", "ATLANTA.com") == (REJ, None)


def test_s06_www_atlanta_rejected(config_s):
    assert server(config_s, "10.0.0.10:5061", "www.atlanta.com") == (REJ, None)


def test_s07_literal_sni_none(config_s):
    assert server(config_s, "10.0.0.10:5061", "none") == (SEL, "dom3")


@pytest.mark.parametrize("sni", [None, "atlanta.com"])
def test_s08_other_port_dropped(config_s, sni):
    assert server(config_s, "10.0.0.10:5062", sni) == (DROP, None)


@pytest.mark.parametrize("sni", [None, "atlanta.com"])
def test_s09_other_ip_dropped(config_s, sni):
    assert server(config_s, "10.0.0.11:5061", sni) == (DROP, None)


def test_s10_client_atlanta(config_s):
    assert client(config_s, "5.6.7.8:5061", "atlanta.com") == (SEL, "dom4")


def test_s11_client_biloxi(config_s):
    assert client(config_s, "5.6.7.8:5061", "biloxi.com") == (SEL, "dom5")


def test_s12_client_no_avp_value_star_matches_nothing(config_s):
    assert client(config_s, "5.6.7.8:5061") == (REJ, None)


def test_s13_client_example_org(config_s):
    assert client(config_s, "5.6.7.8:5061", "example.org") == (REJ, None)


def test_s14_client_case_insensitive_on_368(config_s):
    assert client(config_s, "5.6.7.8:5061", "Biloxi.COM") == (SEL, "dom5")


def test_s14_client_case_sensitive_before_368(tmp_path):
    m = matcher_for(tmp_path, CONFIG_S, opensips_version=(3, 6, 7))
    assert client(m, "5.6.7.8:5061", "Biloxi.COM") == (REJ, None)


def test_s15_client_exact_key_no_avp(config_s):
    assert client(config_s, "1.2.3.4:6677") == (SEL, "dom6")


def test_s16_exact_key_shadows_star_on_client(config_s):
    assert client(config_s, "1.2.3.4:6677", "atlanta.com") == (SEL, "dom6")


def test_s17_other_port_falls_back_to_star(config_s):
    assert client(config_s, "1.2.3.4:6678", "atlanta.com") == (SEL, "dom4")


def test_s18_ipv6_destination_via_star(config_s):
    assert client(config_s, "[2001:db8::1]:5061", "biloxi.com") == (SEL, "dom5")


@pytest.mark.parametrize("dest", ["5.6.7.8:5061", "1.2.3.4:6678", "[2001:db8::1]:5061", None])
def test_s19_forced_tls_domain_any_destination(config_s, dest):
    assert client(config_s, dest, "biloxi.com", tls_domain="dom6") == (SEL, "dom6")


def test_s20_forced_server_domain_name_gives_none(config_s):
    assert client(config_s, "5.6.7.8:5061", tls_domain="dom1") == (REJ, None)


def test_s21_forced_name_is_case_sensitive(config_s):
    assert client(config_s, "5.6.7.8:5061", tls_domain="DOM4") == (REJ, None)


# ---------------------------------------------------------------------------------------
# behaviour §4.12 Config T (server tricky)

CONFIG_T = (
    srv("catchall")
    + srv("wshort", "*", "*.com")
    + srv("wlong", "*", "*.example.com")
    + srv("exact", "*", "sip.example.com")
    + srv("nosni", "*", "none")
    + srv("v6", "[2001:db8::10]:5061", "*")
    + srv("pinned", "10.0.0.20:5061", "secure.example.org")
)


@pytest.fixture(scope="module")
def config_t(tmp_path_factory) -> DomainMatcher:
    return matcher_for(tmp_path_factory.mktemp("t"), CONFIG_T)


def test_config_t_list_and_map(config_t):
    assert [d.name for d in config_t.domset.server] == [
        "pinned", "v6", "nosni", "exact", "wlong", "wshort", "catchall"]
    arrays = config_t.maps[SERVER].arrays
    assert [(e.pattern, e.domain.name) for e in arrays["*"].entries] == [
        ("none", "nosni"), ("sip.example.com", "exact"), ("*.example.com", "wlong"),
        ("*.com", "wshort"), ("*", "catchall")]
    assert [(e.pattern, e.domain.name) for e in arrays["2001:DB8:0:0:0:0:0:10:5061"].entries] == [("*", "v6")]
    assert [(e.pattern, e.domain.name) for e in arrays["10.0.0.20:5061"].entries] == [
        ("secure.example.org", "pinned")]


def test_t22_exact_text(config_t):
    assert server(config_t, "10.0.0.10:5061", "sip.example.com") == (SEL, "exact")


def test_t23_later_declared_wildcard_wins(config_t):
    assert server(config_t, "10.0.0.10:5061", "a.example.com") == (SEL, "wlong")


def test_t23_swapped_declarations_give_wshort(tmp_path):
    m = matcher_for(tmp_path, srv("wlong", "*", "*.example.com") + srv("wshort", "*", "*.com"))
    assert server(m, "10.0.0.10:5061", "a.example.com") == (SEL, "wshort")


def test_t24_wildcard_needs_the_dot(config_t):
    assert server(config_t, "10.0.0.10:5061", "example.com") == (SEL, "wshort")


def test_t25_catchall(config_t):
    assert server(config_t, "10.0.0.10:5061", "foo.org") == (SEL, "catchall")


def test_t26_no_sni_none_beats_star(config_t):
    assert server(config_t, "10.0.0.10:5061") == (SEL, "nosni")


def test_t27_initial_is_nosni(config_t):
    ip, port = parse_hostport("10.0.0.10:5061")
    assert config_t.match_server(ip, port, "foo.org").initial.name == "nosni"


def test_t28_pinned(config_t):
    assert server(config_t, "10.0.0.20:5061", "secure.example.org") == (SEL, "pinned")


@pytest.mark.parametrize("sni", ["foo.org", None])
def test_t29_exact_key_never_falls_back(config_t, sni):
    assert server(config_t, "10.0.0.20:5061", sni) == (REJ, None)


@pytest.mark.parametrize("sni", ["anything.example", None])
def test_t30_ipv6_canonical_key(config_t, sni):
    assert server(config_t, "[2001:db8:0::10]:5061", sni) == (SEL, "v6")


def test_t31_other_ipv6_via_star(config_t):
    assert server(config_t, "[2001:db8::11]:5061", "sip.example.com") == (SEL, "exact")


def test_t32_uppercase_on_368(config_t):
    assert server(config_t, "10.0.0.10:5061", "SIP.EXAMPLE.COM") == (SEL, "exact")


def test_t32_uppercase_on_367_only_star_matches(tmp_path):
    m = matcher_for(tmp_path, CONFIG_T, opensips_version=(3, 6, 7))
    assert server(m, "10.0.0.10:5061", "SIP.EXAMPLE.COM") == (SEL, "catchall")


# ---------------------------------------------------------------------------------------
# behaviour §4.12 Config U (duplicates), with a real SQLite DB for the DB domain


def sqlite_db(tmp_path, pki, rows: list[TlsRow]) -> str:
    url = f"sqlite://{tmp_path / 'tls.db'}"
    cert, key = pki.server.cert_path.read_bytes(), pki.server.key_path.read_bytes()
    with connect(url, create=True) as db:
        db.init_schema()
        for n, row in enumerate(rows, 1):
            row.id = n
            row.certificate = row.certificate or cert
            row.private_key = row.private_key or key
        insert_rows(db, rows)
    return url


def test_u_last_declared_owns_the_duplicate_pair(tmp_path):
    m = matcher_for(tmp_path, srv("A", "*", "x.com") + srv("B", "*", "x.com"))
    assert [(e.pattern, e.domain.name) for e in m.maps[SERVER].arrays["*"].entries] == [("x.com", "B")]
    assert server(m, "10.0.0.1:5061", "x.com") == (SEL, "B")


def test_u_db_domain_wins_at_startup(tmp_path, pki):
    url = sqlite_db(tmp_path, pki, [TlsRow(domain="D", type=2, match_ip_address="*",
                                           match_sip_domain="x.com")])
    m = matcher_for(tmp_path, srv("A", "*", "x.com") + srv("B", "*", "x.com"), db_url=url)
    assert [d.name for d in m.domset.server] == ["D", "B", "A"]
    assert server(m, "10.0.0.1:5061", "x.com") == (SEL, "D")


def test_u_after_reload_identical_pair_stays_with_db(tmp_path, pki):
    # observed (behaviour §4.11, §4.12 Config U; the source reading predicted B): B never
    # inserted x.com at startup, so after tls_reload D appends it again and keeps it
    url = sqlite_db(tmp_path, pki, [TlsRow(domain="D", type=2, match_ip_address="*",
                                           match_sip_domain="x.com")])
    m = matcher_for(tmp_path, srv("A", "*", "x.com") + srv("B", "*", "x.com"), db_url=url,
                    after_reload=True)
    assert server(m, "10.0.0.1:5061", "x.com") == (SEL, "D")


def test_db_wildcard_tie_moves_to_script_after_reload(tmp_path, pki):
    url = sqlite_db(tmp_path, pki, [TlsRow(domain="D", type=2, match_ip_address="*",
                                           match_sip_domain="*.baz.com")])
    body = srv("S", "*", "*.com")
    start = matcher_for(tmp_path, body, db_url=url)
    assert server(start, "10.0.0.1:5061", "x.baz.com") == (SEL, "D")
    reloaded = matcher_for(tmp_path, body, db_url=url, after_reload=True)
    assert server(reloaded, "10.0.0.1:5061", "x.baz.com") == (SEL, "S")
    assert [d.name for d in reloaded.domset.server] == ["D", "S"]  # tls_list stays DB-first


def test_db_pair_the_script_inserted_is_owned_by_script_after_reload(tmp_path, pki):
    # script S owns 'y.com' (D does not list it at startup... D lists only x.com; S lists
    # both): after the reload D's x.com is re-appended, S keeps y.com
    url = sqlite_db(tmp_path, pki, [TlsRow(domain="D", type=2, match_ip_address="*",
                                           match_sip_domain="x.com")])
    m = matcher_for(tmp_path, srv("S", "*", "x.com, y.com"), db_url=url, after_reload=True)
    arr = m.maps[SERVER].arrays["*"].entries
    assert [(e.pattern, e.domain.name) for e in arr] == [("y.com", "S"), ("x.com", "D")]


def test_skipped_db_row_patterns_are_absent(tmp_path, pki):
    url = sqlite_db(tmp_path, pki, [
        TlsRow(domain="bad", type=2, match_ip_address="*", match_sip_domain="a.com", method="TLSv9"),
        TlsRow(domain="good", type=2, match_ip_address="*", match_sip_domain="*.com")])
    m = matcher_for(tmp_path, "", db_url=url)
    assert m.domset.find("bad").db_skip
    assert server(m, "10.0.0.1:5061", "a.com") == (SEL, "good")


def test_skipped_db_row_leaves_listener_without_domain(tmp_path, pki):
    url = sqlite_db(tmp_path, pki, [TlsRow(domain="bad", type=2, match_ip_address="10.0.0.5:5061",
                                           method="TLSv9")])
    m = matcher_for(tmp_path, "", db_url=url)
    assert server(m, "10.0.0.5:5061") == (DROP, None)


def test_db_empty_match_sip_domain_matches_nothing(tmp_path, pki):
    url = sqlite_db(tmp_path, pki, [TlsRow(domain="e", type=2, match_ip_address="*",
                                           match_sip_domain="")])
    m = matcher_for(tmp_path, "", db_url=url)
    assert server(m, "10.0.0.1:5061") == (REJ, None)
    assert server(m, "10.0.0.1:5061", "a.com") == (REJ, None)


def test_db_null_filters_behave_as_star(tmp_path, pki):
    url = sqlite_db(tmp_path, pki, [TlsRow(domain="n", type=2)])
    m = matcher_for(tmp_path, "", db_url=url)
    assert server(m, "10.9.9.9:5061", "whatever") == (SEL, "n")


# ---------------------------------------------------------------------------------------
# behaviour §4.12 Config V (no domains)


def test_v_no_domains_server_dropped_client_fails(tmp_path):
    m = matcher_for(tmp_path, "")
    assert server(m, "10.0.0.10:5061", "a.com") == (DROP, None)
    r = m.match_client(*parse_hostport("1.2.3.4:5061"), None, None)
    assert (r.outcome, r.reason) == (REJ, "no-address")
    assert "no TLS client domain found" in r.rule


# ---------------------------------------------------------------------------------------
# Server-side selection, as observed (behaviour §4.6, §4.8, §4.10)


def test_srv_address_first_exact_key_hides_star_domains(tmp_path):
    m = matcher_for(tmp_path, srv("anyaddr", "*", "*") + srv("exact", "10.0.0.1:5061", "a.com"))
    assert server(m, "10.0.0.1:5061", "b.com") == (REJ, None)
    assert server(m, "10.0.0.1:5061") == (REJ, None)
    assert server(m, "10.0.0.2:5061", "b.com") == (SEL, "anyaddr")


def test_srv_star_com_declared_after_star_baz_com_wins(tmp_path):
    m = matcher_for(tmp_path, srv("baz", "*", "*.baz.com") + srv("com", "*", "*.com"))
    assert server(m, "10.0.0.1:5061", "x.baz.com") == (SEL, "com")


def test_srv_identical_exact_filters_later_domain_wins(tmp_path):
    m = matcher_for(tmp_path, srv("first", "*", "atlanta.com") + srv("second", "*", "atlanta.com"))
    assert server(m, "10.0.0.1:5061", "atlanta.com") == (SEL, "second")


def test_srv_two_bare_star_domains_later_wins(tmp_path):
    m = matcher_for(tmp_path, srv("first") + srv("second"))
    assert server(m, "10.0.0.1:5061", "x") == (SEL, "second")


def test_srv_exact_text_beats_wildcard_beats_star_regardless_of_order(tmp_path):
    m = matcher_for(tmp_path, srv("exact", "*", "a.b.com") + srv("wild", "*", "*.b.com")
                    + srv("star", "*", "*"))
    assert server(m, "10.0.0.1:5061", "a.b.com") == (SEL, "exact")
    assert server(m, "10.0.0.1:5061", "c.b.com") == (SEL, "wild")
    assert server(m, "10.0.0.1:5061", "c.d.com") == (SEL, "star")


def test_srv_case_insensitive(tmp_path):
    m = matcher_for(tmp_path, srv("a", "*", "Atlanta.COM"))
    assert server(m, "10.0.0.1:5061", "aTLANTA.com") == (SEL, "a")


def test_srv_star_spans_dots(tmp_path):
    m = matcher_for(tmp_path, srv("baz", "*", "*.baz.com"))
    assert server(m, "10.0.0.1:5061", "a.b.baz.com") == (SEL, "baz")


def test_srv_question_mark_and_bracket_work(tmp_path):
    m = matcher_for(tmp_path, srv("q", "*", "sip?.x.com") + srv("br", "*", "[ab].y.com"))
    assert server(m, "10.0.0.1:5061", "sip1.x.com") == (SEL, "q")
    assert server(m, "10.0.0.1:5061", "sip12.x.com") == (REJ, None)
    assert server(m, "10.0.0.1:5061", "B.y.com") == (SEL, "br")
    assert server(m, "10.0.0.1:5061", "c.y.com") == (REJ, None)


def test_srv_star_baz_com_does_not_match_baz_com(tmp_path):
    m = matcher_for(tmp_path, srv("baz", "*", "*.baz.com"))
    assert server(m, "10.0.0.1:5061", "baz.com") == (REJ, None)
    assert server(m, "10.0.0.1:5061", ".baz.com") == (SEL, "baz")  # leading dot: no FNM_PERIOD


def test_srv_trailing_dot_sni_does_not_match(tmp_path):
    m = matcher_for(tmp_path, srv("a", "*", "atlanta.com"))
    assert server(m, "10.0.0.1:5061", "atlanta.com.") == (REJ, None)


@pytest.mark.parametrize("sni", ["none", "NONE", None])
def test_srv_sni_none_and_no_sni_pick_the_none_domain(tmp_path, sni):
    m = matcher_for(tmp_path, srv("nosni", "*", "none") + srv("other", "*", "a.com"))
    assert server(m, "10.0.0.1:5061", sni) == (SEL, "nosni")


def test_srv_none_beats_star_for_no_sni(tmp_path):
    m = matcher_for(tmp_path, srv("nosni", "*", "none") + srv("star", "*", "*"))
    assert server(m, "10.0.0.1:5061") == (SEL, "nosni")


def test_srv_bare_star_covers_no_sni(tmp_path):
    m = matcher_for(tmp_path, srv("star", "*", "*") + srv("a", "*", "a.com"))
    assert server(m, "10.0.0.1:5061") == (SEL, "star")


def test_srv_n_star_matches_no_sni(tmp_path):
    m = matcher_for(tmp_path, srv("n", "*", "n*"))
    assert server(m, "10.0.0.1:5061") == (SEL, "n")


def test_srv_unmatched_sni_is_fatal_alert_112(tmp_path):
    m = matcher_for(tmp_path, srv("a", "*", "a.com"))
    r = m.match_server(*parse_hostport("10.0.0.1:5061"), "b.com")
    assert (r.outcome, r.initial.name) == (REJ, "a")
    assert "fatal alert 112 (unrecognized_name)" in r.rule


def test_srv_uncovered_listener_dropped_no_tls_answer(tmp_path):
    m = matcher_for(tmp_path, srv("a", "10.0.0.1:5061", "*"))
    r = m.match_server(*parse_hostport("10.0.0.1:5062"), None)
    assert (r.outcome, r.initial) == (DROP, None)
    assert r.rule.startswith("no TLS server domain found")


@pytest.mark.parametrize("written", ["[::1]:5061", "::1:5061"])
def test_srv_ipv6_filters_both_spellings(tmp_path, written):
    m = matcher_for(tmp_path, srv("v6", written, "*"))
    assert m.domset.server[0].addresses == ["0:0:0:0:0:0:0:1:5061"]
    assert server(m, "[::1]:5061", "x") == (SEL, "v6")
    assert server(m, "[::1]:5062", "x") == (DROP, None)


def test_srv_empty_sni_keeps_initial_domain(tmp_path):
    m = matcher_for(tmp_path, srv("a", "*", "a.com") + srv("b", "*", "b.com"))
    r = m.match_server(*parse_hostport("10.0.0.1:5061"), "")
    assert (r.outcome, r.domain.name, r.initial.name, r.reason) == (SEL, "b", "b", "empty-sni")


def test_srv_initial_domain_method_note(tmp_path):
    m = matcher_for(tmp_path, srv("a", "*", "a.com", method="TLSv1_2")
                    + srv("b", "*", "b.com", method="TLSv1_3"))
    r = m.match_server(*parse_hostport("10.0.0.1:5061"), "a.com")
    assert (r.domain.name, r.initial.name) == ("a", "b")
    assert any("'TLSv1_3' governs version negotiation" in n for n in r.notes)
    same = m.match_server(*parse_hostport("10.0.0.1:5061"), "b.com")
    assert same.notes == []


def test_ranks_of_question_mark_and_brackets_are_exact():
    assert [pattern_rank(p) for p in ("none", "sip?.x.com", "[ab].x", "*.a", "**", "\\*", "*")] == [
        0, 0, 0, 1, 1, 1, 2]


def test_question_mark_pattern_beats_earlier_wildcard(tmp_path):
    m = matcher_for(tmp_path, srv("q", "*", "sip?.x.com") + srv("w", "*", "*.x.com"))
    assert server(m, "10.0.0.1:5061", "sip1.x.com") == (SEL, "q")


# ---------------------------------------------------------------------------------------
# Client-side selection, as observed (behaviour §4.9)


CLIENT_CFG = (
    cli("exactkey", "9.9.9.9:5061", "biloxi.com")
    + cli("star", "*", "*")
    + cli("nonedom", "8.8.8.8:5061", "none")
    + srv("srvonly", "*", "*")
    + mp("client_sip_domain_avp", "sipdom")
    + mp("client_tls_domain_avp", "tlsdom")
)


@pytest.fixture(scope="module")
def clients(tmp_path_factory) -> DomainMatcher:
    return matcher_for(tmp_path_factory.mktemp("c"), CLIENT_CFG)


def test_cli_no_domain_send_fails_477(clients):
    r = clients.match_client(*parse_hostport("9.9.9.9:5061"), "atlanta.com", None)
    assert (r.outcome, r.domain) == (REJ, None)
    assert "477" in r.rule


@pytest.mark.parametrize("name", ["missing", "STAR", "srvonly", ""])
def test_cli_forced_name_without_client_domain_gives_none(clients, name):
    assert client(clients, "5.5.5.5:5061", "x", tls_domain=name) == (REJ, None)


def test_cli_forced_name_explains_server_only_and_case(clients):
    r = clients.match_client(None, None, None, "srvonly")
    assert any("server domain" in n for n in r.notes)
    r = clients.match_client(None, None, None, "STAR")
    assert any("spelled [star]" in n for n in r.notes)


def test_cli_tls_avp_set_ignores_sip_avp(clients):
    # exactkey would match biloxi.com on 9.9.9.9, but the forced name decides
    assert client(clients, "9.9.9.9:5061", "biloxi.com", tls_domain="star") == (SEL, "star")


def test_cli_forced_existing_name_works_on_uncovered_destination(clients):
    assert client(clients, "7.7.7.7:1", tls_domain="exactkey") == (SEL, "exactkey")


def test_cli_unset_sip_avp_is_star_exact_key_without_star_pattern(clients):
    assert client(clients, "9.9.9.9:5061") == (REJ, None)
    assert client(clients, "9.9.9.9:5061", "*") == (REJ, None)
    assert client(clients, "9.9.9.9:5061", "") == (REJ, None)


def test_cli_empty_and_star_values_behave_like_unset(clients):
    assert client(clients, "5.5.5.5:5061", "") == (SEL, "star")
    assert client(clients, "5.5.5.5:5061", "*") == (SEL, "star")
    assert client(clients, "5.5.5.5:5061") == (SEL, "star")


def test_cli_only_star_like_patterns_match_unset_avp(tmp_path):
    m = matcher_for(tmp_path, cli("q", "*", "?") + cli("a", "*", "a.com"))
    assert client(m, "5.5.5.5:5061") == (SEL, "q")  # '?' matches the one-character '*'


def test_cli_exact_key_hides_star_key(clients):
    assert client(clients, "9.9.9.9:5061", "biloxi.com") == (SEL, "exactkey")
    assert client(clients, "9.9.9.9:5061", "other.com") == (REJ, None)


def test_cli_none_is_an_ordinary_exact_pattern(clients):
    assert client(clients, "8.8.8.8:5061") == (REJ, None)
    assert client(clients, "8.8.8.8:5061", "none") == (SEL, "nonedom")
    assert client(clients, "8.8.8.8:5061", "NONE") == (SEL, "nonedom")


def test_cli_case_insensitive_and_later_wildcard_wins(tmp_path):
    m = matcher_for(tmp_path, cli("baz", "*", "*.baz.com") + cli("com", "*", "*.com"))
    assert client(m, "5.5.5.5:5061", "X.BAZ.COM") == (SEL, "com")


def test_cli_shared_name_param_goes_to_server_domain(tmp_path):
    body = mp("server_domain", "x") + mp("client_domain", "x") + mp("match_sip_domain", "[x]a.com")
    m = matcher_for(tmp_path, body)
    assert m.domset.find("x", SERVER).sip_domains == ["a.com"]
    assert m.domset.find("x", CLIENT).sip_domains is None
    assert client(m, "5.5.5.5:5061", "b.com") == (SEL, "x")  # the client keeps '*'
    assert client(m, "5.5.5.5:5061") == (SEL, "x")
    assert server(m, "10.0.0.1:5061", "b.com") == (REJ, None)
    assert server(m, "10.0.0.1:5061", "a.com") == (SEL, "x")


def test_cli_avp_modparams_unset_add_notes(tmp_path):
    m = matcher_for(tmp_path, cli("c"))
    r = m.match_client(*parse_hostport("5.5.5.5:5061"), "a.com", None)
    assert any("client_sip_domain_avp" in n for n in r.notes)
    r = m.match_client(None, None, None, "c")
    assert r.outcome == SEL and any("client_tls_domain_avp" in n for n in r.notes)


# ---------------------------------------------------------------------------------------
# filter storage (behaviour §4.2), the 64-pattern limit (§4.4), explanations


def test_filters_in_stored_order_drive_ownership(tmp_path):
    # stored order c.com, b.com, a.com: inserted in that order; all rank 0
    m = matcher_for(tmp_path, srv("d", "*", "a.com, b.com") + mp("match_sip_domain", "[d]c.com"))
    assert [e.pattern for e in m.maps[SERVER].arrays["*"].entries] == ["c.com", "b.com", "a.com"]


def _many_patterns(n: int) -> str:
    return srv("big", "10.0.0.1:5061", ", ".join(f"h{i}.example.com" for i in range(n)))


def test_64_patterns_per_address_are_allowed(tmp_path):
    domset = load(tmp_path, _many_patterns(64))
    assert not [d for d in domset.diagnostics if d.code == "too-many-filters"]
    assert server(DomainMatcher(domset), "10.0.0.1:5061", "h0.example.com") == (SEL, "big")


def test_65th_pattern_is_fatal_at_its_file_line(tmp_path):
    body = _many_patterns(40) + srv("more", "10.0.0.1:5061", ", ".join(f"m{i}.x" for i in range(25)))
    domset = load(tmp_path, body)
    diags = [d for d in domset.diagnostics if d.code == "too-many-filters"]
    assert len(diags) == 1
    d = diags[0]
    assert (d.severity, d.message, d.domain) == ("error", "Too many domain filters per address", "big")
    # list order is [more, big]: 'more' inserts 25, 'big' overflows at its 40th
    assert d.loc.line == 5 and d.loc.file.endswith("opensips.cfg")  # big's match_sip_domain


def test_identical_patterns_do_not_count_twice(tmp_path):
    body = _many_patterns(64) + srv("twin", "10.0.0.1:5061", "h1.example.com")
    domset = load(tmp_path, body)
    assert matching_diagnostics(domset) == []


def test_explain_lists_owned_and_hidden_domains_with_file_line(tmp_path):
    body = (srv("anyaddr", "*", "*")                       # lines 3-5
            + srv("first", "10.0.0.1:5061", "a.com")      # 6-8
            + srv("second", "10.0.0.1:5061", "a.com, b.com"))  # 9-11
    m = matcher_for(tmp_path, body)
    r = m.match_server(*parse_hostport("10.0.0.1:5061"), "a.com")
    assert r.domain.name == "second"
    ex = m.explain(r)
    assert ex.key_used == "10.0.0.1:5061"
    assert [(c.domain.name, c.pattern, c.matched, c.chosen) for c in ex.candidates] == [
        ("second", "b.com", False, False), ("second", "a.com", True, True)]
    got = {(u.domain.name, u.pattern, u.reason, u.loc.line) for u in ex.unreachable}
    assert got == {("first", "a.com", "owned", 8), ("anyaddr", "*", "hidden", 4)}


def test_explain_lists_covered_patterns(tmp_path):
    m = matcher_for(tmp_path, srv("lower", "*", "a.com") + srv("upper", "*", "A.COM"))
    ex = m.explain(m.match_server(*parse_hostport("10.0.0.1:5061"), "a.com"))
    assert [(u.domain.name, u.reason) for u in ex.unreachable] == [("lower", "covered")]


def test_sni_longer_than_255_bytes_is_an_input_error(tmp_path):
    from tlsmgm_cli.core.errors import TlsmgmError

    m = matcher_for(tmp_path, srv("a"))
    with pytest.raises(TlsmgmError, match="longer than 255 bytes"):
        m.match_server(*parse_hostport("10.0.0.1:5061"), "a" * 256)
    assert m.match_server(*parse_hostport("10.0.0.1:5061"), "a" * 255).selected


def test_listeners_keys_and_skips(tmp_path):
    body = ('socket=tls:10.0.0.1:5061\nsocket=tls:10.0.0.2\nlisten=tls:eth0:5062\n'
            'socket=tls:*:5063\nsocket=tls:0.0.0.0:5064\nsocket=udp:10.0.0.1:5060\n'
            'socket=tls:[::1]:5065\n'
            'loadmodule "proto_tls.so"\nmodparam("proto_tls", "tls_port", 5071)\n')
    domset = load(tmp_path, body)
    got = [(lst.ip, lst.port, bool(lst.skip)) for lst in tls_listeners(domset.config)]
    assert got == [("10.0.0.1", 5061, False), ("10.0.0.2", 5071, False), (None, None, True),
                   (None, None, True), ("0.0.0.0", 5064, False), ("0:0:0:0:0:0:0:1", 5065, False)]


def test_maps_from_domain_objects_without_a_config():
    a = TlsDomain("a", SERVER, sip_domains=["x.com"])
    b = TlsDomain("b", SERVER, sip_domains=["x.com", "*"])
    mmap = build_matching_map([b, a], SERVER)
    assert [(e.pattern, e.domain.name) for e in mmap.arrays["*"].entries] == [("x.com", "b"), ("*", "b")]
    assert [(s.domain.name, s.owner.name) for s in mmap.shadowed] == [("a", "b")]
    assert DomainMatcher(DomainSet(server=[b, a])).match_server("1.2.3.4", 1, "X.com").domain is b


# ---------------------------------------------------------------------------------------
# fnmatch: the translator against the real glibc fnmatch(3), and the combined regex
# against a naive first-match scan

_LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
_LIBC.fnmatch.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]
FNM_CASEFOLD = 1 << 4


def libc_fnmatch(pattern: str, value: str, casefold: bool) -> bool:
    old = locale.setlocale(locale.LC_CTYPE)
    locale.setlocale(locale.LC_CTYPE, "C")  # OpenSIPS runs in the C locale
    try:
        return _LIBC.fnmatch(pattern.encode(), value.encode(), FNM_CASEFOLD if casefold else 0) == 0
    finally:
        locale.setlocale(locale.LC_CTYPE, old)


def _has_glibc() -> bool:
    try:
        return ctypes.CDLL(None).gnu_get_libc_version is not None
    except (AttributeError, OSError):
        return False


GLOB_CHARS = "aAbz.-[]!^\\*?:="
pattern_text = st.text(alphabet=GLOB_CHARS, max_size=8) | st.sampled_from(
    ["[[:alpha:]]x", "[[:upper:]]", "[a-c]*", "[A-C]?", "[!a]", "[^a]", "[]a]", "[a", "a\\", "[[=a=]]",
     "[[.a.]-c]", "*.example.com", "sip?.x.com"])
value_text = st.text(alphabet="aAbBz.-[]!^\\*?:=é", max_size=6)


@pytest.mark.skipif(not _has_glibc(), reason="needs glibc's fnmatch as the reference")
@settings(max_examples=3000, deadline=None)
@given(pattern_text, value_text, st.booleans())
def test_fnmatch_equals_glibc(pattern, value, casefold):
    assert fnmatch(pattern, value, casefold) == libc_fnmatch(pattern, value, casefold)


star_heavy_pattern = st.text(alphabet="ab*?[]!", max_size=14) | st.builds(
    lambda n, end: "[a]" + "*a" * n + "*" + end, st.integers(1, 6), st.sampled_from(["b", "a", "?", "[ab]"]))
star_heavy_value = st.text(alphabet="abA.", max_size=24)


@pytest.mark.skipif(not _has_glibc(), reason="needs glibc's fnmatch as the reference")
@settings(max_examples=2000, deadline=None)
@given(star_heavy_pattern | pattern_text, star_heavy_value | value_text, st.booleans())
def test_polynomial_matchers_equal_glibc(pattern, value, casefold):
    """Star-heavy patterns (where a backtracking matcher explodes) through both polynomial
    matchers: the atomic-segment regex and the automaton."""
    from tlsmgm_cli.core.matching.fnmatch_posix import _Nfa

    expected = libc_fnmatch(pattern, value, casefold)
    assert fnmatch(pattern, value, casefold) == expected
    assert bool(_Nfa(pattern, casefold).fullmatch(to_c_text(value))) == expected


@pytest.mark.parametrize("pattern,value,casefold,expected", [
    ("*.example.com", "a.b.example.com", True, True),
    ("*.example.com", "example.com", True, False),
    ("*", "", True, True),
    ("", "", True, True),
    ("", "none", True, False),
    ("[A-Z]", "q", True, True),        # ranges fold on both ends
    ("[A-Z]", "q", False, False),
    ("[[:upper:]]", "a", True, False),  # classes test the unfolded byte
    ("a\\", "a", True, False),          # trailing backslash loses
    ("\\*", "*", True, True),
    ("[^a]", "b", True, True),
    ("[ab", "[ab", True, True),         # unterminated '[' is a literal
    ("[[", "[[", False, True),
    ("é", "É", True, False),            # only ASCII folds (C locale)
    ("?", "é", True, False),            # '?' is one byte; é is two
    ("??", "é", True, True),
])
def test_fnmatch_examples(pattern, value, casefold, expected):
    assert fnmatch(pattern, value, casefold) is expected


patterns_list = st.lists(st.text(alphabet="abA.*?[]!\\", min_size=0, max_size=5), min_size=1, max_size=12,
                         unique=True)


@settings(max_examples=500, deadline=None)
@given(patterns_list, st.lists(st.text(alphabet="abAB.*", max_size=5), min_size=1, max_size=8),
       st.booleans())
def test_combined_regex_equals_naive_first_match(patterns, values, casefold):
    d = TlsDomain("d", SERVER)
    arr = AddressArray("*", [MapEntry(p, d, pattern_rank(p)) for p in patterns], casefold)
    for value in values:
        naive = next((i for i, p in enumerate(patterns)
                      if compile_pattern(p, casefold).fullmatch(to_c_text(value))), None)
        assert arr.first_match(value) == naive
