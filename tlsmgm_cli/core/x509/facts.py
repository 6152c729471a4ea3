"""Facts about a certificate that operators want next to the ``$tls_*`` values:
SHA-256 fingerprint, key type and size (``core.x509.keys``), extended key usages, days
left, the real serial, and the ``openssl x509`` command that shows the same fields."""

from __future__ import annotations

import datetime as dt
import hashlib
import shlex
from typing import Any

from cryptography import x509
from cryptography.x509.oid import ExtensionOID

from tlsmgm_cli.core.x509.keys import key_description, key_text

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


def general_name_text(name: x509.GeneralName) -> str:
    """``DNS:a.com``, ``IP:::1``, ``URI:sip:a.com``, ``email:a@b.c`` (as ``gen`` reports them)."""
    if isinstance(name, x509.DNSName):
        return f"DNS:{name.value}"
    if isinstance(name, x509.IPAddress):
        return f"IP:{name.value}"
    if isinstance(name, x509.UniformResourceIdentifier):
        return f"URI:{name.value}"
    if isinstance(name, x509.RFC822Name):
        return f"email:{name.value}"
    return f"{type(name).__name__}:{name.value}"


def cert_summary(cert: x509.Certificate, now: dt.datetime | None = None) -> dict[str, Any]:
    """The one short summary of a certificate (``gen`` reports it, ``list`` shows part of
    it), as plain data."""
    from cryptography.x509.oid import NameOID

    from tlsmgm_cli.core.x509.hash import name_hash

    try:
        sans = [general_name_text(n) for n in
                cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value]
    except x509.ExtensionNotFound:
        sans = []
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    now = now or dt.datetime.now(dt.timezone.utc)
    return {
        "subject": cert.subject.rfc4514_string(),
        "subject_cn": str(cns[0].value) if cns else None,
        "issuer": cert.issuer.rfc4514_string(),
        "serial": f"0x{cert.serial_number:x}",
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "days_left": days_left(cert, now),
        "key": key_text(cert),
        "ca": is_ca,
        "sans": sans,
        "subject_hash": name_hash(cert.subject),
    }


def extended_key_usages(cert: x509.Certificate) -> list[str] | None:
    """EKU names (dotted OIDs for unknown ones); ``None`` without the extension;
    ``["<unparsed>"]`` when the certificate's extensions cannot be read."""
    from tlsmgm_cli.core.x509.text import readable_extensions

    try:
        extensions = readable_extensions(cert)
    except (ValueError, x509.DuplicateExtension):
        return _eku_from_der(cert)  # another extension spoils the set: read this one alone
    for ext in extensions:
        if ext.oid == ExtensionOID.EXTENDED_KEY_USAGE:
            if not isinstance(ext.value, x509.ExtendedKeyUsage):
                return ["<unparsed>"]
            return [_EKU_NAMES.get(oid.dotted_string, oid.dotted_string) for oid in ext.value]
    return None


def _eku_from_der(cert: x509.Certificate) -> list[str] | None:
    """The EKU names when cryptography cannot read the certificate's extensions as a
    whole (``core.x509.text`` decodes them one by one); ``["<unparsed>"]`` for a
    malformed EKU extension."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from tlsmgm_cli.core.x509.text import extensions_text

    try:
        found = [e for e in extensions_text(cert, cert.public_bytes(Encoding.DER))
                 if e["oid"] == ExtensionOID.EXTENDED_KEY_USAGE.dotted_string]
    except Exception:  # noqa: BLE001 - a structure we cannot walk
        return ["<unparsed>"]
    if not found:
        return None
    if not found[0]["parsed"]:
        return ["<unparsed>"]
    return [_EKU_NAMES.get(u["oid"], u["oid"]) for u in found[0]["value"]]


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
