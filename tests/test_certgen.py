"""core.x509.certgen and core.util.atomicio, and the shared test PKI (tests/pki.py) itself."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import given
from hypothesis import strategies as st
from pki import PASSWORD, Pki

from tlsmgm_cli.core.errors import TlsmgmError
from tlsmgm_cli.core.util.atomicio import atomic_write
from tlsmgm_cli.core.x509 import certgen
from tlsmgm_cli.core.x509 import facts as x509_facts
from tlsmgm_cli.core.x509.hash import name_hash

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl binary not installed")


def ext(cert: x509.Certificate, cls: type) -> object:
    return cert.extensions.get_extension_for_class(cls)


def public_der(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)


def openssl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([OPENSSL, *args], capture_output=True, text=True)


# ---- CA -------------------------------------------------------------------------------------

def test_ca_is_marked_ca_with_critical_constraints_and_key_usage() -> None:
    ca = certgen.make_ca("Root")
    bc = ext(ca.cert, x509.BasicConstraints)
    assert bc.critical and bc.value.ca
    ku = ext(ca.cert, x509.KeyUsage)
    assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign
    assert ca.cert.subject == ca.cert.issuer
    ca.cert.verify_directly_issued_by(ca.cert)
    with pytest.raises(x509.ExtensionNotFound):
        ca.cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)


def test_intermediate_is_signed_by_parent_with_aki() -> None:
    root = certgen.make_ca("Root")
    inter = certgen.make_ca("Inter", parent=root, key="rsa", bits=1024)
    inter.cert.verify_directly_issued_by(root.cert)
    aki = ext(inter.cert, x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ext(root.cert, x509.SubjectKeyIdentifier).value.digest
    assert inter.cert.issuer == root.cert.subject
    assert isinstance(inter.key, rsa.RSAPrivateKey)
    assert ext(inter.cert, x509.BasicConstraints).value.ca


def test_ca_validity_days() -> None:
    ca = certgen.make_ca(days=10)
    span = ca.cert.not_valid_after_utc - ca.cert.not_valid_before_utc
    assert dt.timedelta(days=10) <= span <= dt.timedelta(days=10, minutes=11)
    assert ca.cert.not_valid_before_utc <= dt.datetime.now(dt.timezone.utc)


# ---- leaf certificates ----------------------------------------------------------------------

def test_leaf_carries_its_own_key_and_is_not_a_ca() -> None:
    ca = certgen.make_ca()
    leaf = certgen.make_cert(ca, "atlanta.com")
    assert public_der(leaf.cert) != public_der(ca.cert)
    assert leaf.key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) == public_der(leaf.cert)
    assert ext(leaf.cert, x509.BasicConstraints).value.ca is False
    assert ext(leaf.cert, x509.BasicConstraints).critical
    leaf.cert.verify_directly_issued_by(ca.cert)
    aki = ext(leaf.cert, x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ext(ca.cert, x509.SubjectKeyIdentifier).value.digest


def test_san_defaults_to_cn_and_is_always_present() -> None:
    ca = certgen.make_ca()
    assert ext(certgen.make_cert(ca, "atlanta.com").cert, x509.SubjectAlternativeName).value == \
        x509.SubjectAlternativeName([x509.DNSName("atlanta.com")])
    assert ext(certgen.make_cert(ca, "10.0.0.1").cert, x509.SubjectAlternativeName).value == \
        x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("10.0.0.1"))])


def test_explicit_sans_in_order() -> None:
    leaf = certgen.make_cert(certgen.make_ca(), "atlanta.com",
                             sans=["atlanta.com", "IP:::1", "URI:sip:a@b", "email:x@y", "10.0.0.1"])
    names = ext(leaf.cert, x509.SubjectAlternativeName).value
    assert [x509_facts.general_name_text(n) for n in names] == [
        "DNS:atlanta.com", "IP:::1", "URI:sip:a@b", "email:x@y", "IP:10.0.0.1"]


@pytest.mark.parametrize(("server", "client", "expected"), [
    (True, False, [ExtendedKeyUsageOID.SERVER_AUTH]),
    (False, True, [ExtendedKeyUsageOID.CLIENT_AUTH]),
    (True, True, [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
])
def test_extended_key_usage(server: bool, client: bool, expected: list) -> None:
    leaf = certgen.make_cert(certgen.make_ca(), "a.com", server=server, client=client)
    assert list(ext(leaf.cert, x509.ExtendedKeyUsage).value) == expected


def test_no_eku_when_neither_server_nor_client() -> None:
    leaf = certgen.make_cert(certgen.make_ca(), "a.com", server=False)
    with pytest.raises(x509.ExtensionNotFound):
        leaf.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)


@pytest.mark.parametrize(("kind", "key_class", "encipherment"), [
    ("ec", ec.EllipticCurvePrivateKey, False),
    ("rsa", rsa.RSAPrivateKey, True),
    ("ed25519", ed25519.Ed25519PrivateKey, False),
])
def test_key_types_and_key_usage(kind: str, key_class: type, encipherment: bool) -> None:
    ca = certgen.make_ca()
    leaf = certgen.make_cert(ca, "a.com", key=kind, bits=1024)
    assert isinstance(leaf.key, key_class)
    ku = ext(leaf.cert, x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature
    assert ku.value.key_encipherment is encipherment
    leaf.cert.verify_directly_issued_by(ca.cert)


def test_curve_choice() -> None:
    leaf = certgen.make_cert(certgen.make_ca(), "a.com", curve="P-384")
    assert x509_facts.key_text(leaf.cert) == "EC P-384"
    with pytest.raises(TlsmgmError, match="unknown EC curve"):
        certgen.make_cert(certgen.make_ca(), "a.com", curve="P-999")


def test_ed25519_ca_signs_without_digest() -> None:
    ca = certgen.make_ca(key="ed25519")  # type: ignore[arg-type]
    leaf = certgen.make_cert(ca, "a.com")
    assert leaf.cert.signature_hash_algorithm is None
    leaf.cert.verify_directly_issued_by(ca.cert)


def test_serial_subject_validity_overrides() -> None:
    start = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Org"),
                         x509.NameAttribute(NameOID.COMMON_NAME, "a.com")])
    leaf = certgen.make_cert(certgen.make_ca(), "a.com", serial=0x3001, subject=subject,
                             not_before=start, days=2)
    assert leaf.cert.serial_number == 0x3001
    assert leaf.cert.subject == subject
    assert leaf.cert.not_valid_before_utc == start
    assert leaf.cert.not_valid_after_utc == start + dt.timedelta(days=2, minutes=5)


def test_validity_must_not_be_inverted() -> None:
    now = dt.datetime.now(dt.timezone.utc)
    with pytest.raises(TlsmgmError, match="not after notBefore"):
        certgen.make_cert(certgen.make_ca(), "a.com", not_before=now, not_after=now - dt.timedelta(days=1))


def test_self_signed_leaf() -> None:
    leaf = certgen.make_cert(None, "self.com", self_signed=True)
    assert leaf.cert.issuer == leaf.cert.subject
    assert leaf.issuer is None
    leaf.cert.verify_directly_issued_by(leaf.cert)
    assert ext(leaf.cert, x509.BasicConstraints).value.ca is False
    with pytest.raises(TlsmgmError, match="needs a CA"):
        certgen.make_cert(None, "a.com")


@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_sha1_signature(kind: str) -> None:
    ca = certgen.make_ca(key=kind, bits=1024)  # type: ignore[arg-type]
    leaf = certgen.make_cert(ca, "a.com", hash="sha1")
    assert isinstance(leaf.cert.signature_hash_algorithm, hashes.SHA1)
    public_key = ca.cert.public_key()
    if isinstance(public_key, rsa.RSAPublicKey):
        from cryptography.hazmat.primitives.asymmetric import padding

        public_key.verify(leaf.cert.signature, leaf.cert.tbs_certificate_bytes, padding.PKCS1v15(),
                          hashes.SHA1())
    else:
        public_key.verify(leaf.cert.signature, leaf.cert.tbs_certificate_bytes, ec.ECDSA(hashes.SHA1()))
    # everything but the signature is what the SHA-256 builder produced
    assert ext(leaf.cert, x509.SubjectAlternativeName).value[0] == x509.DNSName("a.com")


# ---- SAN parsing ----------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("DNS:a.com", x509.DNSName("a.com")),
    ("dns: a.com ", x509.DNSName("a.com")),
    ("*.a.com", x509.DNSName("*.a.com")),
    ("IP:10.0.0.1", x509.IPAddress(ipaddress.ip_address("10.0.0.1"))),
    ("IP:::1", x509.IPAddress(ipaddress.ip_address("::1"))),
    ("::1", x509.IPAddress(ipaddress.ip_address("::1"))),
    ("fe80::1", x509.IPAddress(ipaddress.ip_address("fe80::1"))),
    ("URI:sip:a@b", x509.UniformResourceIdentifier("sip:a@b")),
    ("email:x@y", x509.RFC822Name("x@y")),
    ("bücher.de", x509.DNSName("xn--bcher-kva.de")),
])
def test_parse_san(text: str, expected: x509.GeneralName) -> None:
    assert certgen.parse_san(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("IP:not-an-ip", "not an IP address"),
    ("DNS:", "empty"),
    ("", "empty"),
    ("sip:a@b", "unknown type"),
    ("DNS:a b.com", "spaces"),
])
def test_parse_san_errors(text: str, message: str) -> None:
    with pytest.raises(TlsmgmError, match=message):
        certgen.parse_san(text)


@given(st.ip_addresses())
def test_parse_san_ip_roundtrip(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    parsed = certgen.parse_san(f"IP:{address}")
    assert parsed == x509.IPAddress(address)
    assert certgen.parse_san(str(address)) == parsed
    assert x509_facts.general_name_text(parsed) == f"IP:{address}"


@given(st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?(\.[a-z]{2,6}){1,3}\Z"))
def test_parse_san_dns_roundtrip(host: str) -> None:
    assert certgen.parse_san(host) == certgen.parse_san(f"DNS:{host}") == x509.DNSName(host)


# ---- CRLs -----------------------------------------------------------------------------------

def test_crl_revokes_serials_once_and_is_signed_by_the_ca() -> None:
    ca = certgen.make_ca()
    crl = certgen.make_crl(ca, [5, 0x3001, 5], number=7)
    assert sorted(r.serial_number for r in crl) == [5, 0x3001]
    assert crl.is_signature_valid(ca.cert.public_key())
    assert crl.issuer == ca.cert.subject
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 7
    assert crl.next_update_utc - crl.last_update_utc == dt.timedelta(days=30, minutes=5)


def test_update_crl_accumulates_and_bumps_the_number(tmp_path: Path) -> None:
    ca = certgen.make_ca()
    first = certgen.update_crl(ca, tmp_path / "crl.pem", tmp_path / "crl", [1, 2])
    second = certgen.update_crl(ca, tmp_path / "crl.pem", tmp_path / "crl", [2, 3])
    assert first.added == [1, 2] and second.added == [3]
    assert sorted(second.revoked) == [1, 2, 3]
    assert second.crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 2
    loaded = certgen.load_crl(tmp_path / "crl.pem")
    assert sorted(r.serial_number for r in loaded) == [1, 2, 3]
    assert [p.name for p in second.hashed] == [f"{name_hash(ca.cert.subject)}.r0"]
    fresh = certgen.update_crl(ca, tmp_path / "crl.pem", tmp_path / "crl", [9], fresh=True)
    assert fresh.revoked == [9]


def test_update_crl_refuses_another_issuers_crl(tmp_path: Path) -> None:
    certgen.update_crl(certgen.make_ca("A"), tmp_path / "crl.pem", tmp_path / "crl", [1])
    with pytest.raises(TlsmgmError, match="not issued by this CA"):
        certgen.update_crl(certgen.make_ca("B"), tmp_path / "crl.pem", tmp_path / "crl", [2])


def test_hashed_crl_dir_holds_regular_files_named_by_issuer_hash(tmp_path: Path) -> None:
    a, b = certgen.make_ca("A"), certgen.make_ca("B")
    crls = [certgen.make_crl(a, [1]), certgen.make_crl(a, [2]), certgen.make_crl(b, [3])]
    (tmp_path / "deadbeef.r0").write_text("stale")
    (tmp_path / "README").write_text("kept")
    written = certgen.write_hashed_crl_dir(tmp_path, crls)
    ha, hb = name_hash(a.cert.subject), name_hash(b.cert.subject)
    assert [p.name for p in written] == [f"{ha}.r0", f"{ha}.r1", f"{hb}.r0"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"{ha}.r0", f"{ha}.r1", f"{hb}.r0", "README"])
    for path in written:  # tls_mgm's crl_dir loader skips symlinks: these must be regular files
        assert stat.S_ISREG(os.lstat(path).st_mode)
    assert certgen.load_crl(written[1]).public_bytes(serialization.Encoding.DER) == \
        crls[1].public_bytes(serialization.Encoding.DER)


@needs_openssl
def test_hashed_crl_dir_names_equal_openssl_crl_hash(pki: Pki) -> None:
    out = openssl("crl", "-hash", "-noout", "-in", str(pki.revoked.crl_path))
    assert [p.name for p in pki.revoked.crl_dir.iterdir()] == [f"{out.stdout.strip()}.r0"]


def test_rehash_dir_makes_c_rehash_symlinks(tmp_path: Path) -> None:
    a, b = certgen.make_ca("A"), certgen.make_ca("B")
    atomic_write(tmp_path / "a.pem", a.cert_pem())
    atomic_write(tmp_path / "a-copy.crt", a.cert_pem())  # duplicate: one link only
    atomic_write(tmp_path / "b.cer", b.cert_pem())
    atomic_write(tmp_path / "a.crl", certgen.crl_pem(certgen.make_crl(a, [1])))
    atomic_write(tmp_path / "notes.txt", b"not a cert")
    os.symlink("a.pem", tmp_path / "0badc0de.0")  # stale link, removed
    links = certgen.rehash_dir(tmp_path)
    ha, hb = name_hash(a.cert.subject), name_hash(b.cert.subject)
    assert links == {f"{ha}.0": "a-copy.crt", f"{hb}.0": "b.cer", f"{ha}.r0": "a.crl"}
    for link, target in links.items():
        assert os.readlink(tmp_path / link) == target
    assert not (tmp_path / "0badc0de.0").is_symlink()
    assert certgen.rehash_dir(tmp_path) == links  # idempotent


@needs_openssl
def test_rehash_dir_agrees_with_openssl_rehash(pki: Pki, tmp_path: Path) -> None:
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    for d in (ours, theirs):
        d.mkdir()
        for item in (pki.ca, pki.intermediate, pki.special, pki.server):
            shutil.copy(item.cert_path, d / item.cert_path.name)
        shutil.copy(pki.revoked.crl_path, d / "root.crl")
    if openssl("rehash", str(theirs)).returncode != 0:
        pytest.skip("openssl rehash not available")
    certgen.rehash_dir(ours)
    links = {p.name: os.readlink(p) for p in theirs.iterdir() if p.is_symlink()}
    assert {p.name: os.readlink(p) for p in ours.iterdir() if p.is_symlink()} == links


# ---- writing and loading --------------------------------------------------------------------

def test_write_modes_and_refusal_to_overwrite(tmp_path: Path) -> None:
    ca = certgen.make_ca()
    cert_path, key_path = ca.write(tmp_path, "ca")
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(cert_path.stat().st_mode) == 0o644
    before = cert_path.read_bytes(), key_path.read_bytes()
    other = certgen.make_ca()
    with pytest.raises(TlsmgmError, match="already exists"):
        other.write(tmp_path, "ca")
    assert (cert_path.read_bytes(), key_path.read_bytes()) == before
    other.write(tmp_path, "ca", force=True)
    assert cert_path.read_bytes() == other.cert_pem()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ca.crt", "ca.key"]  # no temp files left


def test_write_refuses_when_only_the_key_exists(tmp_path: Path) -> None:
    (tmp_path / "x.key").write_text("precious")
    with pytest.raises(TlsmgmError, match="x.key already exists"):
        certgen.make_ca().write(tmp_path, "x")
    assert not (tmp_path / "x.crt").exists()


def test_atomic_write_failure_names_the_directory(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(TlsmgmError, match="cannot write into"):
        atomic_write(blocker / "sub" / "a.pem", b"data")


def test_chain_pem_excludes_the_root() -> None:
    root = certgen.make_ca()
    inter = certgen.make_ca("I", parent=root)
    leaf = certgen.make_cert(inter, "a.com")
    certs = x509.load_pem_x509_certificates(leaf.chain_pem())
    assert certs == [leaf.cert, inter.cert]
    assert certgen.make_cert(root, "b.com").chain_pem().count(b"BEGIN CERTIFICATE") == 1


def test_encrypted_key_needs_the_password(tmp_path: Path) -> None:
    leaf = certgen.make_cert(certgen.make_ca(), "a.com")
    cert_path, key_path = leaf.write(tmp_path, "a", password="pw")
    assert b"ENCRYPTED" in key_path.read_bytes()
    with pytest.raises(TlsmgmError, match="not a usable PEM private key"):
        certgen.load_issued(cert_path, key_path)
    assert certgen.load_issued(cert_path, key_path, b"pw").cert == leaf.cert


def test_load_issued_errors_name_the_file(pki: Pki, tmp_path: Path) -> None:
    with pytest.raises(TlsmgmError, match=r"wrong_key\.key: key does not match"):
        certgen.load_issued(pki.wrong_key.cert_path, pki.wrong_key.key_path)
    with pytest.raises(TlsmgmError, match=r"missing\.crt: cannot read certificate"):
        certgen.load_issued(tmp_path / "missing.crt", pki.ca.key_path)
    garbage = tmp_path / "garbage.crt"
    garbage.write_text("hello")
    with pytest.raises(TlsmgmError, match=r"garbage\.crt: not a PEM certificate"):
        certgen.load_issued(garbage, pki.ca.key_path)


def test_summary() -> None:
    ca = certgen.make_ca("Root", key="rsa", bits=1024)
    facts = x509_facts.cert_summary(certgen.make_cert(ca, "a.com", serial=255, sans=["a.com", "IP:::1"]).cert)
    assert facts["serial"] == "0xff"
    assert facts["sans"] == ["DNS:a.com", "IP:::1"]
    assert facts["subject"] == "CN=a.com" and facts["issuer"] == "CN=Root"
    assert facts["key"] == "EC P-256" and facts["ca"] is False
    assert x509_facts.cert_summary(ca.cert)["key"] == "RSA 1024"


# ---- the shared test PKI --------------------------------------------------------------------

def test_pki_files_and_modes(pki: Pki) -> None:
    for name, item in pki.items().items():
        assert stat.S_IMODE(item.key_path.stat().st_mode) == 0o600, name
        assert x509.load_pem_x509_certificates(item.cert_path.read_bytes())[0] == item.cert, name


def test_pki_chain_of_trust(pki: Pki) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    for item in (pki.intermediate, pki.server, pki.client, pki.revoked, pki.special, pki.rsa1024,
                 pki.rsa, pki.encrypted_key, pki.expired, pki.not_yet_valid, pki.wrong_key):
        item.cert.verify_directly_issued_by(pki.ca.cert)
    pki.server_chain.cert.verify_directly_issued_by(pki.intermediate.cert)
    assert x509.load_pem_x509_certificates(pki.server_chain.cert_path.read_bytes()) == [
        pki.server_chain.cert, pki.intermediate.cert]
    assert x509.load_pem_x509_certificates(pki.server_chain.leaf_path.read_bytes()) == [pki.server_chain.cert]
    assert pki.expired.cert.not_valid_after_utc < now < pki.not_yet_valid.cert.not_valid_before_utc
    assert pki.self_signed.cert.issuer == pki.self_signed.cert.subject
    assert isinstance(pki.sha1.cert.signature_hash_algorithm, hashes.SHA1)
    assert x509_facts.key_text(pki.rsa1024.cert) == "RSA 1024"
    assert list(ext(pki.client.cert, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.CLIENT_AUTH]


def test_pki_special_cases(pki: Pki) -> None:
    crl = certgen.load_crl(pki.revoked.crl_path)
    assert crl.get_revoked_certificate_by_serial_number(pki.revoked.serial) is not None
    assert crl.get_revoked_certificate_by_serial_number(pki.server.serial) is None
    with pytest.raises(TlsmgmError, match="does not match"):
        certgen.load_issued(pki.wrong_key.cert_path, pki.wrong_key.key_path)
    assert certgen.load_issued(pki.encrypted_key.cert_path, pki.encrypted_key.key_path, PASSWORD)
    assert pki.encrypted_key.password == PASSWORD
    subject = pki.special.cert.subject.rfc4514_string()
    assert all(ch in subject for ch in ("ë", "/", "+", ","))
    assert sorted(p.name for p in pki.ca_dir.iterdir() if p.is_symlink()) == sorted(
        f"{name_hash(item.cert.subject)}.0" for item in (pki.ca, pki.intermediate))


def test_make_pki_is_independent(pki: Pki, make_pki) -> None:
    mine = make_pki()
    assert mine.dir != pki.dir
    assert mine.ca.cert != pki.ca.cert


@needs_openssl
def test_pki_verifies_with_openssl(pki: Pki) -> None:
    ok = openssl("verify", "-CAfile", str(pki.ca.cert_path), str(pki.server.cert_path),
                 str(pki.client.cert_path), str(pki.rsa1024.cert_path))
    assert ok.returncode == 0, ok.stderr
    chain = openssl("verify", "-CApath", str(pki.ca_dir), str(pki.server_chain.cert_path))
    assert chain.returncode == 0, chain.stderr
    revoked = openssl("verify", "-CAfile", str(pki.ca.cert_path), "-crl_check", "-CRLfile",
                      str(pki.revoked.crl_path), str(pki.revoked.cert_path))
    assert revoked.returncode != 0 and "certificate revoked" in revoked.stdout + revoked.stderr
    expired = openssl("verify", "-CAfile", str(pki.ca.cert_path), str(pki.expired.cert_path))
    assert "certificate has expired" in expired.stdout + expired.stderr
