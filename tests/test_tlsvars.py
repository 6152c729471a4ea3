"""$tls_* formatting (behaviour §5): exact strings, cross-checked with openssl."""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import ssl
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from tlsmgm_cli.core.x509 import der as der_reader
from tlsmgm_cli.core.x509 import tlsvars
from tlsmgm_cli.core.x509.tlsvars import NameEntry, cert_vars, name_oneline

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl binary not installed")
KEY = ec.generate_private_key(ec.SECP256R1())
NOT_BEFORE = dt.datetime(2026, 1, 5, 9, 3, 7, tzinfo=dt.timezone.utc)
NOT_AFTER = dt.datetime(2036, 12, 25, 23, 59, 59, tzinfo=dt.timezone.utc)


def attr(oid: x509.ObjectIdentifier, value: str, kind: _ASN1Type | None = None) -> x509.NameAttribute:
    return x509.NameAttribute(oid, value, _type=kind) if kind else x509.NameAttribute(oid, value)


def name(*rdns: x509.NameAttribute | list[x509.NameAttribute]) -> x509.Name:
    return x509.Name([x509.RelativeDistinguishedName(r if isinstance(r, list) else [r]) for r in rdns])


def make(subject: x509.Name, *, issuer: x509.Name | None = None, serial: int = 0x3001,
         sans: list[x509.GeneralName] | None = None) -> x509.Certificate:
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer or subject)
               .public_key(KEY.public_key()).serial_number(serial)
               .not_valid_before(NOT_BEFORE).not_valid_after(NOT_AFTER))
    if sans is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(KEY, hashes.SHA256())


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def tlv(tag: int, body: bytes) -> bytes:
    if len(body) < 0x80:
        return bytes([tag, len(body)]) + body
    size = len(body).to_bytes((len(body).bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + body


def as_v1(cert: x509.Certificate) -> bytes:
    """The same certificate re-signed without the [0] version field (an X.509 v1)."""
    whole = der_reader.first(der(cert))
    tbs, sig_alg, _sig = whole.children()
    fields = [f.raw for f in tbs.children() if f.tag != 0xA0]
    new_tbs = tlv(0x30, b"".join(fields))
    signature = KEY.sign(new_tbs, ec.ECDSA(hashes.SHA256()))
    return tlv(0x30, new_tbs + sig_alg.raw + tlv(0x03, b"\x00" + signature))


def openssl_compat(cert_der: bytes, tmp_path: Path, what: str = "subject") -> str:
    path = tmp_path / "c.der"
    path.write_bytes(cert_der)
    out = subprocess.run([OPENSSL, "x509", "-inform", "DER", "-in", str(path), "-noout", f"-{what}",
                          "-nameopt", "compat"], capture_output=True, check=True).stdout
    return out.decode("latin-1").rstrip("\n").split("=", 1)[1]


FULL = name(attr(NameOID.COUNTRY_NAME, "AT"), attr(NameOID.STATE_OR_PROVINCE_NAME, "Vienna"),
            attr(NameOID.LOCALITY_NAME, "Vienna"), attr(NameOID.ORGANIZATION_NAME, "enum.at"),
            attr(NameOID.ORGANIZATIONAL_UNIT_NAME, "ops"), attr(NameOID.ORGANIZATIONAL_UNIT_NAME, "second"),
            attr(NameOID.COMMON_NAME, "enum.at"), attr(NameOID.SERIAL_NUMBER, "SN-42"),
            attr(NameOID.EMAIL_ADDRESS, "admin@enum.at"))


def test_full_subject_and_every_single_field_variable() -> None:
    issuer = name(attr(NameOID.COUNTRY_NAME, "DE"), attr(NameOID.ORGANIZATION_NAME, "Issuer Org"),
                  attr(NameOID.COMMON_NAME, "Issuer CA"))
    values = cert_vars(der(make(FULL, issuer=issuer)))
    assert values["tls_peer_subject"] == (
        "/C=AT/ST=Vienna/L=Vienna/O=enum.at/OU=ops/OU=second/CN=enum.at/serialNumber=SN-42"
        "/emailAddress=admin@enum.at")
    assert values["tls_peer_issuer"] == "/C=DE/O=Issuer Org/CN=Issuer CA"
    assert [values[f"tls_peer_subject_{k}"] for k in
            ("cn", "locality", "country", "state", "organization", "unit", "serial")] == \
        ["enum.at", "Vienna", "AT", "Vienna", "enum.at", "ops", "SN-42"]  # only the first OU
    assert values["tls_peer_issuer_cn"] == "Issuer CA"
    assert values["tls_peer_issuer_state"] is None
    assert "tls_peer_issuer_serial" not in values  # no issuer variant
    assert values["tls_peer_version"] == "2"
    assert values["tls_peer_serial"] == "12289"  # 0x3001 (behaviour §5.5)
    assert values["tls_peer_notBefore"] == "Jan  5 09:03:07 2026 GMT"
    assert values["tls_peer_notAfter"] == "Dec 25 23:59:59 2036 GMT"


def test_variable_names_and_order_follow_spec() -> None:
    names = list(cert_vars(der(make(FULL))))
    assert names[:4] == ["tls_peer_version", "tls_peer_serial", "tls_peer_subject", "tls_peer_issuer"]
    assert names[-6:] == ["tls_peer_verified", "tls_peer_revoked", "tls_peer_expired",
                          "tls_peer_selfsigned", "tls_peer_notBefore", "tls_peer_notAfter"]
    mine = cert_vars(der(make(FULL)), "my")
    assert "tls_my_subject_serial" in mine and "tls_my_notBefore" not in mine
    assert not any(k.endswith(("verified", "revoked", "expired", "selfsigned")) for k in mine)
    assert len(names) == 27 and len(mine) == 21


def test_utf8_bmp_and_escapes() -> None:
    subject = name(attr(NameOID.ORGANIZATION_NAME, "Caf\u00e9 \u00celes"),
                   attr(NameOID.COMMON_NAME, "A", _ASN1Type.BMPString),
                   attr(NameOID.LOCALITY_NAME, "\u00c9t\u00e9", _ASN1Type.BMPString),
                   attr(NameOID.ORGANIZATIONAL_UNIT_NAME, "a/b+c, d=e"),
                   attr(NameOID.STATE_OR_PROVINCE_NAME, "tab\there"))
    values = cert_vars(der(make(subject)))
    assert values["tls_peer_subject"] == (
        "/O=Caf\\xC3\\xA9 \\xC3\\x8Eles/CN=\\x00A/L=\\x00\\xC9\\x00t\\x00\\xE9"
        "/OU=a\\/b\\+c, d=e/ST=tab\\x09here")
    assert values["tls_peer_subject_organization"] == "Caf\u00e9 \u00celes"  # raw UTF-8, unescaped
    assert values["tls_peer_subject_cn"] == "A"
    assert values["tls_peer_subject_locality"] == "\u00c9t\u00e9"
    assert values["tls_peer_subject_unit"] == "a/b+c, d=e"


def test_multi_valued_rdn_and_unknown_oid() -> None:
    subject = name(attr(NameOID.COUNTRY_NAME, "US"),
                   [attr(NameOID.ORGANIZATIONAL_UNIT_NAME, "sales"), attr(NameOID.COMMON_NAME, "bob")],
                   attr(x509.ObjectIdentifier("1.3.6.1.4.1.99999.7"), "custom"),
                   attr(NameOID.DOMAIN_COMPONENT, "example"), attr(NameOID.USER_ID, "u1"),
                   attr(NameOID.SURNAME, "Smith"), attr(NameOID.GIVEN_NAME, "Bob"))
    values = cert_vars(der(make(subject)))
    # the SET OF inside an RDN is DER-sorted: CN (tag 06 03 55 04 03) before OU
    assert values["tls_peer_subject"] == (
        "/C=US/CN=bob+OU=sales/1.3.6.1.4.1.99999.7=custom/DC=example/UID=u1/SN=Smith/GN=Bob")
    assert values["tls_peer_subject_cn"] == "bob"


def test_empty_subject_is_empty_string() -> None:
    values = cert_vars(der(make(x509.Name([]), issuer=FULL)))
    assert values["tls_peer_subject"] == ""
    assert values["tls_peer_subject_cn"] is None


def test_long_subject_truncates_to_whole_entries() -> None:
    subject = name(*[attr(NameOID.ORGANIZATIONAL_UNIT_NAME, f"unit-{i:03d}-" + "x" * 40) for i in range(30)])
    text = cert_vars(der(make(subject)))["tls_peer_subject"]
    entry_len = len("/OU=unit-000-" + "x" * 40)  # 53
    assert len(text) == (1023 // entry_len) * entry_len == 1007
    assert text.endswith("/OU=unit-018-" + "x" * 40)


def test_truncation_counts_escaped_characters() -> None:
    # 254 x 'é' (2 UTF-8 bytes -> 8 chars each) would be 2032 chars: the entry is dropped whole
    entries = [NameEntry("2.5.4.6", 19, b"AT", 0), NameEntry("2.5.4.3", 12, "\u00e9".encode() * 64, 1)]
    assert name_oneline(entries) == "/C=AT/CN=" + "\\xC3\\xA9" * 64  # 9 + 512 = 521 chars fit
    entries.append(NameEntry("2.5.4.10", 19, b"y" * (1023 - 521 - 3), 2))  # exactly 1023
    assert len(name_oneline(entries)) == 1023
    entries[-1] = NameEntry("2.5.4.10", 19, b"y" * (1023 - 521 - 2), 2)  # 1024: dropped
    assert name_oneline(entries) == "/C=AT/CN=" + "\\xC3\\xA9" * 64


def test_first_entry_too_long_gives_empty_string() -> None:
    assert name_oneline([NameEntry("2.5.4.3", 19, b"z" * 1100, 0)]) == ""


def test_general_string_ucs4_quirk_and_field_conversion() -> None:
    ucs4 = b"\x00\x00\x00A\x00\x00\x00B"
    assert name_oneline([NameEntry("2.5.4.3", tlsvars.TAG_GENERAL, ucs4, 0)]) == "/CN=AB"
    assert name_oneline([NameEntry("2.5.4.3", tlsvars.TAG_GENERAL, b"ABCD", 0)]) == "/CN=ABCD"
    assert name_oneline([NameEntry("2.5.4.3", tlsvars.TAG_UNIVERSAL, ucs4, 0)]) == \
        "/CN=\\x00\\x00\\x00A\\x00\\x00\\x00B"
    assert tlsvars.asn1_string_to_utf8(tlsvars.TAG_UNIVERSAL, ucs4) == "AB"
    assert tlsvars.asn1_string_to_utf8(tlsvars.TAG_GENERAL, b"x") is None
    assert tlsvars.asn1_string_to_utf8(20, b"\xe9") == "\u00e9"  # T61 as Latin-1
    assert tlsvars.asn1_string_to_utf8(tlsvars.TAG_BMP, b"\x00") is None
    assert tlsvars.asn1_string_to_utf8(tlsvars.TAG_UTF8, b"\xff") is None


def test_single_field_of_1024_bytes_is_null() -> None:
    entries = (NameEntry("2.5.4.3", 12, b"c" * 1023, 0),)
    assert tlsvars.name_field(entries, "2.5.4.3") == "c" * 1023
    assert tlsvars.name_field((NameEntry("2.5.4.3", 12, b"c" * 1024, 0),), "2.5.4.3") is None


@pytest.mark.parametrize(("serial", "expected"), [
    (0x1F, "31"), (1, "1"), (0x7FFFFFFF, "2147483647"), (0x80000000, "18446744071562067968"),
    (0x1_0000_0001, "1"), (2**63 - 1, "18446744073709551615"),
    (int.from_bytes(b"\x4a" + bytes(range(1, 20)), "big"), "18446744073709551615"),
])
def test_serial_32_bit_quirk(serial: int, expected: str) -> None:
    assert cert_vars(der(make(FULL, serial=serial)))["tls_peer_serial"] == expected


def test_version_v1_and_v3() -> None:
    cert = make(FULL)
    v1 = as_v1(cert)
    assert x509.load_der_x509_certificate(v1).version == x509.Version.v1
    assert cert_vars(v1)["tls_peer_version"] == "0"
    assert cert_vars(v1)["tls_peer_subject"] == cert_vars(der(cert))["tls_peer_subject"]
    assert cert_vars(der(cert))["tls_peer_version"] == "2"


def test_every_san_kind_first_of_each() -> None:
    sans = [x509.RFC822Name("alice@atlanta.com"), x509.DNSName("sip.atlanta.com"),
            x509.DNSName("second.atlanta.com"), x509.UniformResourceIdentifier("sip:alice@atlanta.com"),
            x509.IPAddress(ipaddress.ip_address("2001:db8::1")), x509.IPAddress(ipaddress.ip_address("10.0.0.7")),
            x509.RFC822Name("bob@atlanta.com")]
    values = cert_vars(der(make(FULL, sans=sans)))
    assert values["tls_peer_san_email"] == "alice@atlanta.com"
    assert values["tls_peer_san_hostname"] == "sip.atlanta.com"
    assert values["tls_peer_san_uri"] == "sip:alice@atlanta.com"
    assert values["tls_peer_san_ip"] == "2001:DB8:0:0:0:0:0:1"
    ipv4 = cert_vars(der(make(FULL, sans=[x509.IPAddress(ipaddress.ip_address("192.0.2.10"))])))
    assert ipv4["tls_peer_san_ip"] == "192.0.2.10" and ipv4["tls_peer_san_hostname"] is None
    full6 = cert_vars(der(make(FULL, sans=[x509.IPAddress(ipaddress.ip_address("fe80::a:bc00:1"))])))
    assert full6["tls_peer_san_ip"] == "FE80:0:0:0:0:A:BC00:1"


def test_no_san_extension_gives_null() -> None:
    values = cert_vars(der(make(FULL)))
    assert [values[f"tls_peer_san_{k}"] for k in ("email", "hostname", "uri", "ip")] == [None] * 4


def test_dates_with_generalized_time_and_fraction() -> None:
    assert tlsvars.asn1_time_print(0x18, b"20500101000000Z") == "Jan  1 00:00:00 2050 GMT"
    assert tlsvars.asn1_time_print(0x18, b"20500101000000.25Z") == "Jan  1 00:00:00.25 2050 GMT"
    assert tlsvars.asn1_time_print(0x17, b"491231235959Z") == "Dec 31 23:59:59 2049 GMT"
    assert tlsvars.asn1_time_print(0x17, b"991231235959Z") == "Dec 31 23:59:59 1999 GMT"
    assert tlsvars.asn1_time_print(0x17, b"garbage") is None


def test_verify_flags_from_one_code() -> None:
    assert tlsvars.verify_flags(0)["tls_peer_verified"] == "1"
    flags = tlsvars.verify_flags(18)
    assert flags == {"tls_peer_verified": "0", "tls_peer_revoked": "0", "tls_peer_expired": "0",
                     "tls_peer_selfsigned": "1"}
    assert tlsvars.verify_flags(19)["tls_peer_selfsigned"] == "0"
    assert tlsvars.verify_flags(23)["tls_peer_revoked"] == "1"
    assert tlsvars.verify_flags(10)["tls_peer_expired"] == "1"
    none = tlsvars.no_cert_vars("peer")
    assert none["tls_peer_subject"] is None and none["tls_peer_verified"] == "0"


@needs_openssl
@pytest.mark.parametrize("subject", [
    FULL,
    name(attr(NameOID.ORGANIZATION_NAME, "Caf\u00e9/+,;\"<>"), attr(NameOID.COMMON_NAME, "A", _ASN1Type.BMPString)),
    name([attr(NameOID.ORGANIZATIONAL_UNIT_NAME, "x+y"), attr(NameOID.COMMON_NAME, "z/w")],
         attr(x509.ObjectIdentifier("1.2.3.4.5.6"), "odd"), attr(NameOID.DOMAIN_COMPONENT, "dc"),
         attr(NameOID.TITLE, "Dr"), attr(NameOID.STREET_ADDRESS, "Main St 1"),
         attr(NameOID.POSTAL_CODE, "1010"), attr(NameOID.INN, "1234"),
         attr(x509.ObjectIdentifier("2.5.4.97"), "VATAT-1")),
], ids=["full", "utf8-bmp-escapes", "multi-rdn-oids"])
def test_oneline_matches_openssl_compat(subject: x509.Name, tmp_path: Path) -> None:
    # OpenSSL 3 apps print -nameopt compat with X509_NAME_oneline itself (no 1023 limit)
    cert = der(make(subject))
    assert cert_vars(cert)["tls_peer_subject"] == openssl_compat(cert, tmp_path)
    assert cert_vars(cert)["tls_peer_issuer"] == openssl_compat(cert, tmp_path, "issuer")


@needs_openssl
def test_truncated_oneline_is_prefix_of_openssl(tmp_path: Path) -> None:
    subject = name(*[attr(NameOID.COMMON_NAME, f"{i}-\u00e9" * 9) for i in range(40)])
    cert = der(make(subject))
    full = openssl_compat(cert, tmp_path)
    ours = cert_vars(cert)["tls_peer_subject"]
    assert len(full) > 1023 and full.startswith(ours) and full[len(ours)] == "/"


@needs_openssl
def test_v1_cert_openssl_agrees(tmp_path: Path) -> None:
    path = tmp_path / "v1.der"
    path.write_bytes(as_v1(make(FULL)))
    text = subprocess.run([OPENSSL, "x509", "-inform", "DER", "-in", str(path), "-noout", "-text"],
                          capture_output=True, text=True, check=True).stdout
    assert "Version: 1 (0x0)" in text


def test_connection_vars_on_a_real_tls_connection(tmp_path: Path) -> None:
    import socket
    import threading

    from tlsmgm_cli.core.x509.certgen import make_cert

    issued = make_cert(None, "localhost", self_signed=True)
    (tmp_path / "c.pem").write_bytes(issued.cert_pem())
    (tmp_path / "k.pem").write_bytes(issued.key_pem())
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        with server_ctx.wrap_socket(conn, server_side=True) as tls:
            tls.recv(1)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.check_hostname = False
    client_ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port)) as raw, client_ctx.wrap_socket(raw) as tls:
        values = tlsvars.connection_vars(tls)
        peer = cert_vars(tls.getpeercert(binary_form=True), "peer", 18)
        tls.send(b"x")
    thread.join(5)
    listener.close()
    assert values["tls_version"] == "TLSv1.3"
    assert values["tls_cipher_info"].startswith("TLS_")
    assert values["tls_cipher_bits"] in ("128", "256")
    assert values["tls_description"].startswith(values["tls_cipher_info"] + " ")
    assert values["tls_description"].endswith("Mac=AEAD\n") and " TLSv1.3 Kx=any      Au=any " in \
        values["tls_description"]
    assert peer["tls_peer_subject"] == "/CN=localhost" and peer["tls_peer_selfsigned"] == "1"


@given(st.lists(st.tuples(st.sampled_from(["2.5.4.3", "2.5.4.10", "1.2.3"]), st.binary(max_size=120),
                          st.booleans()), max_size=40))
def test_oneline_property_whole_entries_within_limit(items: list[tuple[str, bytes, bool]]) -> None:
    entries, rdn = [], -1
    for oid, value, same_rdn in items:
        rdn = rdn if same_rdn and rdn >= 0 else rdn + 1
        entries.append(NameEntry(oid, 4, value, rdn))
    text = name_oneline(entries)
    unlimited = name_oneline(entries, limit=10**9)
    assert len(text) <= 1023 and unlimited.startswith(text)
    assert len(text) == len(unlimited) or len(unlimited) > 1023
    assert text == "" or text[0] == "/"


@given(st.binary(max_size=300))
def test_der_walker_never_crashes_otherwise(data: bytes) -> None:
    try:
        cert_vars(data)
    except tlsvars.DerError:
        pass


def test_first_san_of_a_kind_too_long_gives_null_not_the_next():
    """get_alt stops at the first entry of the kind: >= 1024 bytes -> NULL (behaviour §5.8)."""

    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    # gen refuses a 1100-character label (RFC 1035), so this certificate is built by hand
    long_name = "a" * 1100 + ".example.com"
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(long_name), x509.DNSName("second.com"),
                                                        x509.RFC822Name("a@b.c")]), critical=False)
            .sign(key, hashes.SHA256()))
    values = cert_vars(cert.public_bytes(serialization.Encoding.DER), "peer", None)
    assert values["tls_peer_san_hostname"] is None
    assert values["tls_peer_san_email"] == "a@b.c"
