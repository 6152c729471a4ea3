"""core/tls/clienthello.py: the server_name of real ClientHellos (made by the local OpenSSL
through ssl.MemoryBIO), every prefix of them, and arbitrary bytes (hypothesis)."""

from __future__ import annotations

import ssl

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tlsmgm_cli.core.tls import clienthello
from tlsmgm_cli.core.tls.clienthello import INCOMPLETE, UNKNOWN, needs_early_selection, server_name
from tlsmgm_cli.core.tls.sslverify import can_set_sni, set_sni


def client_hello(sni: str | bytes | None, **options: object) -> bytes:
    """The first flight of a TLS client: the record(s) holding its ClientHello."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    for name, value in options.items():
        setattr(ctx, name, value)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname=sni if isinstance(sni, str) else None)
    if isinstance(sni, bytes):
        assert set_sni(obj, sni)
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return outgoing.read()


@pytest.mark.parametrize("sni", ["sip.example.com", "a" * 63 + "." + "b" * 63, "x"])
def test_ascii_names_are_read(sni: str) -> None:
    assert server_name(client_hello(sni)) == sni.encode()


def test_no_sni_is_none() -> None:
    assert server_name(client_hello(None)) is None  # an IP literal or no name: no extension


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_names_in_hellos_of_each_version(version: ssl.TLSVersion) -> None:
    hello = client_hello("v.example.com", maximum_version=version)
    assert server_name(hello) == b"v.example.com"


@pytest.mark.skipif(not can_set_sni(), reason="needs libssl reachable to send a non-ASCII SNI")
@pytest.mark.parametrize("raw", [b"caf\xe9.org", b"caf\xc3\xa9.org", b"\xff" * 255, b"a\x1b]0;x\x07"])
def test_raw_bytes_are_read_as_sent(raw: bytes) -> None:
    found = server_name(client_hello(raw))
    assert found == raw
    assert needs_early_selection(found) is (not raw.isascii())


def test_every_prefix_of_a_hello_is_incomplete() -> None:
    hello = client_hello("prefix.example.com")
    total = clienthello.record_length(hello)
    assert total == len(hello)
    for cut in range(total):
        assert server_name(hello[:cut]) == INCOMPLETE, cut
    assert server_name(hello + b"\x17\x03\x03") == b"prefix.example.com"  # what follows is not read


def test_what_is_not_a_client_hello_is_unknown() -> None:
    hello = client_hello("x.example.com")
    assert server_name(b"OPTIONS sip:x SIP/2.0\r\n") == UNKNOWN  # plain SIP on a TLS port
    assert server_name(b"\x17" + hello[1:]) == UNKNOWN  # application data record
    assert server_name(hello[:5] + b"\x02" + hello[6:]) == UNKNOWN  # a ServerHello
    huge = b"\x16\x03\x01\xff\xff"  # longer than any TLS record
    assert server_name(huge) == UNKNOWN
    # the handshake message announces more than its record holds (split over records)
    assert server_name(hello[:6] + b"\x00\xff\xff" + hello[9:]) == UNKNOWN


def test_needs_early_selection_only_for_what_openssl_accepts() -> None:
    assert not needs_early_selection(b"ascii.example.com")
    assert not needs_early_selection(None) and not needs_early_selection(UNKNOWN)
    assert not needs_early_selection(b"caf\xe9\x00.org")  # OpenSSL refuses a NUL itself
    assert not needs_early_selection(b"\xe9" * 256)  # longer than a host name may be
    assert needs_early_selection(b"caf\xe9.org")


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    found = server_name(data)
    assert found is None or found in (INCOMPLETE, UNKNOWN) or isinstance(found, bytes)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_mutated_hellos_never_raise_nor_read_past_the_record(data: st.DataObject) -> None:
    hello = bytearray(client_hello("m.example.com"))
    for _ in range(data.draw(st.integers(1, 8))):
        hello[data.draw(st.integers(0, len(hello) - 1))] = data.draw(st.integers(0, 255))
    found = server_name(bytes(hello))
    if isinstance(found, bytes):
        assert found in bytes(hello) and len(found) <= len(hello)
