"""The one DER reader (core/x509/der.py): bounds-checked, only its own error on any input."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given, settings
from hypothesis import strategies as st

from tlsmgm_cli.core.x509 import der
from tlsmgm_cli.core.x509.hash import canonical_name_encoding
from tlsmgm_cli.core.x509.pem import PemBlock


def _walk(tlv: der.Tlv, depth: int = 0) -> int:
    """Read every constructed element down to the leaves; the count of elements."""
    if not tlv.constructed or depth > 20:
        return 1
    return 1 + sum(_walk(child, depth + 1) for child in tlv.children())


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=64), st.integers(min_value=0, max_value=70), st.one_of(st.none(), st.integers(0, 70)))
def test_random_bytes_raise_only_the_readers_error(data, pos, end):
    try:
        tag, start, stop = der.header(data, pos, end)
    except der.DerError:
        return
    limit = len(data) if end is None else min(end, len(data))
    assert 0 <= pos < start <= stop <= limit and tag == data[pos]
    for call in (der.elements, der.first, der.split_tlv, der.element_length):
        try:
            call(data)
        except der.DerError:
            pass


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=48))
def test_random_bytes_walk_without_a_foreign_error(data):
    try:
        for tlv in der.elements(data):
            _walk(tlv)
    except der.DerError:
        pass


@given(st.integers(0, 0xFFFF), st.sampled_from([0x04, 0x30, 0xA3]))
def test_encode_then_read_round_trip(size, tag):
    content = bytes(size % 256 for _ in range(size))
    encoded = der.encode_tlv(tag, content)
    tlv, after = der.read_tlv(encoded)
    assert (tlv.tag, tlv.content, tlv.raw, after) == (tag, content, encoded, len(encoded))


def test_round_trip_on_generated_certificates(pki):
    for issued in (pki.ca, pki.server, pki.rsa1024):
        data = issued.cert.public_bytes(Encoding.DER)
        cert = der.first(data)
        assert cert.raw == data and der.element_length(data) == len(data)
        assert _walk(cert) > 20
        tbs, algorithm, signature = cert.children()
        assert tbs.raw == issued.cert.tbs_certificate_bytes
        rebuilt = der.encode_tlv(0x30, b"".join(der.encode_tlv(t.tag, t.content) for t in (tbs, algorithm, signature)))
        assert rebuilt == data


@pytest.mark.parametrize("data, why", [
    (b"\x30\x80\x00\x00", "indefinite"),          # BER indefinite length
    (b"\x30\x85\x00\x00\x00\x00\x01\x00", "bad"),  # 5 length octets
    (b"\x30\x05\x04\x01", "truncated"),           # runs past the data
    (b"\x1f", "truncated"),
    (b"\x1f\x81\x81", "truncated"),               # high tag number never ends
])
def test_malformed_elements_are_refused(data, why):
    with pytest.raises(der.DerError, match=why):
        der.header(data)
    assert der.element_length(data) is None


def test_a_nested_read_never_leaves_its_parent():
    # a SEQUENCE of 3 content octets whose child claims 5: inside the data, outside the parent
    data = b"\x30\x03\x04\x05\x00" + b"\x00" * 10
    _tag, start, stop = der.header(data)
    with pytest.raises(der.DerError):
        der.header(data, start, stop)
    with pytest.raises(der.DerError):
        der.first(data).children()


def test_trusted_certificate_keeps_the_certificate_alone(pki):
    """pem.py cuts a TRUSTED CERTIFICATE at the end of its first element with the reader."""
    data = pki.ca.cert.public_bytes(Encoding.DER)
    import base64

    body = base64.encodebytes(data + der.encode_tlv(0x30, b"\x06\x01\x00")).replace(b"\n", b"\n")
    block = PemBlock(b"TRUSTED CERTIFICATE", b"-----BEGIN TRUSTED CERTIFICATE-----\n" + body
                     + b"-----END TRUSTED CERTIFICATE-----\n")
    assert block.certificate_der() == data


def test_name_hash_refuses_a_truncated_name_with_a_value_error():
    with pytest.raises(ValueError):
        canonical_name_encoding(b"\x30\x06\x31\x04\x30\x09")
