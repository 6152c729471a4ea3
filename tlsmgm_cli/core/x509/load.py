"""Read certificates from files or bytes: PEM (one or a bundle), DER, PKCS#7.

Every problem is a :class:`CertLoadError` whose message says what the input is instead
(a private key, a CRL, a CSR, truncated PEM, garbage...). Key material is never echoed:
messages only name the PEM label or the kind of object found.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from tlsmgm_cli.core.errors import TlsmgmError
from tlsmgm_cli.core.limits import PKI_FILE_MAX_BYTES
from tlsmgm_cli.core.util.safeio import UnsafeInput, limit_text, read_bytes_limited
from tlsmgm_cli.core.x509.der import element_length
from tlsmgm_cli.core.x509.pem import CERTIFICATE_LABELS, is_pem, pem_blocks, scan_pem

MAX_INPUT_BYTES = PKI_FILE_MAX_BYTES

_PKCS7_LABELS = {b"PKCS7", b"PKCS #7 SIGNED DATA", b"CMS"}
_NOT_CERT_LABELS = {
    b"X509 CRL": "a certificate revocation list (CRL)",
    b"CERTIFICATE REQUEST": "a certificate signing request (CSR)",
    b"NEW CERTIFICATE REQUEST": "a certificate signing request (CSR)",
    b"PUBLIC KEY": "a public key",
    b"RSA PUBLIC KEY": "a public key",
    b"DH PARAMETERS": "Diffie-Hellman parameters",
    b"EC PARAMETERS": "EC parameters",
}
KEY_MESSAGE = "is a private key, not a certificate (key material not shown)"


class CertLoadError(TlsmgmError):
    """An input that holds no usable certificate; ``str()`` names the source and why
    (exit status PROBLEMS, as every ``TlsmgmError``)."""


@dataclass(frozen=True, slots=True)
class LoadedCert:
    """One certificate and where it came from (``index``: 0-based position in the source)."""

    source: str
    index: int
    cert: x509.Certificate
    der: bytes


def _is_private_key_label(label: bytes) -> bool:
    return label.endswith(b"PRIVATE KEY")


def _cert_from_der(der: bytes, source: str, what: str) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError:
        raise CertLoadError(f"{source}: {what} is not a valid X.509 certificate") from None


def _label_text(label: bytes) -> str:
    return label.decode("utf-8", "replace")


def _load_pem(data: bytes, source: str) -> list[LoadedCert]:
    certs: list[LoadedCert] = []
    scan = scan_pem(data)
    labels = [block.label for block in scan.blocks]
    for number, block in enumerate(scan.blocks, 1):
        if block.label not in CERTIFICATE_LABELS and block.label not in _PKCS7_LABELS:
            continue
        try:
            body = block.certificate_der()
        except ValueError:
            raise CertLoadError(f"{source}: damaged PEM block '{_label_text(block.label)}' (bad base64)") from None
        if block.label in _PKCS7_LABELS:
            for cert in _load_pkcs7(body, source):
                certs.append(LoadedCert(source, len(certs), cert, cert.public_bytes(serialization.Encoding.DER)))
            continue
        certs.append(LoadedCert(source, len(certs), _cert_from_der(body, source, f"PEM block #{number}"), body))
    if scan.broken is not None:
        raise CertLoadError(f"{source}: truncated PEM ('-----BEGIN {_label_text(scan.broken)}-----' "
                            "has no matching END line)")
    if certs:
        return certs
    if any(_is_private_key_label(label) for label in labels):
        raise CertLoadError(f"{source}: {KEY_MESSAGE}")
    for label in labels:
        if label in _NOT_CERT_LABELS:
            raise CertLoadError(f"{source}: is {_NOT_CERT_LABELS[label]}, not a certificate")
    shown = ", ".join(sorted({_label_text(label) for label in labels}))
    raise CertLoadError(f"{source}: no certificate in PEM (found: {shown})")


def _load_pkcs7(der: bytes, source: str) -> list[x509.Certificate]:
    try:
        certs = pkcs7.load_der_pkcs7_certificates(der)
    except ValueError:
        raise CertLoadError(f"{source}: damaged PKCS#7 structure") from None
    if not certs:
        raise CertLoadError(f"{source}: PKCS#7 structure holds no certificate")
    return certs


def _looks_like_private_key(der: bytes) -> bool:
    try:
        serialization.load_der_private_key(der, password=None)
        return True
    except TypeError:  # encrypted: it is a key, we just cannot read it
        return True
    except Exception:  # noqa: BLE001 - any failure means "not a key"
        return False


def _load_der(data: bytes, source: str) -> list[LoadedCert]:
    if data[:1] != b"\x30":
        raise CertLoadError(f"{source}: not a certificate (neither PEM nor DER)")
    total = element_length(data)
    if total is None or total > len(data):
        raise CertLoadError(f"{source}: truncated or damaged DER (not a complete ASN.1 structure)")
    der = data[:total]
    try:
        cert = x509.load_der_x509_certificate(der)
        return [LoadedCert(source, 0, cert, der)]
    except ValueError:
        pass
    try:
        certs = pkcs7.load_der_pkcs7_certificates(der)
    except ValueError:
        certs = []
    if certs:
        return [LoadedCert(source, i, c, c.public_bytes(serialization.Encoding.DER)) for i, c in enumerate(certs)]
    if _looks_like_private_key(der):
        raise CertLoadError(f"{source}: {KEY_MESSAGE}")
    raise CertLoadError(f"{source}: DER data that is not a certificate")


def load_certificates(data: bytes, source: str, password: bytes | None = None) -> list[LoadedCert]:
    """Every certificate in ``data`` (PEM bundle, DER certificate, PKCS#7 or PKCS#12;
    ``password`` opens a PKCS#12 file)."""
    if len(data) > MAX_INPUT_BYTES:
        raise CertLoadError(f"{source}: larger than {limit_text(MAX_INPUT_BYTES)}, not read")
    if not data.strip():
        raise CertLoadError(f"{source}: empty input")
    if is_pem(data):
        return _load_pem(data, source)
    if _looks_like_pkcs12(data):
        return _load_pkcs12(data, source, password)
    return _load_der(data, source)


def _looks_like_pkcs12(data: bytes) -> bool:
    """PFX ::= SEQUENCE { version INTEGER (3), authSafe ContentInfo (id-data ...), ... }"""
    total = element_length(data)
    if data[:1] != b"\x30" or total is None:
        return False
    start = 2 + (data[1] & 0x7F if data[1] & 0x80 else 0)
    # version 3, then a ContentInfo whose type is id-data (1.2.840.113549.1.7.1)
    return data[start:start + 3] == b"\x02\x01\x03" and b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x01" \
        in data[start + 3:start + 24]


def _load_pkcs12(data: bytes, source: str, password: bytes | None) -> list[LoadedCert]:
    """The certificates of a PKCS#12 file: its own certificate first, then the others."""
    from cryptography.hazmat.primitives.serialization import pkcs12

    try:
        p12 = pkcs12.load_pkcs12(data, password)
    except (ValueError, TypeError):  # TypeError: a password the library cannot use (not UTF-8)
        if password is None:
            try:  # an empty password is the usual "no password" of openssl pkcs12 -passout pass:
                p12 = pkcs12.load_pkcs12(data, b"")
            except ValueError:
                raise CertLoadError(f"{source}: is a PKCS#12 file protected by a password; give it with "
                                    "--password-file FILE or the TLSMGM_P12_PASSWORD environment variable"
                                    ) from None
        else:
            raise CertLoadError(f"{source}: is a PKCS#12 file that cannot be opened with the password given "
                                "(wrong password, or a damaged file)") from None
    except Exception as err:  # noqa: BLE001 - unsupported PKCS#12 algorithms
        raise CertLoadError(f"{source}: is a PKCS#12 file that cannot be read ({type(err).__name__})") from None
    certs = ([p12.cert.certificate] if p12.cert is not None else []) + \
        [c.certificate for c in p12.additional_certs]
    if not certs:
        raise CertLoadError(f"{source}: is a PKCS#12 file that holds no certificate")
    return [LoadedCert(source, i, c, c.public_bytes(serialization.Encoding.DER)) for i, c in enumerate(certs)]


def read_certificate_file(path: str, password: bytes | None = None) -> list[LoadedCert]:
    """Every certificate in the file ``path``: a regular file of at most
    ``limits.PKI_FILE_MAX_BYTES`` (a FIFO or a device is refused, never waited on)."""
    try:
        data = read_bytes_limited(path, limit=MAX_INPUT_BYTES, what="certificate file")
    except UnsafeInput as err:
        raise CertLoadError(str(err)) from None
    return load_certificates(data, path, password)


def read_pem_objects(data: bytes) -> tuple[list[x509.Certificate], list[x509.CertificateRevocationList]]:
    """Certificates and CRLs of a PEM trust file, like OpenSSL's X509_load_cert_crl_file
    (unparsable blocks are skipped)."""
    certs: list[x509.Certificate] = []
    crls: list[x509.CertificateRevocationList] = []
    for block in pem_blocks(data):
        try:
            if block.label in CERTIFICATE_LABELS:
                certs.append(x509.load_der_x509_certificate(block.certificate_der()))
            elif block.label == b"X509 CRL":
                crls.append(x509.load_der_x509_crl(block.der()))
        except ValueError:
            continue
    return certs, crls
