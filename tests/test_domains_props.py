"""Property tests for the domain model: mutated real configs and random modparam values go
through the reader, the modparam engine, tls_list and the matcher without an exception."""

from __future__ import annotations

from corpus import FILES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlsmgm_cli.core.cfg.modparams import build_domains
from tlsmgm_cli.core.cfg.parse import read_config_text
from tlsmgm_cli.core.mi.tls_list import tls_list
from tlsmgm_cli.core.net.addresses import AddressError, parse_match_ip_address
from tlsmgm_cli.core.tls.methods import MethodError, parse_method

TEXTS = [p.read_text(encoding="utf-8", errors="replace") for p in FILES]
PARAMS = ["server_domain", "client_domain", "match_ip_address", "match_sip_domain", "tls_method",
          "verify_cert", "require_cert", "certificate", "ca_dir", "tls_library", "db_table", "nope"]
VALUE = st.one_of(
    st.text(max_size=30),
    st.builds(lambda d, v: f"[{d}]{v}", st.sampled_from(["a", "b", "", " a", "a]"]),
              st.text(alphabet="0123456789abcdefABCDEF:.[]*, -_TLSv", max_size=30)),
)


def pipeline(text: str) -> None:
    parsed = read_config_text(text, "prop.cfg")
    domset = build_domains(parsed)
    reply = tls_list(domset)
    assert len(reply["Domains"]) == len(domset.all)
    from tlsmgm_cli.core.matching.matcher import matching_diagnostics

    matching_diagnostics(domset)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(PARAMS), VALUE), max_size=25))
def test_random_modparams_never_raise(statements):
    lines = ['loadmodule "tls_openssl.so"', 'loadmodule "tls_mgm.so"']
    for param, value in statements:
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        lines.append(f'modparam("tls_mgm", "{param}", "{escaped}")')
    pipeline("\n".join(lines) + "\n")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_corpus_never_raises(data):
    if not TEXTS:
        return
    text = data.draw(st.sampled_from(TEXTS))
    for _ in range(data.draw(st.integers(1, 4))):
        a = data.draw(st.integers(0, len(text)))
        b = data.draw(st.integers(a, min(len(text), a + 300)))
        text = text[:a] + data.draw(st.sampled_from(["", '"', "[", "]", ",", "*", text[a:b] * 2])) + text[b:]
    pipeline(text)


@given(st.text(max_size=40))
def test_method_parser_total(raw):
    try:
        m = parse_method(raw)
    except MethodError as err:
        assert str(err).startswith("unsupported method [")
    else:
        assert m.name  # always nameable


@given(st.text(alphabet="0123456789abcdef:.[]*, \t", max_size=60))
def test_address_parser_total_and_canonical(raw):
    try:
        items = parse_match_ip_address(raw)
    except AddressError:
        return
    for item in items:
        assert item == "*" or item.rsplit(":", 1)[1].isdigit()
        # canonical forms are fixed points
        assert item == "*" or parse_match_ip_address(item) == [item]
