"""core.x509.pem: the one PEM splitter, with OpenSSL's PEM reader leniency (checked against the
openssl binary when it is installed), and the private-key reader built on it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from tlsmgm_cli.core.x509 import certgen
from tlsmgm_cli.core.x509.der import element_length as der_length
from tlsmgm_cli.core.x509.pem import is_pem, pem_blocks, read_private_key, scan_pem

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl binary not installed")


@pytest.fixture(scope="module")
def cert_pem() -> bytes:
    root = certgen.make_ca("pem test root")
    return certgen.make_cert(root, "pem.example").cert_pem()


def _key_pem(password: bytes | None = None) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    encryption = (serialization.BestAvailableEncryption(password) if password
                  else serialization.NoEncryption())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def test_text_around_blocks_and_trailing_whitespace_are_ignored(cert_pem: bytes) -> None:
    lenient = b"\xef\xbb\xbfsubject=CN x\r\n" + cert_pem.replace(b"-----\n", b"-----  \t\r\n") + b"trailer\n"
    blocks = pem_blocks(lenient)
    assert [b.label for b in blocks] == [b"CERTIFICATE"]
    assert blocks[0].block == cert_pem  # normalised text
    assert blocks[0].der() == pem_blocks(cert_pem)[0].der()


def test_labels_are_any_text_and_blocks_come_in_order(cert_pem: bytes) -> None:
    data = b"-----BEGIN PKCS #7 SIGNED DATA-----\nAAAA\n-----END PKCS #7 SIGNED DATA-----\n" \
        + b"-----BEGIN lower-case x-----\n-----END lower-case x-----\n" + cert_pem
    labels = [label for label, _block in pem_blocks(data)]
    assert labels == [b"PKCS #7 SIGNED DATA", b"lower-case x", b"CERTIFICATE"]
    assert pem_blocks(data)[1].body == b""


@pytest.mark.parametrize("data", [
    b"-----BEGIN CERTIFICATE-----\nAAAA\n",                                  # no END line
    b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END X509 CRL-----\n",          # END of another label
    b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE----- junk\n",  # junk after the END line
])
def test_a_broken_block_stops_the_reading(data: bytes, cert_pem: bytes) -> None:
    scan = scan_pem(cert_pem + data + cert_pem)
    assert [b.label for b in scan.blocks] == [b"CERTIFICATE"] and scan.broken == b"CERTIFICATE"


def test_begin_must_start_a_line_and_end_with_dashes(cert_pem: bytes) -> None:
    assert not is_pem(b"x -----BEGIN CERTIFICATE-----\n") and not is_pem(b"-----BEGIN CERTIFICATE\n")
    assert not is_pem(b"\x30\x82garbage") and is_pem(cert_pem) and is_pem(b"\xef\xbb\xbf" + cert_pem)
    assert pem_blocks(b"  " + cert_pem) == []


def test_damaged_base64_is_an_error_of_der(cert_pem: bytes) -> None:
    damaged = cert_pem.replace(b"\n", b"\n!", 1)
    with pytest.raises(ValueError):
        pem_blocks(damaged)[0].der()


def test_trusted_certificate_drops_the_trust_settings(cert_pem: bytes) -> None:
    der = pem_blocks(cert_pem)[0].der()
    import base64

    aux = base64.encodebytes(der + b"\x30\x03\x0c\x01x")
    block = pem_blocks(b"-----BEGIN TRUSTED CERTIFICATE-----\n" + aux + b"-----END TRUSTED CERTIFICATE-----\n")[0]
    assert block.certificate_der() == der and block.der() != der
    assert der_length(der) == len(der) and der_length(b"\x30") is None


@needs_openssl
@pytest.mark.parametrize("variant", ["plain", "trailing", "crlf", "junk-around", "indented", "mismatch", "no-end"])
def test_agrees_with_openssl(tmp_path: Path, cert_pem: bytes, variant: str) -> None:
    data = {
        "plain": cert_pem,
        "trailing": cert_pem.replace(b"-----\n", b"-----   \n"),
        "crlf": cert_pem.replace(b"\n", b"\r\n"),
        "junk-around": b"Certificate:\n  blah\n" + cert_pem + b"tail text\n",
        "indented": b" " + cert_pem,
        "mismatch": cert_pem.replace(b"END CERTIFICATE", b"END X509 CRL"),
        "no-end": cert_pem.split(b"-----END")[0],
    }[variant]
    path = tmp_path / "c.pem"
    path.write_bytes(data)
    ran = subprocess.run([OPENSSL, "x509", "-in", str(path), "-noout", "-subject"], capture_output=True, check=False)
    ours = [b for b in pem_blocks(data) if b.label == b"CERTIFICATE"]
    assert (ran.returncode == 0) == bool(ours), ran.stderr


def test_private_key_reader(cert_pem: bytes) -> None:
    key = read_private_key(cert_pem + _key_pem())  # other blocks are passed over
    assert key.problem is None and key.key is not None
    assert read_private_key(_key_pem(b"secret")).problem == "encrypted"
    assert read_private_key(cert_pem).detail == "no PEM private key in it"
    truncated = _key_pem().split(b"-----END")[0]
    assert read_private_key(truncated).detail == "the PEM private key cannot be parsed"
    garbage = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
    assert read_private_key(garbage) == read_private_key(truncated)


_LINE = st.binary(max_size=40).filter(lambda b: b"\n" not in b)


@given(st.lists(st.one_of(_LINE, st.sampled_from([b"-----BEGIN A-----", b"-----END A-----", b"-----BEGIN B-----",
                                                  b"-----END B-----", b"QUJD", b""])), max_size=12))
def test_never_raises_and_blocks_are_well_formed(lines: list[bytes]) -> None:
    data = b"\n".join(lines)
    scan = scan_pem(data)
    assert is_pem(data) == (bool(scan.blocks) or scan.broken is not None)
    for block in scan.blocks:
        assert block.block.startswith(b"-----BEGIN " + block.label + b"-----\n")
        assert block.block.endswith(b"-----END " + block.label + b"-----\n")
        assert pem_blocks(block.block) == [block]  # normalised text reads back the same
