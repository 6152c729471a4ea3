"""Read certificates from files or bytes: PEM (one or a bundle), DER, PKCS#7.

Every problem is a :class:`CertLoadError` whose message says what the input is instead
(a private key, a CRL, a CSR, truncated PEM, garbage...). Key material is never echoed:
messages only name the PEM label or the kind of object found.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from tlsmgm_cli.core.errors import TlsmgmError

MAX_INPUT_BYTES = 10 * 1024 * 1024

_PEM_BEGIN = re.compile(rb"-----BEGIN ([A-Z0-9 #]+)-----")
_PEM_WHITESPACE = b" \t\n\r\v\f"  # what rb"\s" matches
_CERT_LABELS = {b"CERTIFICATE", b"X509 CERTIFICATE", b"TRUSTED CERTIFICATE"}
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
    """An input that holds no usable certificate; ``str()`` names the source and why."""

    exit_code = 1


@dataclass(frozen=True, slots=True)
class LoadedCert:
    """One certificate and where it came from (``index``: 0-based position in the source)."""

    source: str
    index: int
    cert: x509.Certificate
    der: bytes


def _pem_blocks(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(label, body) of every ``-----BEGIN label----- body -----END label-----`` block, in
    order: each BEGIN line pairs with the first END line of the same label after it; a
    BEGIN without one is passed over (the search resumes just after it)."""
    pos = 0
    while True:
        begin = _PEM_BEGIN.search(data, pos)
        if begin is None:
            return
        label = begin.group(1)
        end_line = b"-----END " + label + b"-----"
        end = data.find(end_line, begin.end())
        if end < 0:
            pos = begin.start() + 1
            continue
        yield label, data[begin.end():end]
        pos = end + len(end_line)


def _b64_body(body: bytes) -> bytes:
    """A PEM body's bytes: whitespace dropped, any other non-base64 byte an error."""
    return base64.b64decode(body.translate(None, _PEM_WHITESPACE), validate=True)


def _is_private_key_label(label: bytes) -> bool:
    return label.endswith(b"PRIVATE KEY")


def _der_length(data: bytes) -> int | None:
    """Total length of the DER element at the start of ``data`` (None if not parseable)."""
    if len(data) < 2:
        return None
    length = data[1]
    if not length & 0x80:
        return 2 + length
    count = length & 0x7F
    if count == 0 or count > 4 or len(data) < 2 + count:
        return None
    return 2 + count + int.from_bytes(data[2:2 + count], "big")


def _cert_from_der(der: bytes, source: str, what: str) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError:
        raise CertLoadError(f"{source}: {what} is not a valid X.509 certificate") from None


def _load_pem(data: bytes, source: str) -> list[LoadedCert]:
    certs: list[LoadedCert] = []
    labels: list[bytes] = []
    for label, pem_body in _pem_blocks(data):
        labels.append(label)
        if label not in _CERT_LABELS and label not in _PKCS7_LABELS:
            continue
        try:
            body = _b64_body(pem_body)
        except (binascii.Error, ValueError):
            raise CertLoadError(f"{source}: damaged PEM block '{label.decode()}' (bad base64)") from None
        if label in _PKCS7_LABELS:
            for cert in _load_pkcs7(body, source):
                certs.append(LoadedCert(source, len(certs), cert, cert.public_bytes(serialization.Encoding.DER)))
            continue
        if label == b"TRUSTED CERTIFICATE":  # X509_AUX: certificate followed by trust settings
            body = body[:_der_length(body) or len(body)]
        what = f"PEM block #{len(labels)}"
        certs.append(LoadedCert(source, len(certs), _cert_from_der(body, source, what), body))
    begins = _PEM_BEGIN.findall(data) if data.count(b"-----BEGIN ") > len(labels) else ()
    if len(begins) > len(labels):
        raise CertLoadError(f"{source}: truncated PEM ('-----BEGIN {begins[len(labels)].decode()}-----' "
                            "has no matching END line)")
    if certs:
        return certs
    if any(_is_private_key_label(label) for label in labels):
        raise CertLoadError(f"{source}: {KEY_MESSAGE}")
    for label in labels:
        if label in _NOT_CERT_LABELS:
            raise CertLoadError(f"{source}: is {_NOT_CERT_LABELS[label]}, not a certificate")
    shown = ", ".join(sorted({label.decode() for label in labels}))
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
    total = _der_length(data)
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


def load_certificates(data: bytes, source: str) -> list[LoadedCert]:
    """Every certificate in ``data`` (PEM bundle, DER certificate or PKCS#7)."""
    if len(data) > MAX_INPUT_BYTES:
        raise CertLoadError(f"{source}: larger than 10 MiB, not read")
    if not data.strip():
        raise CertLoadError(f"{source}: empty input")
    if b"-----BEGIN " in data:
        return _load_pem(data, source)
    return _load_der(data, source)


def read_certificate_file(path: str) -> list[LoadedCert]:
    """Every certificate in the file ``path`` (size-checked before reading)."""
    try:
        size = os.path.getsize(path)
        if size > MAX_INPUT_BYTES:
            raise CertLoadError(f"{path}: larger than 10 MiB ({size} bytes), not read")
        with open(path, "rb") as handle:
            data = handle.read(MAX_INPUT_BYTES + 1)
    except IsADirectoryError:
        raise CertLoadError(f"{path}: is a directory") from None
    except OSError as err:
        raise CertLoadError(f"{path}: cannot read ({err.strerror or err})") from None
    return load_certificates(data, path)


def read_pem_objects(data: bytes) -> tuple[list[x509.Certificate], list[x509.CertificateRevocationList]]:
    """Certificates and CRLs of a PEM trust file, like OpenSSL's X509_load_cert_crl_file
    (unparsable blocks are skipped)."""
    certs: list[x509.Certificate] = []
    crls: list[x509.CertificateRevocationList] = []
    for label, pem_body in _pem_blocks(data):
        try:
            body = _b64_body(pem_body)
            if label in _CERT_LABELS:
                certs.append(x509.load_der_x509_certificate(body[:_der_length(body) or len(body)]))
            elif label == b"X509 CRL":
                crls.append(x509.load_der_x509_crl(body))
        except (binascii.Error, ValueError):
            continue
    return certs, crls
