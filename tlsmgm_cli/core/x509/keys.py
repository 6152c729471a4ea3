"""A certificate's public key described once: its algorithm OID, type and size
(``key_description``), and the short text ``key_text`` (behaviour §5: the key facts
``inspect``, ``list`` and ``check`` show next to the ``$tls_*`` values)."""

from __future__ import annotations

from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x448, x25519


def public_key_oid(cert: x509.Certificate) -> str:
    """The dotted OID of the certificate's public-key algorithm (read from the DER, so it
    works for algorithms cryptography does not know)."""
    try:
        return cert.public_key_algorithm_oid.dotted_string
    except Exception:  # noqa: BLE001 - fall back to reading the SubjectPublicKeyInfo ourselves
        pass
    from cryptography.hazmat.primitives.serialization import Encoding

    from tlsmgm_cli.core.x509.der import first as der_first
    from tlsmgm_cli.core.x509.tlsvars import oid_text

    try:
        tbs = der_first(cert.public_bytes(Encoding.DER)).children()[0].children()
        spki = tbs[6 if tbs[0].tag == 0xA0 else 5]
        return oid_text(spki.children()[0].children()[0].content)
    except Exception:  # noqa: BLE001 - a structure we cannot walk: say so, do not fail
        return "unknown key algorithm"


def key_description(cert: x509.Certificate | Any) -> tuple[str, int | None]:
    """(key type, size in bits) of a certificate's public key (or of a public key), e.g.
    ("EC secp256r1", 256), ("RSA", 2048); (dotted OID, None) for a key algorithm
    cryptography does not know. The one key describer: :func:`key_text` formats it."""
    from cryptography.exceptions import UnsupportedAlgorithm

    if isinstance(cert, x509.Certificate):
        try:
            key = cert.public_key()
        except (ValueError, TypeError, NotImplementedError, UnsupportedAlgorithm):
            return (public_key_oid(cert), None)
    else:
        key = cert
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


_NIST_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}


def key_text(cert: x509.Certificate | Any) -> str:
    """:func:`key_description` as one short text: ``EC P-256``, ``RSA 2048``, ``Ed25519``."""
    kind, bits = key_description(cert)
    if kind.startswith("EC "):
        return "EC " + _NIST_CURVES.get(kind[3:], kind[3:])
    return f"{kind} {bits}" if kind in ("RSA", "DSA") else kind
