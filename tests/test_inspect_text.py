"""``inspect --text``: every field and extension decoded, checked against ``openssl x509
-text -noout`` (the openssl binary is the oracle here; tlsmgm itself never runs it).

Certificates are built at test time with cryptography, carrying every extension kind:
basic constraints, key usage, EKU, SAN of every kind, SKI/AKI, CRL distribution points,
AIA, certificate policies, name constraints, a precertificate SCT list (built as raw
bytes: cryptography decodes SCT lists but has no builder for them) and an unknown
extension; plus one whose extensions cryptography cannot parse.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from clirun import run
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import (
    AuthorityInformationAccessOID,
    ExtendedKeyUsageOID,
    ExtensionOID,
    NameOID,
    ObjectIdentifier,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlsmgm_cli import exitcodes

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="the openssl binary (the oracle) is not installed")

NOW = dt.datetime(2026, 1, 5, 9, 3, 7, tzinfo=dt.timezone.utc)
SCT_LOG_IDS = (bytes(range(32)), bytes(range(100, 132)))
SCT_TIMES_MS = (1700000000123, 1600000000000)


def sct_list_extension() -> bytes:
    """The extnValue of a precertificate SCT list (RFC 6962 §3.3): an OCTET STRING holding
    the TLS-encoded SignedCertificateTimestampList of two v1 SCTs."""
    def sct(log_id: bytes, ms: int) -> bytes:
        sig = b"\x30\x06\x02\x01\x01\x02\x01\x01"
        body = b"\x00" + log_id + struct.pack(">Q", ms) + b"\x00\x00" + b"\x04\x03" + struct.pack(">H", len(sig)) + sig
        return struct.pack(">H", len(body)) + body

    items = b"".join(sct(log_id, ms) for log_id, ms in zip(SCT_LOG_IDS, SCT_TIMES_MS, strict=True))
    inner = struct.pack(">H", len(items)) + items
    assert len(inner) < 256
    return b"\x04\x81" + bytes([len(inner)]) + inner if len(inner) > 127 else b"\x04" + bytes([len(inner)]) + inner


def _name(cn: str, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "US")]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def full_certificate(key_kind: str = "rsa", serial: int = 0x1234567890ABCDEF1234) -> x509.Certificate:
    """A certificate with every extension kind ``inspect --text`` decodes."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048) if key_kind == "rsa" \
        else ec.generate_private_key(ec.SECP384R1())
    san = [
        x509.DNSName("leaf.example.com"), x509.DNSName("*.example.org"),
        x509.IPAddress(ipaddress.ip_address("192.0.2.7")), x509.IPAddress(ipaddress.ip_address("2001:db8::1")),
        x509.RFC822Name("ops@example.com"), x509.UniformResourceIdentifier("sip:alice@example.com"),
        x509.DirectoryName(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dir name")])),
        x509.OtherName(ObjectIdentifier("1.3.6.1.4.1.311.20.2.3"), b"\x0c\x05hello"),
        x509.RegisteredID(ObjectIdentifier("1.2.3.4")),
    ]
    builder = (
        x509.CertificateBuilder().subject_name(_name("leaf.example.com", "Test Org")).issuer_name(_name("Test CA"))
        .public_key(key.public_key()).serial_number(serial)
        .not_valid_before(NOW).not_valid_after(NOW + dt.timedelta(days=90))
        .add_extension(x509.BasicConstraints(ca=True, path_length=2), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=True,
                                     data_encipherment=False, key_agreement=True, key_cert_sign=True,
                                     crl_sign=True, encipher_only=True, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH,
                                              ObjectIdentifier("1.2.3.4.5")]), critical=False)
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
            [x509.UniformResourceIdentifier("http://crl.example.com/ca.crl")], None, None, None)]), critical=False)
        .add_extension(x509.AuthorityInformationAccess([
            x509.AccessDescription(AuthorityInformationAccessOID.OCSP,
                                   x509.UniformResourceIdentifier("http://ocsp.example.com")),
            x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS,
                                   x509.UniformResourceIdentifier("http://ca.example.com/ca.crt"))]), critical=False)
        .add_extension(x509.CertificatePolicies([
            x509.PolicyInformation(ObjectIdentifier("2.23.140.1.2.1"), None),
            x509.PolicyInformation(ObjectIdentifier("1.3.6.1.4.1.44947.1.1.1"), [
                "http://cps.example.com",
                x509.UserNotice(x509.NoticeReference("Org", [1, 2]), "explicit text")])]), critical=False)
        .add_extension(x509.NameConstraints(
            permitted_subtrees=[x509.DNSName("example.com"), x509.IPAddress(ipaddress.ip_network("10.0.0.0/8"))],
            excluded_subtrees=[x509.DNSName("bad.example.com")]), critical=True)
        .add_extension(x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2"),
                                                  sct_list_extension()), critical=False)
        .add_extension(x509.UnrecognizedExtension(ObjectIdentifier("1.2.3.4.5.6.7"), b"\x04\x03abc"), critical=True)
    )
    return builder.sign(ca_key, hashes.SHA256())


def write_pem(path: Path, cert: x509.Certificate) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


# ---- the oracle ------------------------------------------------------------------------------
def openssl_text(path: Path) -> str:
    return subprocess.run([OPENSSL, "x509", "-in", str(path), "-text", "-noout"], capture_output=True, text=True,
                          check=True, timeout=30).stdout


def openssl_extensions(text: str) -> dict[str, tuple[bool, list[str]]]:
    """{heading: (critical, value lines stripped)} of ``openssl x509 -text``'s extensions."""
    out: dict[str, tuple[bool, list[str]]] = {}
    block = text.split("X509v3 extensions:\n", 1)[1].split("\n    Signature Algorithm:", 1)[0]
    current = None
    for line in block.splitlines():
        indent = len(line) - len(line.lstrip(" "))
        if indent == 12:
            heading, _, flag = line.strip().rpartition(":")
            current = heading
            out[current] = (flag.strip() == "critical", [])
        elif current is not None and line.strip():
            out[current][1].append(line.strip())
    return out


def openssl_field(text: str, label: str) -> str:
    match = re.search(rf"^\s*{re.escape(label)}\s*(.*)$", text, re.M)
    assert match, f"{label} not in openssl's output"
    return match.group(1).strip()


def inspect_json(path: Path) -> dict:
    result = run("inspect", str(path), "--text", "-f", "json")
    assert result.exit_code == exitcodes.OK, result.output + result.stderr
    return json.loads(result.output)[0]["x509"]


@pytest.fixture(scope="module")
def full_rsa(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_pem(tmp_path_factory.mktemp("x509text") / "full.pem", full_certificate("rsa"))


# ---- fields and extensions against openssl ---------------------------------------------------------
@needs_openssl
def test_fields_match_openssl(full_rsa: Path) -> None:
    ours = inspect_json(full_rsa)
    theirs = openssl_text(full_rsa)
    assert f"Version: {ours['version']} (0x2)" in theirs
    assert re.search(r"Serial Number:\s*\n\s*" + re.escape(ours["serial"]) + r"\n", theirs)
    assert ours["signature_algorithm"] == openssl_field(theirs, "Signature Algorithm:")
    assert ours["issuer"] == openssl_field(theirs, "Issuer:")
    assert ours["subject"] == openssl_field(theirs, "Subject:")
    assert ours["not_before"] == openssl_field(theirs, "Not Before:")
    assert ours["not_after"] == openssl_field(theirs, "Not After :")
    assert ours["public_key"]["algorithm"] == openssl_field(theirs, "Public Key Algorithm:")
    assert f"Public-Key: ({ours['public_key']['bits']} bit)" in theirs
    assert f"Exponent: {ours['public_key']['exponent']} (0x10001)" in theirs


@needs_openssl
@pytest.mark.parametrize("algorithm", ["sha1", "sha256"])
def test_fingerprints_match_openssl(full_rsa: Path, algorithm: str) -> None:
    ours = inspect_json(full_rsa)["fingerprints"][algorithm]
    theirs = subprocess.run([OPENSSL, "x509", "-in", str(full_rsa), "-noout", "-fingerprint", f"-{algorithm}"],
                            capture_output=True, text=True, check=True, timeout=30).stdout
    assert theirs.strip().split("=", 1)[1] == ours


# extensions whose every line tlsmgm prints exactly as openssl does
EXACT = ["X509v3 Basic Constraints", "X509v3 Key Usage", "X509v3 Extended Key Usage", "X509v3 Subject Key Identifier",
         "X509v3 Authority Key Identifier", "X509v3 CRL Distribution Points", "Authority Information Access",
         "X509v3 Certificate Policies", "X509v3 Name Constraints"]


@needs_openssl
@pytest.mark.parametrize("heading", EXACT)
def test_extension_lines_match_openssl(full_rsa: Path, heading: str) -> None:
    ours = {e["name"]: e for e in inspect_json(full_rsa)["extensions"]}
    theirs = openssl_extensions(openssl_text(full_rsa))
    assert heading in theirs and heading in ours
    critical, lines = theirs[heading]
    assert ours[heading]["critical"] is critical
    assert ours[heading]["parsed"] is True
    assert [line.strip() for line in ours[heading]["lines"]] == lines


@needs_openssl
def test_every_extension_is_listed_with_openssl_heading_and_flag(full_rsa: Path) -> None:
    ours = [(e["name"], e["critical"]) for e in inspect_json(full_rsa)["extensions"]]
    theirs = [(name, crit) for name, (crit, _lines) in openssl_extensions(openssl_text(full_rsa)).items()]
    assert ours == theirs


@needs_openssl
def test_san_of_every_kind_matches_openssl(full_rsa: Path) -> None:
    ext = next(e for e in inspect_json(full_rsa)["extensions"] if e["name"] == "X509v3 Subject Alternative Name")
    theirs = openssl_extensions(openssl_text(full_rsa))["X509v3 Subject Alternative Name"][1][0].split(", ")
    ours = ext["lines"][0].split(", ")
    # openssl prints an otherName it knows by its short name only; ours names the OID too
    assert [t for t in ours if not t.startswith("othername:")] == [t for t in theirs if not t.startswith("othername:")]
    assert "othername: UPN (1.3.6.1.4.1.311.20.2.3): hello" in ours
    assert {"type": "otherName", "oid": "1.3.6.1.4.1.311.20.2.3", "value": "hello"} in ext["value"]
    kinds = {v["type"] for v in ext["value"]}
    assert kinds == {"DNS", "IP", "email", "URI", "DirName", "otherName", "RID"}


@needs_openssl
def test_precertificate_scts_match_openssl(full_rsa: Path) -> None:
    ext = next(e for e in inspect_json(full_rsa)["extensions"] if e["oid"] == "1.3.6.1.4.1.11129.2.4.2")
    assert ext["name"] == "CT Precertificate SCTs" and ext["parsed"]
    theirs = openssl_text(full_rsa)
    their_ids = [re.sub(r"[\s]", "", m) for m in re.findall(r"Log ID\s*:\s*([0-9A-F:\s]+?)\s*Timestamp", theirs)]
    their_times = re.findall(r"Timestamp : (.+)", theirs)
    assert [s["log_id"] for s in ext["value"]] == their_ids
    assert [line.split(" : ", 1)[1] for line in ext["lines"] if "Timestamp :" in line] == their_times
    assert [s["log_id"] for s in ext["value"]] == [":".join(f"{b:02X}" for b in i) for i in SCT_LOG_IDS]


@needs_openssl
def test_unknown_extension_is_oid_critical_and_hex(full_rsa: Path) -> None:
    ext = next(e for e in inspect_json(full_rsa)["extensions"] if e["oid"] == "1.2.3.4.5.6.7")
    assert openssl_extensions(openssl_text(full_rsa))["1.2.3.4.5.6.7"][0] is True
    assert ext["name"] == "1.2.3.4.5.6.7" and ext["critical"] is True and ext["parsed"] is False
    assert ext["value"] == {"unknown": True, "length": 5, "hex": "04:03:61:62:63"}


@needs_openssl
def test_ec_key_and_small_serial_match_openssl(tmp_path: Path) -> None:
    path = write_pem(tmp_path / "ec.pem", full_certificate("ec", serial=4660))
    ours = inspect_json(path)
    theirs = openssl_text(path)
    assert ours["serial"] == "4660 (0x1234)" and "Serial Number: 4660 (0x1234)" in theirs
    key = ours["public_key"]
    assert (key["algorithm"], key["bits"], key["curve"], key["nist_curve"]) == \
        ("id-ecPublicKey", 384, "secp384r1", "P-384")
    assert "Public-Key: (384 bit)" in theirs and "ASN1 OID: secp384r1" in theirs and "NIST CURVE: P-384" in theirs


def test_text_section_is_next_to_the_tls_view(full_rsa: Path) -> None:
    result = run("inspect", str(full_rsa), "--text")
    assert result.exit_code == exitcodes.OK, result.output + result.stderr
    out = result.output
    assert out.index("$tls_peer_subject") < out.index("(as 'openssl x509 -text -noout' shows it)")
    for expected in ("X509v3 Basic Constraints: critical", "CA:TRUE, pathlen:2",
                     "X509v3 Subject Alternative Name:", "IP Address:2001:DB8:0:0:0:0:0:1",
                     "CT Precertificate SCTs:", "Timestamp : Nov 14 22:13:20.123 2023 GMT",
                     "1.2.3.4.5.6.7: critical", "SHA256 Fingerprint=", "Public-Key: (2048 bit)"):
        assert expected in out
    # yaml carries the same object
    yaml_out = run("inspect", str(full_rsa), "--text", "-f", "yaml").output
    assert "x509:" in yaml_out and "CT Precertificate SCTs" in yaml_out


def test_text_in_xlog_is_comment_lines(full_rsa: Path) -> None:
    result = run("inspect", str(full_rsa), "--text", "-f", "xlog")
    assert result.exit_code == exitcodes.OK
    lines = result.output.splitlines()
    assert any(line.startswith("$tls_peer_subject = ") for line in lines)
    assert any(line.startswith("#") and line[1:].strip() == "CA:TRUE, pathlen:2" for line in lines)
    assert all(line.startswith(("#", "$")) for line in lines if line)


def test_text_and_var_do_not_go_together(full_rsa: Path) -> None:
    result = run("inspect", str(full_rsa), "--text", "--var", "tls_peer_subject")
    assert result.exit_code == exitcodes.USAGE
    assert "--text and --var do not go together" in result.stderr


# ---- hostile certificates -----------------------------------------------------------------------------
def _cert_with(extensions: list[tuple[x509.ExtensionType, bool]], cn: str = "hostile") -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
               .serial_number(7).not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1)))
    for ext, critical in extensions:
        builder = builder.add_extension(ext, critical=critical)
    return builder.sign(key, hashes.SHA256())


def test_an_extension_cryptography_cannot_parse_is_shown_unparsed(tmp_path: Path) -> None:
    cert = _cert_with([
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (x509.UnrecognizedExtension(ExtensionOID.KEY_USAGE, b"\x01\x02garbage"), True),
        (x509.SubjectAlternativeName([x509.DNSName("ok.example.com")]), False),
    ])
    with pytest.raises(ValueError):
        _ = x509.load_pem_x509_certificate(cert.public_bytes(serialization.Encoding.PEM)).extensions
    path = write_pem(tmp_path / "bad-ext.pem", cert)
    exts = {e["name"]: e for e in inspect_json(path)["extensions"]}
    assert exts["X509v3 Key Usage"]["parsed"] is False and exts["X509v3 Key Usage"]["critical"] is True
    assert exts["X509v3 Key Usage"]["value"]["length"] == 9
    assert "error" in exts["X509v3 Key Usage"]["value"]
    assert exts["X509v3 Basic Constraints"]["lines"] == ["CA:FALSE"]  # the others are still decoded
    assert exts["X509v3 Subject Alternative Name"]["lines"] == ["DNS:ok.example.com"]
    text = run("inspect", str(path), "--text")
    assert text.exit_code == exitcodes.OK
    assert "<unparsed: " in text.output


def test_control_characters_are_escaped_in_text_and_exact_in_json(tmp_path: Path) -> None:
    evil = "\x1b]0;pwned\x07"
    cert = _cert_with([
        (x509.CertificatePolicies([x509.PolicyInformation(ObjectIdentifier("1.2.3"), [f"http://x/{evil}"])]), False),
        (x509.SubjectAlternativeName([x509.UniformResourceIdentifier(f"sip:{evil}@x")]), False),
    ], cn=f"cn{evil}")
    path = write_pem(tmp_path / "evil.pem", cert)
    text = run("inspect", str(path), "--text").output
    assert "\x1b" not in text and "\x07" not in text
    assert "CPS: http://x/\\x1b]0;pwned\\x07" in text
    assert "URI:sip:\\x1b]0;pwned\\x07@x" in text
    x = inspect_json(path)
    assert f"CN = cn{evil}" in x["subject"]
    assert any(f"URI:sip:{evil}@x" in line for e in x["extensions"] for line in e["lines"])


_KNOWN_OIDS = [ExtensionOID.KEY_USAGE, ExtensionOID.SUBJECT_ALTERNATIVE_NAME, ExtensionOID.BASIC_CONSTRAINTS,
               ExtensionOID.AUTHORITY_KEY_IDENTIFIER, ExtensionOID.CRL_DISTRIBUTION_POINTS,
               ExtensionOID.AUTHORITY_INFORMATION_ACCESS, ExtensionOID.CERTIFICATE_POLICIES,
               ExtensionOID.NAME_CONSTRAINTS, ExtensionOID.PRECERT_SIGNED_CERTIFICATE_TIMESTAMPS,
               ExtensionOID.EXTENDED_KEY_USAGE, ObjectIdentifier("1.2.3.4")]
_SIGNING_KEY = ec.generate_private_key(ec.SECP256R1())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(_KNOWN_OIDS), st.binary(max_size=40), st.booleans()),
                min_size=1, max_size=4, unique_by=lambda t: t[0].dotted_string))
def test_any_extension_bytes_decode_to_plain_data(exts: list[tuple[ObjectIdentifier, bytes, bool]]) -> None:
    from tlsmgm_cli.core.x509.text import x509_text

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fuzz")])
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(_SIGNING_KEY.public_key())
               .serial_number(1).not_valid_before(NOW).not_valid_after(NOW + dt.timedelta(days=1)))
    for oid, value, critical in exts:
        builder = builder.add_extension(x509.UnrecognizedExtension(oid, value), critical=critical)
    cert = builder.sign(_SIGNING_KEY, hashes.SHA256())
    der = cert.public_bytes(serialization.Encoding.DER)
    out = x509_text(x509.load_der_x509_certificate(der), der)
    assert [e["oid"] for e in out["extensions"]] == [oid.dotted_string for oid, _v, _c in exts]
    assert [e["critical"] for e in out["extensions"]] == [c for _o, _v, c in exts]
    json.dumps(out)  # plain data
    for ext in out["extensions"]:
        assert all(isinstance(line, str) for line in ext["lines"])


def _duplicate_extension_der() -> bytes:
    """A certificate carrying Basic Constraints twice (the builder refuses that, so the OID
    of a second, unknown extension is rewritten in the DER; the signature goes bad)."""
    cert = _cert_with([(x509.BasicConstraints(ca=False, path_length=None), True),
                       (x509.UnrecognizedExtension(ObjectIdentifier("2.5.29.99"), b"\x30\x00"), False)])
    der = cert.public_bytes(serialization.Encoding.DER)
    assert der.count(b"\x06\x03\x55\x1d\x63") == 1
    return der.replace(b"\x06\x03\x55\x1d\x63", b"\x06\x03\x55\x1d\x13")


def test_a_duplicated_extension_is_listed_twice_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "dup.der"
    path.write_bytes(_duplicate_extension_der())
    with pytest.raises(x509.DuplicateExtension):
        _ = x509.load_der_x509_certificate(path.read_bytes()).extensions
    for fmt in ("text", "json", "yaml", "xlog"):
        assert run("inspect", str(path), "--text", "-f", fmt).exit_code == exitcodes.OK
    exts = inspect_json(path)["extensions"]
    assert [(e["name"], e["critical"], e["lines"]) for e in exts] == \
        [("X509v3 Basic Constraints", True, ["CA:FALSE"]), ("X509v3 Basic Constraints", False, ["CA:FALSE"])]


@needs_openssl
def test_x400_address_in_san_does_not_crash_and_verifies_like_openssl(tmp_path: Path) -> None:
    # SAN holding one x400Address ([3] {}): OpenSSL reads it, cryptography refuses it
    cert = _cert_with([(x509.BasicConstraints(ca=True, path_length=None), True),
                       (x509.UnrecognizedExtension(ExtensionOID.SUBJECT_ALTERNATIVE_NAME, b"\x30\x04\xa3\x02\x30\x00"),
                        False)])
    path = write_pem(tmp_path / "x400.pem", cert)
    with pytest.raises(x509.UnsupportedGeneralNameType):
        _ = cert.extensions
    oracle = subprocess.run([OPENSSL, "verify", "-CAfile", str(path), str(path)], capture_output=True, text=True,
                            timeout=30)
    assert oracle.returncode == 0, oracle.stdout + oracle.stderr
    result = run("inspect", str(path), "--ca", str(path), "--text", "-f", "json")
    assert result.exit_code == exitcodes.OK, result.stderr
    item = json.loads(result.output)[0]
    assert item["vars"]["tls_peer_verified"] == "1"
    san = next(e for e in item["x509"]["extensions"] if e["name"] == "X509v3 Subject Alternative Name")
    assert san["parsed"] is False and "x400Address" in san["value"]["error"]
    assert item["x509"]["extensions"][0]["lines"] == ["CA:TRUE"]
