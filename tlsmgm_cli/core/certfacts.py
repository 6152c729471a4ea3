"""Facts about a certificate that operators want next to the ``$tls_*`` values:
SHA-256 fingerprint, key type and size, extended key usages, days left, the real serial,
and the ``openssl x509`` command that shows the same fields."""

from __future__ import annotations

import datetime as dt
import hashlib
import shlex

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x448, x25519
from cryptography.x509.oid import ExtensionOID

# OpenSSL's names for the usual extended key usages
_EKU_NAMES = {
    "1.3.6.1.5.5.7.3.1": "serverAuth",
    "1.3.6.1.5.5.7.3.2": "clientAuth",
    "1.3.6.1.5.5.7.3.3": "codeSigning",
    "1.3.6.1.5.5.7.3.4": "emailProtection",
    "1.3.6.1.5.5.7.3.8": "timeStamping",
    "1.3.6.1.5.5.7.3.9": "OCSPSigning",
    "2.5.29.37.0": "anyExtendedKeyUsage",
}


def fingerprint_sha256(der: bytes) -> str:
    """``openssl x509 -fingerprint -sha256`` form: uppercase hex pairs joined by ``:``."""
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


def key_description(cert: x509.Certificate) -> tuple[str, int | None]:
    """(key type, size in bits) of the certificate's public key, e.g. ("EC P-256", 256)."""
    try:
        key = cert.public_key()
    except (ValueError, TypeError, NotImplementedError):
        return ("unsupported", None)
    if isinstance(key, rsa.RSAPublicKey):
        return ("RSA", key.key_size)
    if isinstance(key, ec.EllipticCurvePublicKey):
        return (f"EC {key.curve.name}", key.key_size)
    if isinstance(key, dsa.DSAPublicKey):
        return ("DSA", key.key_size)
    for kind, name, bits in ((ed25519.Ed25519PublicKey, "Ed25519", 256), (ed448.Ed448PublicKey, "Ed448", 456),
                             (x25519.X25519PublicKey, "X25519", 253), (x448.X448PublicKey, "X448", 448)):
        if isinstance(key, kind):
            return (name, bits)
    return (type(key).__name__, None)


def extended_key_usages(cert: x509.Certificate) -> list[str] | None:
    """EKU names (dotted OIDs for unknown ones); ``None`` without the extension."""
    try:
        eku = cert.extensions.get_extension_for_oid(ExtensionOID.EXTENDED_KEY_USAGE).value
    except (x509.ExtensionNotFound, ValueError):
        return None
    return [_EKU_NAMES.get(oid.dotted_string, oid.dotted_string) for oid in eku]


def days_left(cert: x509.Certificate, at: dt.datetime) -> int:
    """Whole days from ``at`` until notAfter (negative once expired)."""
    return (cert.not_valid_after_utc - at).days


def openssl_command(source: str, index: int = 0) -> str:
    """The ``openssl x509`` command printing the same subject/issuer/serial/dates.

    ``openssl x509`` only reads the first certificate of a file; for later certificates of
    a bundle the command says so.
    """
    where = "" if source == "-" else f" -in {shlex.quote(source)}"
    command = f"openssl x509{where} -noout -subject -issuer -serial -dates -nameopt compat"
    if index:
        command += f"  # reads only the first certificate; this is certificate #{index}"
    return command


def cert_facts(cert: x509.Certificate, der: bytes, source: str, index: int, at: dt.datetime,
               true_serial: bool = False) -> dict[str, object]:
    """The ``extra`` object of ``inspect``: facts kept apart from the ``$tls_*`` values."""
    key_type, key_bits = key_description(cert)
    facts: dict[str, object] = {
        "sha256_fingerprint": fingerprint_sha256(der),
        "key_type": key_type,
        "key_bits": key_bits,
        "extended_key_usage": extended_key_usages(cert),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "days_left": days_left(cert, at),
    }
    if true_serial:
        serial = cert.serial_number
        facts["serial_hex"] = ("-" if serial < 0 else "") + f"{abs(serial):X}"
        facts["serial_decimal"] = str(serial)
    facts["openssl_command"] = openssl_command(source, index)
    return facts
