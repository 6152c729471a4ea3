"""core.x509.hash: OpenSSL's X509_NAME_hash_ex, checked against the openssl binary."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from cryptography import x509
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID, ObjectIdentifier
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlsmgm_cli.core.x509 import certgen
from tlsmgm_cli.core.x509.hash import canonical_name_encoding, canonical_value, name_hash, name_hash_der

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl binary not installed")


def attr(oid: ObjectIdentifier, value: str, kind: _ASN1Type = _ASN1Type.UTF8String) -> x509.NameAttribute:
    return x509.NameAttribute(oid, value, _type=kind)


def rdn(*attributes: x509.NameAttribute) -> x509.RelativeDistinguishedName:
    return x509.RelativeDistinguishedName(attributes)


def cn(value: str, kind: _ASN1Type = _ASN1Type.UTF8String) -> x509.Name:
    return x509.Name([attr(NameOID.COMMON_NAME, value, kind)])


def openssl_hashes(name: x509.Name) -> tuple[str, str]:
    """(openssl x509 -hash, openssl crl -hash) for a certificate and a CRL named ``name``."""
    issued = certgen.make_cert(None, "x", subject=name, self_signed=True, sans=["DNS:x"])
    crl = certgen.make_crl(issued, [1])

    def run(kind: str, pem: bytes) -> str:
        out = subprocess.run([OPENSSL, kind, "-hash", "-noout"], input=pem, capture_output=True, check=True)
        return out.stdout.decode().strip()

    return run("x509", issued.cert_pem()), run("crl", certgen.crl_pem(crl))


NAMES = {
    "plain": cn("Hello World"),
    "mixed-case-and-spaces": cn("  MiXeD   Case\tTabs\n  "),
    "all-whitespace-kinds": cn("\x0b a\x0c\rB \n\tc \x0b"),
    "non-ascii-upper-kept": cn("Zoë ÉCOLE Straße"),
    "non-ascii-spaces-kept": cn("a\u00a0B\u3000c"),
    "bmp": cn("Ünïcode  BMP  Name", _ASN1Type.BMPString),
    "universal": cn("Universal 𝄞 CLEF", _ASN1Type.UniversalString),
    "printable": cn("Printable  UPPER", _ASN1Type.PrintableString),
    "t61": cn("T61 Value", _ASN1Type.T61String),
    "ia5-email": x509.Name([attr(NameOID.EMAIL_ADDRESS, "Alice@Example.COM ", _ASN1Type.IA5String)]),
    "numeric-not-canonicalised": x509.Name([attr(ObjectIdentifier("2.5.4.5"), "12  34", _ASN1Type.NumericString)]),
    "multi-valued-rdn": x509.Name([rdn(attr(NameOID.ORGANIZATION_NAME, "ACME"),
                                       attr(NameOID.COMMON_NAME, "Multi Value"))]),
    "multi-valued-rdn-mixed-types": x509.Name([
        rdn(attr(NameOID.COUNTRY_NAME, "RO", _ASN1Type.PrintableString)),
        rdn(attr(NameOID.ORGANIZATIONAL_UNIT_NAME, "R&D/Ops + QA"),
            attr(NameOID.LOCALITY_NAME, "Bucureşti", _ASN1Type.BMPString)),
        rdn(attr(NameOID.COMMON_NAME, "Zoë/Ünïcode+plus, comma"))]),
    "long-value": x509.Name([attr(NameOID.ORGANIZATION_NAME, "Long " * 40)]),
    "empty": x509.Name([]),
}


@needs_openssl
@pytest.mark.parametrize("name", NAMES.values(), ids=NAMES.keys())
def test_name_hash_equals_openssl(name: x509.Name) -> None:
    x509_hash, crl_hash = openssl_hashes(name)
    assert name_hash(name) == x509_hash
    assert x509_hash == crl_hash


@needs_openssl
def test_special_fixture_subject_hash_equals_openssl(pki) -> None:
    out = subprocess.run([OPENSSL, "x509", "-hash", "-noout", "-in", str(pki.special.cert_path)],
                         capture_output=True, text=True, check=True)
    assert name_hash(pki.special.cert.subject) == out.stdout.strip()


def test_case_and_whitespace_do_not_change_the_hash() -> None:
    assert name_hash(cn("Hello World")) == name_hash(cn("  hELLO \t\n  wORLD "))
    assert name_hash(cn("Hello World")) == name_hash(cn("hello world", _ASN1Type.BMPString))
    assert name_hash(cn("Hello World")) != name_hash(cn("HelloWorld"))


def test_non_ascii_letters_are_not_lowercased() -> None:
    assert name_hash(cn("É")) != name_hash(cn("é"))
    assert canonical_value("ÉA".encode()) == "Éa".encode()


def test_canonical_value_rules() -> None:
    assert canonical_value(b"  Foo \t\x0b BAR  ") == b"foo bar"
    assert canonical_value(b" \t\r\n") == b""
    assert canonical_value("a\u00a0b".encode()) == "a\u00a0b".encode()


def test_multi_valued_rdn_order_is_irrelevant_but_grouping_is_not() -> None:
    o, c = attr(NameOID.ORGANIZATION_NAME, "ACME"), attr(NameOID.COMMON_NAME, "x")
    together = x509.Name([rdn(o, c)])
    assert name_hash(together) == name_hash_der(together.public_bytes())
    assert canonical_name_encoding(together.public_bytes()).startswith(b"\x31")
    assert name_hash(together) != name_hash(x509.Name([rdn(o), rdn(c)]))


def test_rdn_order_matters() -> None:
    o, c = attr(NameOID.ORGANIZATION_NAME, "ACME"), attr(NameOID.COMMON_NAME, "x")
    assert name_hash(x509.Name([o, c])) != name_hash(x509.Name([c, o]))


def test_empty_name_is_sha1_of_nothing() -> None:
    # SHA-1("") = da39a3ee..., first four bytes little-endian
    assert name_hash(x509.Name([])) == "eea339da"


@pytest.mark.parametrize("der", [b"", b"\x30", b"\x31\x00", b"\x30\x05\x31\x00", b"\x30\x02\x30\x00",
                                 b"\x30\x00\x00"])
def test_malformed_der_is_rejected(der: bytes) -> None:
    with pytest.raises(ValueError):
        name_hash_der(der)


# ---- property tests -------------------------------------------------------------------------

_ASCII_ALPHABET = "aBcDeFgHxYz019 -.\t\n"
_UNICODE_ALPHABET = _ASCII_ALPHABET + "éÉßÖ中\u00a0\u3000"
_TYPES = {
    _ASN1Type.UTF8String: _UNICODE_ALPHABET,
    _ASN1Type.BMPString: _UNICODE_ALPHABET,
    _ASN1Type.IA5String: _ASCII_ALPHABET,
    _ASN1Type.PrintableString: "aBcDeFgHxYz019 -.",
}
_OIDS = [NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME, NameOID.ORGANIZATIONAL_UNIT_NAME,
         NameOID.LOCALITY_NAME]


@st.composite
def attributes(draw: st.DrawFn) -> x509.NameAttribute:
    kind = draw(st.sampled_from(list(_TYPES)))
    value = draw(st.text(alphabet=_TYPES[kind], min_size=1, max_size=20))
    return attr(draw(st.sampled_from(_OIDS)), value, kind)


names = st.lists(st.lists(attributes(), min_size=1, max_size=3,
                          unique_by=lambda a: (a.oid.dotted_string, a.value)).map(lambda a: rdn(*a)),
                 min_size=0, max_size=4).map(x509.Name)


@needs_openssl
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(names)
def test_name_hash_equals_openssl_for_random_names(name: x509.Name) -> None:
    assert name_hash(name) == openssl_hashes(name)[0]


@given(st.text(alphabet=_UNICODE_ALPHABET, max_size=30))
def test_canonical_value_ignores_ascii_case_and_whitespace_runs(value: str) -> None:
    canon = canonical_value(value.encode())
    ascii_swapped = "".join(c.swapcase() if c.isascii() else c for c in value)
    padded = " \t" + ascii_swapped.replace(" ", " \x0b ") + "\r\n"
    assert canonical_value(padded.encode()) == canon
    assert canonical_value(canon) == canon
    text = canon.decode()
    assert text == text.strip(" ") and "  " not in text
    assert not any(c in "\t\n\x0b\x0c\r" or "A" <= c <= "Z" for c in text)
