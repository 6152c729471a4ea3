"""core.net.addresses: the shared IP:PORT parser/formatters (socket_text, split_key,
parse_hostport with and without host names)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tlsmgm_cli.core.errors import TlsmgmError
from tlsmgm_cli.core.net.addresses import (
    ip_addr2a,
    parse_address_item,
    parse_hostport,
    socket_text,
    split_key,
)


def test_socket_text() -> None:
    assert socket_text("10.0.0.1", 5061) == "10.0.0.1:5061"
    assert socket_text("2001:DB8:0:0:0:0:0:A", 5061) == "[2001:db8::a]:5061"
    assert socket_text("::1", 1) == "[::1]:1"


@pytest.mark.parametrize("text, expected", [
    ("10.0.0.1:5061", ("10.0.0.1", 5061)),
    ("2001:DB8:0:0:0:0:0:A:5061", ("2001:DB8:0:0:0:0:0:A", 5061)),  # a map key
    ("[2001:db8::a]:5061", ("2001:DB8:0:0:0:0:0:A", 5061)),         # a socket_text
    ("*", None), ("10.0.0.1:x", None), ("10.0.0.1:\u00b9", None),
])
def test_split_key(text: str, expected: tuple[str, int] | None) -> None:
    assert split_key(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("tls:10.0.0.10:5061", ("10.0.0.10", 5061)),
    ("[2001:db8::1]:5061", ("2001:DB8:0:0:0:0:0:1", 5061)),
])
def test_parse_hostport_ip(text: str, expected: tuple[str, int]) -> None:
    assert parse_hostport(text) == expected


@pytest.mark.parametrize("text, message", [
    ("sip.example.com:5061", "--socket 'sip.example.com:5061': 'sip.example.com' is not an IP address"),
    ("10.0.0.10", "--socket '10.0.0.10' has no port (expected IP:PORT, e.g. 10.0.0.10:5061)"),
    ("[::1]5061", "--socket '[::1]5061' is not [IPv6]:PORT"),
    ("::1:5061", "--socket '::1:5061': write IPv6 addresses in brackets with a port"),
    ("10.0.0.10:0", "--socket '10.0.0.10:0': port '0' is not a number from 1 to 65535"),
])
def test_parse_hostport_ip_errors(text: str, message: str) -> None:
    with pytest.raises(TlsmgmError) as err:
        parse_hostport(text, what="--socket")
    assert str(err.value).startswith(message)


@pytest.mark.parametrize("text, expected", [
    ("sip.example.com:5061", ("sip.example.com", 5061)), ("[::1]:5061", ("::1", 5061)),
    ("10.0.0.1:1", ("10.0.0.1", 1)),
])
def test_parse_hostport_hostname(text: str, expected: tuple[str, int]) -> None:
    assert parse_hostport(text, what="", allow_hostname=True) == expected


@pytest.mark.parametrize("text, message", [
    ("host", "'host' has no port (expected HOST:PORT, e.g. sip.example.com:5061)"),
    (":5061", "':5061' has no host (expected HOST:PORT, e.g. sip.example.com:5061)"),
    ("host:70000", "'host:70000': port '70000' is not a number from 1 to 65535"),
])
def test_parse_hostport_hostname_errors(text: str, message: str) -> None:
    with pytest.raises(TlsmgmError) as err:
        parse_hostport(text, what="", allow_hostname=True)
    assert str(err.value) == message


@given(st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)), st.integers(1, 65535))
def test_socket_text_round_trips(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int) -> None:
    key = parse_address_item(f"{ip}:{port}")  # the matching-map key OpenSIPS builds
    canonical = ip_addr2a(ip.packed)
    assert split_key(key) == (canonical, port)
    shown = socket_text(canonical, port)
    assert split_key(shown) == (canonical, port)
    assert parse_hostport(shown) == (canonical, port)


@given(st.text(max_size=30))
def test_parsers_raise_only_their_errors(text: str) -> None:
    for allow_hostname in (False, True):
        try:
            host, port = parse_hostport(text, allow_hostname=allow_hostname)
        except TlsmgmError:
            continue
        assert 0 < port < 65536 and host
    split_key(text)


def test_port_zero_only_where_allowed():
    import pytest

    from tlsmgm_cli.core.errors import TlsmgmError
    from tlsmgm_cli.core.net.addresses import parse_hostport

    assert parse_hostport("127.0.0.1:0", allow_port_zero=True) == ("127.0.0.1", 0)
    assert parse_hostport("[::1]:0", allow_port_zero=True) == ("0:0:0:0:0:0:0:1", 0)
    with pytest.raises(TlsmgmError, match="from 1 to 65535"):
        parse_hostport("127.0.0.1:0")
