"""Test PKI generation: CAs, leaf certificates, CRLs and hashed directories.

Pure functions on ``cryptography`` objects; nothing is printed. Files are written only by
``Issued.write``, ``write_hashed_crl_dir`` and ``rehash_dir``, always atomically.

Unlike opensips-cli's ``tls rootCA``/``userCERT`` (issues #141/#142), a CA made here is
marked CA (basicConstraints CA:TRUE, critical; keyUsage keyCertSign+cRLSign), a leaf carries
its own public key, and every leaf has a subjectAltName.

Hashed directories: OpenSSL finds CA certificates in a ``ca_dir`` as ``<hash>.N`` and CRLs
as ``<hash>.rN``. tls_mgm's ``crl_dir`` loader is different: it reads only *regular files*
(``d_type``) that parse as PEM CRLs and skips symlinks (behaviour §6.7).
``write_hashed_crl_dir`` therefore writes regular ``<hash>.rN`` files, usable both by
tls_mgm and by OpenSSL's hash lookup, while ``rehash_dir`` makes ``c_rehash``-style
symlinks for a ``ca_dir``.
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import ipaddress
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificatePublicKeyTypes,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tlsmgm_cli.core.errors import TlsmgmError, UsageError
from tlsmgm_cli.core.limits import PKI_FILE_MAX_BYTES, RSA_BITS_MAX
from tlsmgm_cli.core.util.atomicio import PUBLIC_MODE, SECRET_MODE, atomic_write
from tlsmgm_cli.core.util.safeio import UnsafeInput, read_bytes_limited
from tlsmgm_cli.core.x509.der import encode_tlv, split_tlv
from tlsmgm_cli.core.x509.hash import name_hash
from tlsmgm_cli.core.x509.pem import CERTIFICATE_LABELS, pem_blocks

KeyKind = Literal["ec", "rsa", "ed25519"]
_Loaded = TypeVar("_Loaded")

CURVES: dict[str, type[ec.EllipticCurve]] = {
    "P-256": ec.SECP256R1, "prime256v1": ec.SECP256R1, "secp256r1": ec.SECP256R1,
    "P-384": ec.SECP384R1, "secp384r1": ec.SECP384R1,
    "P-521": ec.SECP521R1, "secp521r1": ec.SECP521R1,
}
DEFAULT_CURVE = "P-256"
HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1, "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512,
}
#: How far back ``not_before`` is set by default, to tolerate clock skew between hosts.
BACKDATE = dt.timedelta(minutes=5)

# AlgorithmIdentifier DER of ecdsa-with-SHA1 and sha1WithRSAEncryption (with NULL parameters).
_SHA1_ALGORITHM_ID_EC = bytes.fromhex("300906072a8648ce3d0401")
_SHA1_ALGORITHM_ID_RSA = bytes.fromhex("300d06092a864886f70d0101050500")
_HASHED_NAME = re.compile(r"^[0-9a-f]{8}\.(r?)\d+$")
_REHASH_SUFFIXES = (".pem", ".crt", ".cer", ".crl")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:.")
#: the longest DNS label and name (RFC 1035)
DNS_LABEL_MAX = 63
DNS_NAME_MAX = 253
#: the longest commonName X.509 allows (RFC 5280 ub-common-name)
CN_MAX = 64


@dataclass
class Issued:
    """A certificate with its private key, and the ``Issued`` that signed it (None: self-signed)."""

    cert: x509.Certificate
    key: CertificateIssuerPrivateKeyTypes
    issuer: Issued | None = None

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def chain_pem(self) -> bytes:
        """This certificate followed by its issuers, without the self-signed root."""
        pems = [self.cert_pem()]
        parent = self.issuer
        while parent is not None and parent.issuer is not None:
            pems.append(parent.cert_pem())
            parent = parent.issuer
        return b"".join(pems)

    def key_pem(self, password: bytes | str | None = None) -> bytes:
        """The private key as PKCS#8 PEM, encrypted when ``password`` is given."""
        if password:
            secret = password.encode() if isinstance(password, str) else password
            encryption: serialization.KeySerializationEncryption = (
                serialization.BestAvailableEncryption(secret))
        else:
            encryption = serialization.NoEncryption()
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      encryption)

    def write(self, directory: str | os.PathLike[str], name: str, force: bool = False, *,
              password: bytes | str | None = None, chain: bool = False) -> tuple[Path, Path]:
        """Write ``NAME.crt`` (the chain when ``chain``) and ``NAME.key`` (mode 0600).

        Nothing is written when either file exists and ``force`` is false.
        """
        cert_path, key_path = issued_paths(directory, name)
        check_targets((cert_path, key_path), force=force)
        with removing_new_dirs((Path(directory),)):
            atomic_write(key_path, self.key_pem(password), mode=SECRET_MODE, force=True)
            atomic_write(cert_path, self.chain_pem() if chain else self.cert_pem(),
                         mode=PUBLIC_MODE, force=True)
        return cert_path, key_path


def issued_paths(directory: str | os.PathLike[str], name: str) -> tuple[Path, Path]:
    """The ``NAME.crt`` and ``NAME.key`` paths ``Issued.write`` writes into ``directory``."""
    return Path(directory) / f"{name}.crt", Path(directory) / f"{name}.key"


def lexists(path: Path) -> bool:
    """Whether ``path`` exists (a dangling link counts); ``UsageError`` for a path the
    file system cannot even look up (a name over 255 bytes, a file where a directory
    should be), which would only fail later, after a long key generation."""
    try:
        os.lstat(path)
    except FileNotFoundError:
        return False
    except OSError as err:
        if err.errno == errno.ENAMETOOLONG:
            raise UsageError(f"{path}: the path is too long for the file system (at most 255 bytes per "
                             "name, 4096 in all)") from None
        if err.errno == errno.ENOTDIR:
            raise UsageError(f"{path}: a component of the path is not a directory") from None
        raise TlsmgmError(f"{path}: {err.strerror or err}") from None
    return True


def check_targets(paths: Iterable[Path], *, force: bool, may_exist: bool = False) -> None:
    """Refuse, before any key is generated, files that cannot be written: existing ones
    unless ``force`` or ``may_exist`` (a CRL that is updated), and paths the file system
    cannot hold. ``UsageError`` names the path and why."""
    for path in paths:
        if lexists(path) and not (force or may_exist):
            raise UsageError(f"{path} already exists (use --force to overwrite it)")


@contextmanager
def removing_new_dirs(directories: Iterable[Path]) -> Iterator[None]:
    """Directories among ``directories`` (with their missing parents) that do not exist
    yet are removed again, when still empty, if the block fails: a write that failed
    (a full disk) leaves no empty directory behind."""
    missing: list[Path] = []
    for directory in directories:
        for candidate in (directory, *directory.parents):
            if lexists(candidate):
                break
            missing.append(candidate)
    try:
        yield
    except BaseException:
        for candidate in sorted(set(missing), key=lambda p: len(p.parts), reverse=True):
            try:
                candidate.rmdir()
            except OSError:
                pass  # not empty (someone else's files) or already gone: leave it
        raise


def new_key(kind: KeyKind = "ec", *, bits: int = 2048, curve: str = DEFAULT_CURVE,
            ) -> CertificateIssuerPrivateKeyTypes:
    """A fresh private key: EC on ``curve``, RSA of ``bits``, or Ed25519."""
    if kind == "ec":
        try:
            return ec.generate_private_key(CURVES[curve]())
        except KeyError:
            raise UsageError(f"unknown EC curve {curve!r} (use one of P-256, P-384, P-521)") from None
    if kind == "rsa":
        if bits < 512:
            raise UsageError(f"RSA key size {bits} is too small (at least 512 bits)")
        if bits > RSA_BITS_MAX:
            raise UsageError(f"RSA key size {bits} is too large (at most {RSA_BITS_MAX} bits)")
        return rsa.generate_private_key(public_exponent=65537, key_size=bits)
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise UsageError(f"unknown key type {kind!r} (use ec, rsa or ed25519)")


def parse_san(text: str) -> x509.GeneralName:
    """One subjectAltName from ``DNS:a.com``, ``IP:10.0.0.1``, ``IP:::1``, ``URI:sip:a@b``,
    ``email:x@y`` or a bare host name / IP address."""
    prefix, sep, value = text.partition(":")
    kind = prefix.strip().lower() if sep else ""
    if kind in ("dns", "ip", "uri", "email"):
        value = value.strip()
    else:
        kind, value = "", text.strip()
    if not value:
        raise UsageError(f"empty subjectAltName {text!r}")
    if re.search(r"[\ud800-\udfff]", text):  # argv bytes that are not UTF-8
        shown = text.encode("utf-8", "surrogateescape").decode("ascii", "backslashreplace")
        raise UsageError(f"subjectAltName '{shown}' is not valid UTF-8")
    if _CONTROL.search(value):
        raise UsageError(f"subjectAltName {text!r} holds control characters")
    if kind in ("ip", ""):
        try:
            return x509.IPAddress(ipaddress.ip_address(value))
        except ValueError:
            if kind == "ip":
                raise UsageError(f"subjectAltName {text!r}: {value!r} is not an IP address") from None
    if kind == "uri":
        if not _URI.match(value) or any(c.isspace() for c in value):
            raise UsageError(f"subjectAltName {text!r}: {value!r} is not a URI (e.g. sip:alice@atlanta.com)")
        _ascii_only(value, text, "a URI", "percent-encode the user part and IDNA-encode the host, "
                                          "e.g. sip:%C3%BC@xn--9ca.com")
        return _general_name(x509.UniformResourceIdentifier, value, text)
    if kind == "email":
        local, at, host = value.rpartition("@")
        if not at or not local or any(c.isspace() for c in value):
            raise UsageError(f"subjectAltName {text!r}: {value!r} is not an e-mail address "
                             "(e.g. email:alice@atlanta.com)")
        _ascii_only(local, text, "the local part of an e-mail address",
                    "internationalized mailboxes (SmtpUTF8Mailbox) are not supported")
        return _general_name(x509.RFC822Name, f"{local}@{_dns_name(host, text)}", text)
    if ":" in value:
        raise UsageError(f"subjectAltName {text!r}: unknown type (use DNS:, IP:, URI: or email:)")
    return x509.DNSName(_dns_name(value, text))


def _ascii_only(value: str, text: str, what: str, advice: str) -> None:
    """Refuse non-ASCII in an e-mail or URI subjectAltName: X.509 stores both as an
    IA5String (RFC 5280 §4.2.1.6), which holds ASCII only, and cryptography refuses
    anything else."""
    if not value.isascii():
        odd = next(c for c in value if not c.isascii())
        raise UsageError(f"subjectAltName {text!r}: {what} holds the non-ASCII character {odd!r}; "
                         f"X.509 stores it as an IA5String, ASCII only; {advice}")


_Name = TypeVar("_Name", x509.UniformResourceIdentifier, x509.RFC822Name)


def _general_name(kind: Callable[[str], _Name], value: str, text: str) -> _Name:
    """``kind(value)``, a usage error if cryptography still refuses the value."""
    try:
        return kind(value)
    except ValueError as err:
        raise UsageError(f"subjectAltName {text!r} cannot be encoded ({err})") from None


def _dns_name(value: str, text: str) -> str:
    """``value`` as an ASCII DNS name (IDNA for non-ASCII): labels of 1 to 63 characters,
    253 characters in all; a leading ``*.`` wildcard label is allowed."""
    if any(c.isspace() for c in value):
        raise UsageError(f"subjectAltName {text!r}: a DNS name cannot contain spaces")
    if not value.isascii():
        try:
            value = value.encode("idna").decode("ascii")
        except UnicodeError:
            raise UsageError(f"subjectAltName {text!r} is not a valid DNS name") from None
    labels = value[:-1].split(".") if value.endswith(".") else value.split(".")
    for label in labels:
        if not label:
            raise UsageError(f"subjectAltName {text!r}: a DNS name has no empty labels")
        if len(label) > DNS_LABEL_MAX:
            raise UsageError(f"subjectAltName {text!r}: the label {label[:20]!r}... is {len(label)} "
                             f"characters long; DNS allows at most {DNS_LABEL_MAX}")
    if len(value.rstrip(".")) > DNS_NAME_MAX:
        raise UsageError(f"subjectAltName {text!r}: the name is {len(value)} characters long; DNS "
                         f"allows at most {DNS_NAME_MAX}")
    return value


def _cn_name(cn: str) -> x509.Name:
    """``CN=cn``; TlsmgmError unless ``cn`` has 1 to 64 characters."""
    if not cn or len(cn) > CN_MAX:
        raise UsageError(f"a common name has 1 to {CN_MAX} characters, not {len(cn)}")
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _validity(days: int, not_before: dt.datetime | None,
              not_after: dt.datetime | None) -> tuple[dt.datetime, dt.datetime]:
    start = not_before or (dt.datetime.now(dt.timezone.utc) - BACKDATE)
    try:
        end = not_after or (start + BACKDATE + dt.timedelta(days=days))
    except OverflowError:
        raise UsageError(f"a validity of {days} days ends after the year 9999") from None
    if end <= start:
        raise UsageError(f"notAfter {end:%Y-%m-%d %H:%M:%S} is not after notBefore {start:%Y-%m-%d %H:%M:%S}")
    return start, end


def _hash_algorithm(signing_key: CertificateIssuerPrivateKeyTypes,
                    choice: hashes.HashAlgorithm | str | None) -> hashes.HashAlgorithm | None:
    """The digest to sign with: none for Ed25519/Ed448 keys (they hash internally)."""
    if not isinstance(signing_key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        return None
    if choice is None:
        return hashes.SHA256()
    if isinstance(choice, str):
        try:
            return HASHES[choice.lower().replace("-", "")]()
        except KeyError:
            raise UsageError(f"unknown hash {choice!r} (use one of {', '.join(HASHES)})") from None
    return choice


def _sign(builder: x509.CertificateBuilder, signer_key: CertificateIssuerPrivateKeyTypes,
          choice: hashes.HashAlgorithm | str | None) -> x509.Certificate:
    algorithm = _hash_algorithm(signer_key, choice)
    if isinstance(algorithm, hashes.SHA1):
        return _resign_sha1(builder.sign(signer_key, hashes.SHA256()), signer_key)
    # sign() is annotated with a private union of the SHA-2/SHA-3 classes; the digest is checked
    # by cryptography at run time, as before
    return builder.sign(signer_key, cast(Any, algorithm))


def _resign_sha1(cert: x509.Certificate, signer_key: CertificateIssuerPrivateKeyTypes) -> x509.Certificate:
    """``cert`` signed again with SHA-1, which cryptography's builder refuses to produce.

    The signature AlgorithmIdentifier inside the TBSCertificate and outside it are replaced
    and the new TBS is signed directly with the key.
    """
    if isinstance(signer_key, rsa.RSAPrivateKey):
        algorithm_id = _SHA1_ALGORITHM_ID_RSA

        def signature(tbs: bytes) -> bytes:
            return signer_key.sign(tbs, padding.PKCS1v15(), hashes.SHA1())
    elif isinstance(signer_key, ec.EllipticCurvePrivateKey):
        algorithm_id = _SHA1_ALGORITHM_ID_EC

        def signature(tbs: bytes) -> bytes:
            return signer_key.sign(tbs, ec.ECDSA(hashes.SHA1()))
    else:
        raise UsageError("SHA-1 signatures need an RSA or EC signing key")
    tag, body, _ = split_tlv(cert.tbs_certificate_bytes)
    after_version = split_tlv(body)[2]
    after_serial = split_tlv(after_version)[2]
    after_algorithm = split_tlv(after_serial)[2]
    head = body[:len(body) - len(after_serial)]
    tbs = encode_tlv(tag, head + algorithm_id + after_algorithm)
    bit_string = encode_tlv(0x03, b"\x00" + signature(tbs))
    return x509.load_der_x509_certificate(encode_tlv(0x30, tbs + algorithm_id + bit_string))


def _aki(issuer_cert: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    try:
        ski = issuer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
    except x509.ExtensionNotFound:
        # cryptography annotates a narrower key union than public_key() returns (our CAs: RSA/EC/Ed*)
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_cert.public_key())  # type: ignore[arg-type]


def _builder(subject: x509.Name, issuer_name: x509.Name, public_key: CertificatePublicKeyTypes,
             serial: int | None, validity: tuple[dt.datetime, dt.datetime], *, ca: bool,
             key_encipherment: bool = False) -> x509.CertificateBuilder:
    """A builder with the extensions every generated certificate has: the subject key id,
    critical basicConstraints (CA or not) and a critical keyUsage fit for a CA (certificate
    and CRL signing) or an end entity (digital signature, plus key encipherment for RSA)."""
    return (x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer_name)
            .public_key(public_key)
            .serial_number(serial if serial is not None else x509.random_serial_number())
            .not_valid_before(validity[0])
            .not_valid_after(validity[1])
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=not ca, content_commitment=False, key_encipherment=key_encipherment,
                data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                encipher_only=False, decipher_only=False), critical=True))


def make_ca(cn: str = "tlsmgm test CA", *, key: KeyKind = "ec", bits: int = 2048,
            curve: str = DEFAULT_CURVE, days: int = 3650, not_before: dt.datetime | None = None,
            not_after: dt.datetime | None = None, parent: Issued | None = None,
            subject: x509.Name | None = None,
            hash: hashes.HashAlgorithm | str | None = None) -> Issued:
    """A root CA (self-signed), or an intermediate CA when ``parent`` is given."""
    private_key = new_key(key, bits=bits, curve=curve)
    if subject is None:
        subject = _cn_name(cn)
    signer_key = parent.key if parent else private_key
    builder = _builder(subject, parent.cert.subject if parent else subject, private_key.public_key(),
                       None, _validity(days, not_before, not_after), ca=True)
    if parent:
        builder = builder.add_extension(_aki(parent.cert), critical=False)
    cert = _sign(builder, signer_key, hash)
    return Issued(cert, private_key, parent)


def make_cert(ca: Issued | None, cn: str, *, sans: Sequence[str] | None = None, server: bool = True,
              client: bool = False, key: KeyKind = "ec", bits: int = 2048, curve: str = DEFAULT_CURVE,
              days: int = 825, not_before: dt.datetime | None = None,
              not_after: dt.datetime | None = None, serial: int | None = None,
              subject: x509.Name | None = None, self_signed: bool = False,
              hash: hashes.HashAlgorithm | str | None = None) -> Issued:
    """An end-entity certificate for ``cn`` signed by ``ca`` (or by itself when ``self_signed``).

    ``sans`` defaults to the CN (as an IP address when it is one). ``subject`` replaces the
    default ``CN=cn`` subject. ``hash`` may be ``"sha1"`` to make deliberately weak test certs.
    """
    if ca is None and not self_signed:
        raise UsageError("make_cert needs a CA unless self_signed=True")
    private_key = new_key(key, bits=bits, curve=curve)
    if subject is None:
        subject = _cn_name(cn)
    general_names = [parse_san(s) for s in (sans if sans else [cn])]
    issuer = None if self_signed else ca
    signer_key = issuer.key if issuer else private_key
    is_rsa = isinstance(private_key, rsa.RSAPrivateKey)
    builder = (_builder(subject, issuer.cert.subject if issuer else subject, private_key.public_key(),
                        serial, _validity(days, not_before, not_after), ca=False, key_encipherment=is_rsa)
               .add_extension(x509.SubjectAlternativeName(general_names), critical=False))
    usages = ([ExtendedKeyUsageOID.SERVER_AUTH] if server else []) + (
        [ExtendedKeyUsageOID.CLIENT_AUTH] if client else [])
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    if issuer:
        builder = builder.add_extension(_aki(issuer.cert), critical=False)
    cert = _sign(builder, signer_key, hash)
    return Issued(cert, private_key, issuer)


def make_crl(ca: Issued, revoked_serials: Iterable[int | tuple[int, dt.datetime]], *, days: int = 30,
             last_update: dt.datetime | None = None, next_update: dt.datetime | None = None,
             number: int = 1, hash: hashes.HashAlgorithm | str | None = None,
             ) -> x509.CertificateRevocationList:
    """A CRL signed by ``ca`` revoking ``revoked_serials`` (serials, or (serial, date) pairs).

    A bare serial is revoked as of ``last_update`` (default: now).
    """
    this_update = last_update or dt.datetime.now(dt.timezone.utc) - BACKDATE
    builder = (x509.CertificateRevocationListBuilder()
               .issuer_name(ca.cert.subject)
               .last_update(this_update)
               .next_update(next_update or this_update + BACKDATE + dt.timedelta(days=days))
               .add_extension(x509.CRLNumber(number), critical=False)
               .add_extension(_aki(ca.cert), critical=False))
    seen: set[int] = set()
    for item in revoked_serials:
        serial, when = item if isinstance(item, tuple) else (item, this_update)
        if serial in seen:
            continue
        seen.add(serial)
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build())
    return builder.sign(ca.key, cast(Any, _hash_algorithm(ca.key, hash)))  # see _sign


def crl_pem(crl: x509.CertificateRevocationList) -> bytes:
    return crl.public_bytes(serialization.Encoding.PEM)


def load_issued(cert_path: str | os.PathLike[str], key_path: str | os.PathLike[str],
                password: bytes | None = None) -> Issued:
    """Read a certificate and its private key; ``TlsmgmError`` names the file and why."""
    cert = load_cert(cert_path)
    key_pem = _read_limited(Path(key_path), "private key")
    try:
        key = serialization.load_pem_private_key(key_pem, password)
    except (ValueError, TypeError) as err:
        raise UsageError(f"{key_path}: not a usable PEM private key ({err})") from err
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey)):
        raise UsageError(f"{key_path}: unsupported key type {type(key).__name__}")
    if _public_der(key.public_key()) != _public_der(cert.public_key()):
        raise UsageError(f"{key_path}: key does not match the public key of {cert_path}")
    return Issued(cert, key)


def load_cert(path: str | os.PathLike[str]) -> x509.Certificate:
    """The first certificate of a PEM file; ``TlsmgmError`` names the file and why."""
    return _load_pem(Path(path), "certificate", x509.load_pem_x509_certificate)


def load_crl(path: str | os.PathLike[str]) -> x509.CertificateRevocationList:
    return _load_pem(Path(path), "CRL", x509.load_pem_x509_crl)


def _read_limited(path: Path, what: str) -> bytes:
    """A regular file of at most PKI_FILE_MAX_BYTES (a device or FIFO is refused, not read)."""
    try:
        return read_bytes_limited(path, limit=PKI_FILE_MAX_BYTES, what=what)
    except UnsafeInput as err:
        raise TlsmgmError(f"{path}: cannot read {what} ({err})", exit_code=err.exit_code) from None


def _load_pem(path: Path, what: str, loader: Callable[[bytes], _Loaded]) -> _Loaded:
    data = _read_limited(path, what)
    try:
        return loader(data)
    except ValueError as err:
        raise UsageError(f"{path}: not a PEM {what} ({err})") from err


def _public_der(public_key: CertificatePublicKeyTypes) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)


@dataclass
class CrlUpdate:
    """What ``update_crl`` did."""

    crl: x509.CertificateRevocationList
    crl_path: Path
    hashed: list[Path]
    added: list[int]

    @property
    def revoked(self) -> list[int]:
        return [entry.serial_number for entry in self.crl]


def update_crl(ca: Issued, crl_path: str | os.PathLike[str], hashed_dir: str | os.PathLike[str],
               serials: Iterable[int], *, days: int = 30, fresh: bool = False) -> CrlUpdate:
    """Revoke ``serials`` into the CRL file ``crl_path`` and mirror it into ``hashed_dir``.

    An existing CRL issued by ``ca`` keeps its revocations (with their dates) and its CRL
    number goes up by one; one from another issuer is an error unless ``fresh`` (start over).
    """
    path = Path(crl_path)
    previous: list[tuple[int, dt.datetime]] = []
    number = 1
    if lexists(path) and path.exists() and not fresh:  # a dangling link: atomic_write says so
        old = load_crl(path)
        # narrower key union in cryptography's annotation, as in _aki
        if old.issuer != ca.cert.subject or not old.is_signature_valid(ca.cert.public_key()):  # type: ignore[arg-type]
            raise UsageError(f"{path} was not issued by this CA ({ca.cert.subject.rfc4514_string()}); "
                             "use --force to start a new CRL")
        previous = [(entry.serial_number, entry.revocation_date_utc) for entry in old]
        try:
            number = old.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number + 1
        except x509.ExtensionNotFound:
            number = 1
    known = {serial for serial, _ in previous}
    added = list(dict.fromkeys(s for s in serials if s not in known))
    crl = make_crl(ca, [*previous, *added], days=days, number=number)
    with removing_new_dirs((path.parent, Path(hashed_dir))):
        atomic_write(path, crl_pem(crl), force=True)
        hashed = write_hashed_crl_dir(hashed_dir, [crl])
    return CrlUpdate(crl, path, hashed, added)


def write_hashed_crl_dir(directory: str | os.PathLike[str],
                         crls: Iterable[x509.CertificateRevocationList]) -> list[Path]:
    """Make ``directory`` hold exactly ``crls`` as regular files ``<issuer hash>.rN``.

    Usable as tls_mgm ``crl_dir`` (regular files only) and by OpenSSL's hashed lookup.
    Stale ``<hash>.rN`` entries are removed; other files are left alone.
    """
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    counters: dict[str, int] = {}
    written: list[Path] = []
    for crl in crls:
        digest = name_hash(crl.issuer)
        index = counters.get(digest, 0)
        counters[digest] = index + 1
        written.append(atomic_write(target / f"{digest}.r{index}", crl_pem(crl), force=True))
    keep = {p.name for p in written}
    for entry in target.iterdir():
        match = _HASHED_NAME.match(entry.name)
        if match and match.group(1) and entry.name not in keep:
            entry.unlink()
    return written


def rehash_dir(directory: str | os.PathLike[str]) -> dict[str, str]:
    """Like ``c_rehash DIR``: symlink ``<hash>.N`` to each certificate and ``<hash>.rN`` to
    each CRL in the ``.pem/.crt/.cer/.crl`` files of ``directory``.

    Existing hash-named symlinks are rebuilt; identical objects get one link. Returns
    {link name: target file name}.
    """
    target = Path(directory)
    for entry in target.iterdir():
        if entry.is_symlink() and _HASHED_NAME.match(entry.name):
            entry.unlink()
    links: dict[str, str] = {}
    seen: set[bytes] = set()
    counters: dict[str, int] = {}
    for entry in sorted(target.iterdir()):
        if (not entry.is_file() or entry.is_symlink() or _HASHED_NAME.match(entry.name)
                or entry.suffix.lower() not in _REHASH_SUFFIXES):
            continue
        found = _hashable_object(entry.read_bytes())
        if found is None:
            continue
        digest, suffix, fingerprint = found
        if fingerprint in seen:
            continue
        seen.add(fingerprint)
        index = counters.get(digest + suffix, 0)
        counters[digest + suffix] = index + 1
        link = f"{digest}.{suffix}{index}"
        os.symlink(entry.name, target / link)
        links[link] = entry.name
    return links


def _hashable_object(data: bytes) -> tuple[str, str, bytes] | None:
    """(name hash, link suffix, fingerprint) of the first certificate, else the first CRL,
    in PEM ``data`` (certificate labels as c_rehash: ``[X509 |TRUSTED ]CERTIFICATE``)."""
    blocks = pem_blocks(data)
    try:
        cert = next((b for b in blocks if b.label in CERTIFICATE_LABELS), None)
        if cert is not None:
            loaded = x509.load_der_x509_certificate(cert.certificate_der())
            return name_hash(loaded.subject), "", loaded.fingerprint(hashes.SHA1())
        crl = next((b for b in blocks if b.label == b"X509 CRL"), None)
        if crl is not None:
            der = crl.der()
            return name_hash(x509.load_der_x509_crl(der).issuer), "r", hashlib.sha1(der).digest()
    except ValueError:
        return None
    return None
