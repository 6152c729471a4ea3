"""Facts about a certificate that operators want next to the ``$tls_*`` values:
SHA-256 fingerprint, key type and size, extended key usages, days left, the real serial,
and the ``openssl x509`` command that shows the same fields; and the certificates a live
server presents (:func:`fetch_live_chain`, ``inspect HOST:PORT``)."""

from __future__ import annotations

import datetime as dt
import hashlib
import shlex
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x448, x25519
from cryptography.x509.oid import ExtensionOID

from tlsmgm_cli.core.errors import TlsmgmError

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


def openssl_live_command(host: str, port: int, sni: str | None, index: int = 0) -> str:
    """The ``openssl s_client`` command fetching the same chain (the same SNI, or none)."""
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    name = f"-servername {shlex.quote(sni)}" if sni is not None else "-noservername"
    command = (f"openssl s_client -connect {shlex.quote(target)} {name} -showcerts </dev/null "
               "| openssl x509 -noout -subject -issuer -serial -dates -nameopt compat")
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


# ---- a live server's chain ------------------------------------------------------------------
class LiveChainError(TlsmgmError):
    """A server's chain could not be fetched; ``str()`` is the one-line reason."""


@dataclass(slots=True)
class LiveChain:
    """What one handshake showed: the address connected to, the TLS version, and the
    certificates presented (``certload.LoadedCert``, leaf first)."""

    address: str
    version: str | None
    certs: list[Any] = field(default_factory=list)


def resolve_within(host: str, port: int, timeout: float) -> str:
    """The IP ``host`` resolves to (first answer, as ``handshake`` takes it), within
    ``timeout`` seconds (getaddrinfo cannot be interrupted: it runs in a daemon thread)."""
    import threading

    from tlsmgm_cli.core.tls.handshake import HandshakeFailure, resolve

    answer: list[str | Exception] = []

    def work() -> None:
        try:
            answer.append(resolve(host, port)[1])
        except HandshakeFailure as err:
            answer.append(LiveChainError(str(err)))
        except (UnicodeError, ValueError, OSError) as err:  # IDNA refusals, NUL bytes...
            answer.append(LiveChainError(f"cannot resolve '{host}': {err}"))

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(timeout)
    if not answer:
        raise LiveChainError(f"cannot resolve '{host}' within {timeout:g} s")
    if isinstance(answer[0], Exception):
        raise answer[0]
    return answer[0]


def fetch_live_chain(source: str, host: str, port: int, sni: str | None, timeout: float) -> LiveChain:
    """Connect to ``host:port`` and take the chain it presents: nothing verified, ``sni``
    sent byte for byte (None: no SNI), connect + handshake within ``timeout`` seconds
    (resolving a host name within ``limits.RESOLVE_TIMEOUT_S``). Raises LiveChainError."""
    from tlsmgm_cli.core.limits import RESOLVE_TIMEOUT_S
    from tlsmgm_cli.core.net.addresses import socket_text
    from tlsmgm_cli.core.tls.probe import client_context, handshake_once
    from tlsmgm_cli.core.x509.load import LoadedCert

    ip = resolve_within(host, port, RESOLVE_TIMEOUT_S)
    live = handshake_once(client_context(), ip, port, sni, timeout)
    address = socket_text(ip, port)
    where = address + (f" (SNI {sni!r})" if sni is not None else " (no SNI)")
    if not live.chain:
        raise LiveChainError(f"{where}: {live.error or 'the server presented no certificate'}")
    chain = LiveChain(address, live.version)
    for index, der in enumerate(live.chain):
        try:
            chain.certs.append(LoadedCert(source, index, x509.load_der_x509_certificate(der), der))
        except ValueError as err:
            raise LiveChainError(f"{where}: certificate #{index} of the chain cannot be read: {err}") from None
    return chain
