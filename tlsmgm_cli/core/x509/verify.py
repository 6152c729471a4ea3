"""The verify result OpenSSL 3.0 would store for a peer presenting a certificate chain.

OpenSIPS keeps exactly one ``SSL_get_verify_result`` code per connection: the first
error ``X509_verify_cert`` reports (its verify callback passes OpenSSL's verdict through,
so the first failure ends verification), with the verify depth fixed at 3 (behaviour §5.11).
:func:`verify_peer` reproduces that, in OpenSSL's order:

1. chain building, trusted-first (18 self-signed leaf, 19 self-signed in chain,
   20 / 2 issuer not found, 22 chain too long);
2. extensions of every chain element (34 unhandled critical, 79 invalid CA,
   26 purpose, 25 path length);
3. CRLs when CRL checking is on (leaf only, or the whole chain with crl_check_all):
   3 no CRL, 35 issuer may not sign CRLs, 44 scope, 11/12 CRL time, 8 CRL signature,
   36 critical CRL extension, 23 revoked;
4. signatures and validity, from the trust anchor down to the leaf
   (32 issuer may not sign certificates, 7 bad signature, 9 not yet valid, 10 expired).

So a self-signed leaf reports 18 even when expired, and a revoked certificate reports
23 even when expired. Not modelled: auxiliary trust settings of ``TRUSTED CERTIFICATE``,
name constraints, policies, delta and indirect CRLs (such CRLs are ignored, as OpenSSL
does without extended CRL support), proxy certificates. Names are compared by their
canonical encoding (``X509_NAME_cmp``).
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, SignatureAlgorithmOID

from tlsmgm_cli.core.errors import TlsmgmError, UsageError
from tlsmgm_cli.core.x509.der import header
from tlsmgm_cli.core.x509.hash import canonical_name_encoding, name_hash_der
from tlsmgm_cli.core.x509.load import read_pem_objects
from tlsmgm_cli.core.x509.pem import is_pem

VERIFY_DEPTH = 3  # SSL_CTX_set_verify_depth(ctx, 3) in tls_openssl

X509_V_OK = 0
ERR_UNSPECIFIED = 1
ERR_UNABLE_TO_GET_ISSUER_CERT = 2
ERR_UNABLE_TO_GET_CRL = 3
ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY = 6
ERR_CERT_SIGNATURE_FAILURE = 7
ERR_CRL_SIGNATURE_FAILURE = 8
ERR_CERT_NOT_YET_VALID = 9
ERR_CERT_HAS_EXPIRED = 10
ERR_CRL_NOT_YET_VALID = 11
ERR_CRL_HAS_EXPIRED = 12
ERR_DEPTH_ZERO_SELF_SIGNED_CERT = 18
ERR_SELF_SIGNED_CERT_IN_CHAIN = 19
ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY = 20
ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE = 21
ERR_CERT_CHAIN_TOO_LONG = 22
ERR_CERT_REVOKED = 23
ERR_PATH_LENGTH_EXCEEDED = 25
ERR_INVALID_PURPOSE = 26
ERR_KEYUSAGE_NO_CERTSIGN = 32
ERR_UNHANDLED_CRITICAL_EXTENSION = 34
ERR_KEYUSAGE_NO_CRL_SIGN = 35
ERR_UNHANDLED_CRITICAL_CRL_EXTENSION = 36
ERR_DIFFERENT_CRL_SCOPE = 44
ERR_INVALID_CA = 79

# X509_verify_cert_error_string (OpenSSL 3.0)
VERIFY_TEXTS: dict[int, str] = {
    X509_V_OK: "ok",
    ERR_UNSPECIFIED: "unspecified certificate verification error",
    ERR_UNABLE_TO_GET_ISSUER_CERT: "unable to get issuer certificate",
    ERR_UNABLE_TO_GET_CRL: "unable to get certificate CRL",
    ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY: "unable to decode issuer public key",
    ERR_CERT_SIGNATURE_FAILURE: "certificate signature failure",
    ERR_CRL_SIGNATURE_FAILURE: "CRL signature failure",
    ERR_CERT_NOT_YET_VALID: "certificate is not yet valid",
    ERR_CERT_HAS_EXPIRED: "certificate has expired",
    ERR_CRL_NOT_YET_VALID: "CRL is not yet valid",
    ERR_CRL_HAS_EXPIRED: "CRL has expired",
    ERR_DEPTH_ZERO_SELF_SIGNED_CERT: "self-signed certificate",
    ERR_SELF_SIGNED_CERT_IN_CHAIN: "self-signed certificate in certificate chain",
    ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "unable to get local issuer certificate",
    ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE: "unable to verify the first certificate",
    ERR_CERT_CHAIN_TOO_LONG: "certificate chain too long",
    ERR_CERT_REVOKED: "certificate revoked",
    ERR_PATH_LENGTH_EXCEEDED: "path length constraint exceeded",
    ERR_INVALID_PURPOSE: "unsuitable certificate purpose",
    ERR_KEYUSAGE_NO_CERTSIGN: "key usage does not include certificate signing",
    ERR_UNHANDLED_CRITICAL_EXTENSION: "unhandled critical extension",
    ERR_KEYUSAGE_NO_CRL_SIGN: "key usage does not include CRL signing",
    ERR_UNHANDLED_CRITICAL_CRL_EXTENSION: "unhandled critical CRL extension",
    ERR_DIFFERENT_CRL_SCOPE: "different CRL scope",
    ERR_INVALID_CA: "invalid CA certificate",
}

# X509_supported_extension (OpenSSL 3.0): critical extensions OpenSSL understands
_SUPPORTED_EXTENSIONS = {
    "2.16.840.1.113730.1.1", "2.5.29.15", "2.5.29.17", "2.5.29.19", "2.5.29.32", "2.5.29.31",
    "2.5.29.37", "1.3.6.1.5.5.7.1.7", "1.3.6.1.5.5.7.1.8", "1.3.6.1.5.5.7.48.1.5", "2.5.29.36",
    "1.3.6.1.5.5.7.1.14", "2.5.29.30", "2.5.29.33", "2.5.29.54",
}
# CRL extensions that do not make a critical CRL "unhandled" (IDP, AKID, delta CRL indicator)
_HANDLED_CRL_EXTENSIONS = {"2.5.29.28", "2.5.29.35", "2.5.29.27"}

PURPOSE_SSL_CLIENT = "sslclient"  # a server verifying a client (OpenSIPS server domain)
PURPOSE_SSL_SERVER = "sslserver"  # a client verifying a server (OpenSIPS client domain)
_PURPOSE_EKU = {PURPOSE_SSL_CLIENT: ExtendedKeyUsageOID.CLIENT_AUTH,
                PURPOSE_SSL_SERVER: ExtendedKeyUsageOID.SERVER_AUTH}

# CRL score bits (x509_vfy.c)
_CRL_SCORE_NOCRITICAL = 0x100
_CRL_SCORE_SCOPE = 0x080
_CRL_SCORE_TIME = 0x040
_CRL_SCORE_ISSUER_NAME = 0x020
_CRL_SCORE_VALID = _CRL_SCORE_NOCRITICAL | _CRL_SCORE_TIME | _CRL_SCORE_SCOPE
_CRL_SCORE_ISSUER_CERT = 0x018
_CRL_SCORE_SAME_PATH = 0x008
_CRL_SCORE_AKID = 0x004

_HASHED_CERT = re.compile(r"^[0-9a-f]{8}\.\d+$")


# ---- per-certificate facts (OpenSSL's cached extension flags) ---------------------------------
def _ext(cert: x509.Certificate | x509.CertificateRevocationList, oid: x509.ObjectIdentifier) -> Any:
    try:
        return cert.extensions.get_extension_for_oid(oid).value
    except x509.ExtensionNotFound:
        return None


@functools.lru_cache(maxsize=4096)
def _canonical_der(der: bytes) -> bytes:
    """``canonical_name_encoding`` memoised: most names (issuers, CA subjects) recur."""
    return canonical_name_encoding(der)


def _canon(name: x509.Name) -> bytes:
    return _canonical_der(name.public_bytes())


def _name_ders(cert: x509.Certificate) -> tuple[bytes, bytes]:
    """(issuer, subject) as DER-encoded Names, cut out of the TBSCertificate; building
    ``x509.Name`` objects only to re-encode them costs several times more."""
    tbs = cert.tbs_certificate_bytes
    _tag, pos, end = header(tbs)  # every read below stays within the TBSCertificate
    if pos < end and tbs[pos] == 0xA0:  # [0] version (absent in v1 certificates)
        pos = header(tbs, pos, end)[2]
    for _ in range(2):  # serialNumber, signature
        pos = header(tbs, pos, end)[2]
    issuer_end = header(tbs, pos, end)[2]
    subject_start = header(tbs, issuer_end, end)[2]  # past validity
    return tbs[pos:issuer_end], tbs[subject_start:header(tbs, subject_start, end)[2]]


_RSA_SIGS = {SignatureAlgorithmOID.RSA_WITH_MD5, SignatureAlgorithmOID.RSA_WITH_SHA1,
             SignatureAlgorithmOID.RSA_WITH_SHA224, SignatureAlgorithmOID.RSA_WITH_SHA256,
             SignatureAlgorithmOID.RSA_WITH_SHA384, SignatureAlgorithmOID.RSA_WITH_SHA512,
             SignatureAlgorithmOID.RSASSA_PSS}
_EC_SIGS = {SignatureAlgorithmOID.ECDSA_WITH_SHA1, SignatureAlgorithmOID.ECDSA_WITH_SHA224,
            SignatureAlgorithmOID.ECDSA_WITH_SHA256, SignatureAlgorithmOID.ECDSA_WITH_SHA384,
            SignatureAlgorithmOID.ECDSA_WITH_SHA512}


def _sig_alg_matches(issuer_key: object, signed: x509.Certificate) -> bool:
    """check_sig_alg_match: the signature algorithm fits the issuer's key type."""
    oid = signed.signature_algorithm_oid
    if isinstance(issuer_key, rsa.RSAPublicKey):
        return oid in _RSA_SIGS
    if isinstance(issuer_key, ec.EllipticCurvePublicKey):
        return oid in _EC_SIGS
    if isinstance(issuer_key, ed25519.Ed25519PublicKey):
        return oid == SignatureAlgorithmOID.ED25519
    if isinstance(issuer_key, ed448.Ed448PublicKey):
        return oid == SignatureAlgorithmOID.ED448
    if isinstance(issuer_key, dsa.DSAPublicKey):
        return oid in (SignatureAlgorithmOID.DSA_WITH_SHA1, SignatureAlgorithmOID.DSA_WITH_SHA224,
                       SignatureAlgorithmOID.DSA_WITH_SHA256)
    return True


@dataclass
class _Cert:
    """A certificate with the facts ``x509v3_cache_extensions`` derives. Names are kept as
    encoded in the certificate (``*_der``) and canonically (``issuer``, ``subject``); the
    subject's canonical form is only worked out when a check needs it."""

    cert: x509.Certificate
    subject_der: bytes = b""
    issuer_der: bytes = b""
    issuer: bytes = b""
    skid: bytes | None = None
    akid: x509.AuthorityKeyIdentifier | None = None
    bc: x509.BasicConstraints | None = None
    key_usage: x509.KeyUsage | None = None
    eku: list[x509.ObjectIdentifier] | None = None
    unhandled_critical: bool = False
    self_signed: bool = False

    @classmethod
    def of(cls, cert: x509.Certificate) -> _Cert:
        issuer_der, subject_der = _name_ders(cert)
        facts = cls(cert, subject_der=subject_der, issuer_der=issuer_der, issuer=_canonical_der(issuer_der))
        from tlsmgm_cli.core.x509.text import readable_extensions

        try:
            extensions = readable_extensions(cert)  # x400Address names read as OpenSSL does
        except (ValueError, x509.DuplicateExtension):  # unparsable or repeated: OpenSSL marks it invalid
            facts.unhandled_critical = True
        else:
            values: dict[x509.ObjectIdentifier, Any] = {}
            for extension in extensions:  # one pass instead of a lookup per extension
                values.setdefault(extension.oid, extension.value)
                if extension.critical and extension.oid.dotted_string not in _SUPPORTED_EXTENSIONS:
                    facts.unhandled_critical = True
            ski = values.get(ExtensionOID.SUBJECT_KEY_IDENTIFIER)
            facts.skid = ski.digest if ski is not None else None
            facts.akid = values.get(ExtensionOID.AUTHORITY_KEY_IDENTIFIER)
            facts.bc = values.get(ExtensionOID.BASIC_CONSTRAINTS)
            facts.key_usage = values.get(ExtensionOID.KEY_USAGE)
            eku = values.get(ExtensionOID.EXTENDED_KEY_USAGE)
            facts.eku = list(eku) if eku is not None else None
        # an AKID naming another key settles it without comparing the names (a leaf's usual case)
        facts.self_signed = (not _akid_names_other_key(facts, facts.akid) and facts.self_issued
                             and _akid_matches(facts, facts.akid) and _sig_alg_matches(_public_key(cert), cert))
        return facts

    @functools.cached_property
    def subject(self) -> bytes:
        """The subject's canonical encoding."""
        return _canonical_der(self.subject_der)

    @functools.cached_property
    def self_issued(self) -> bool:
        return self.subject_der == self.issuer_der or self.subject == self.issuer

    @functools.cached_property
    def der(self) -> bytes:
        """The DER encoding (only needed to tell identical certificates apart)."""
        from cryptography.hazmat.primitives.serialization import Encoding

        return self.cert.public_bytes(Encoding.DER)

    @property
    def is_ca(self) -> int:
        """X509_check_ca: 0 not a CA, 1 proper CA, 3 self-signed v1, 4 keyCertSign only."""
        if self.key_usage is not None and not self.key_usage.key_cert_sign:
            return 0
        if self.bc is not None:
            return 1 if self.bc.ca else 0
        if self.cert.version == x509.Version.v1 and self.self_signed:
            return 3
        if self.key_usage is not None:
            return 4
        return 0

    def valid_at(self, at: dt.datetime) -> bool:
        return self.cert.not_valid_before_utc <= at < self.cert.not_valid_after_utc


def _public_key(cert: x509.Certificate) -> object | None:
    try:
        return cert.public_key()
    except (ValueError, TypeError, NotImplementedError, UnsupportedAlgorithm):
        return None  # a key algorithm cryptography does not know (an unknown OID)


def _akid_names_other_key(issuer: _Cert, akid: x509.AuthorityKeyIdentifier | None) -> bool:
    """X509_check_akid's first test: the AKID's key identifier is not the issuer's SKID."""
    return (akid is not None and akid.key_identifier is not None and issuer.skid is not None
            and akid.key_identifier != issuer.skid)


def _akid_matches(issuer: _Cert, akid: x509.AuthorityKeyIdentifier | None) -> bool:
    """X509_check_akid(issuer, akid) == X509_V_OK."""
    if akid is None:
        return True
    if _akid_names_other_key(issuer, akid):
        return False
    if akid.authority_cert_serial_number is not None \
            and akid.authority_cert_serial_number != issuer.cert.serial_number:
        return False
    for general_name in akid.authority_cert_issuer or []:
        if isinstance(general_name, x509.DirectoryName):
            return _canon(general_name.value) == issuer.issuer
    return True


def _likely_issued(issuer: _Cert, subject: _Cert) -> bool:
    """ossl_x509_likely_issued (the store's check_issued)."""
    return (issuer.subject == subject.issuer and _akid_matches(issuer, subject.akid)
            and _sig_alg_matches(_public_key(issuer.cert), subject.cert))


# ---- the trust store ----------------------------------------------------------------------
@dataclass
class TrustStore:
    """What OpenSIPS puts into a domain's X509_STORE: CA certificates (and any CRLs) of
    ``ca_list``, the hashed ``ca_dir`` lookup, and the CRLs read from ``crl_dir``.

    ``crl_check`` is on when at least one CRL came from the CRL location (OpenSIPS sets
    X509_V_FLAG_CRL_CHECK only then); ``crl_check_all`` adds X509_V_FLAG_CRL_CHECK_ALL.
    """

    certs: list[x509.Certificate] = field(default_factory=list)
    crls: list[x509.CertificateRevocationList] = field(default_factory=list)
    hashed_dirs: list[str] = field(default_factory=list)
    crl_check: bool = False
    crl_check_all: bool = False
    _loaded_hashes: set[tuple[str, str]] = field(default_factory=set)
    _facts: dict[int, tuple[x509.Certificate, _Cert]] = field(default_factory=dict, repr=False, compare=False)

    def facts(self, cert: x509.Certificate) -> _Cert:
        """The extension facts of one of the store's certificates, derived once per store
        (a store serves every domain and peer that names it)."""
        cached = self._facts.get(id(cert))
        if cached is None or cached[0] is not cert:
            cached = self._facts[id(cert)] = (cert, _Cert.of(cert))
        return cached[1]

    def add_ca_file(self, path: str) -> None:
        """``SSL_CTX_load_verify_locations(file)``: every certificate and CRL of a PEM file."""
        from tlsmgm_cli.core.limits import PKI_FILE_MAX_BYTES
        from tlsmgm_cli.core.util.safeio import UnsafeInput, read_bytes_limited

        try:
            data = read_bytes_limited(path, limit=PKI_FILE_MAX_BYTES, what="CA file")
        except UnsafeInput as err:
            raise TlsmgmError(f"unable to load ca: {err}") from None
        self.add_ca_pem(data, path)

    def add_ca_pem(self, data: bytes, source: str = "ca_list") -> None:
        certs, crls = read_pem_objects(data)
        if not certs:
            raise TlsmgmError(f"unable to load ca '{source}': no certificate in it")
        self.certs += certs
        self.crls += crls

    def add_crl_path(self, path: str) -> int:
        """A CRL file (PEM or DER), or a directory read like OpenSIPS's ``crl_dir``
        (every regular file that parses as a PEM CRL). Returns the number of CRLs added;
        CRL checking is switched on when it is not zero."""
        found: list[x509.CertificateRevocationList] = []
        if os.path.isdir(path):
            try:
                names = sorted(os.listdir(path))
            except OSError as err:
                raise TlsmgmError(f"Unable to open crl directory '{path}': {err.strerror or err}") from None
            for name in names:
                full = os.path.join(path, name)
                if os.path.isfile(full):
                    found += _read_crls(full, pem_only=True)[:1]
        else:
            from tlsmgm_cli.core.limits import PKI_FILE_MAX_BYTES
            from tlsmgm_cli.core.util.safeio import UnsafeInput, read_bytes_limited

            try:
                data = read_bytes_limited(path, limit=PKI_FILE_MAX_BYTES, what="CRL file")
            except UnsafeInput as err:
                raise TlsmgmError(str(err)) from None
            found = _parse_crls(data, pem_only=False)
            if not found:
                raise TlsmgmError(f"CRL file '{path}': no CRL in it (neither a PEM nor a DER CRL)")
        self.crls += found
        self.crl_check = self.crl_check or bool(found)
        return len(found)

    def _load_hashed(self, name_der: bytes) -> None:
        """by_dir lookup: load ``<hash>.N`` certificates and ``<hash>.rN`` CRLs once."""
        if not self.hashed_dirs:
            return
        from tlsmgm_cli.core.limits import PKI_FILE_MAX_BYTES
        from tlsmgm_cli.core.util.safeio import UnsafeInput, read_bytes_limited

        digest = name_hash_der(name_der)
        for directory in self.hashed_dirs:
            if (directory, digest) in self._loaded_hashes:
                continue
            self._loaded_hashes.add((directory, digest))
            for suffix, is_crl in (("", False), ("r", True)):
                k = 0
                while True:
                    path = os.path.join(directory, f"{digest}.{suffix}{k}")
                    if not os.path.isfile(path):
                        break
                    if is_crl:
                        self.crls += _read_crls(path, pem_only=True)
                    else:
                        try:
                            self.certs += read_pem_objects(read_bytes_limited(
                                path, limit=PKI_FILE_MAX_BYTES, what="CA file"))[0]
                        except UnsafeInput:
                            pass
                    k += 1

    def certs_named(self, name_der: bytes) -> list[x509.Certificate]:
        """The certificates whose subject is the DER-encoded Name ``name_der`` (compared
        canonically, like ``X509_NAME_cmp``)."""
        self._load_hashed(name_der)
        wanted = _canonical_der(name_der)
        return [c for c in self.certs if _canon(c.subject) == wanted]

    def crls_by_issuer(self, name: x509.Name) -> list[x509.CertificateRevocationList]:
        self._load_hashed(name.public_bytes())
        wanted = _canon(name)
        return [c for c in self.crls if _canon(c.issuer) == wanted]


def _read_crls(path: str, pem_only: bool) -> list[x509.CertificateRevocationList]:
    from tlsmgm_cli.core.limits import PKI_FILE_MAX_BYTES
    from tlsmgm_cli.core.util.safeio import UnsafeInput, read_bytes_limited

    try:
        data = read_bytes_limited(path, limit=PKI_FILE_MAX_BYTES, what="CRL file")
    except UnsafeInput:
        return []  # like OpenSSL's directory readers: an unreadable entry is passed over
    return _parse_crls(data, pem_only)


def _parse_crls(data: bytes, pem_only: bool) -> list[x509.CertificateRevocationList]:
    if is_pem(data):
        return read_pem_objects(data)[1]
    if pem_only:
        return []
    try:
        return [x509.load_der_x509_crl(data)]
    except ValueError:
        return []


# ---- verification ------------------------------------------------------------------------------
@dataclass(frozen=True)
class VerifyResult:
    """The single verify result OpenSSL stores, the depth it concerns and the chain built."""

    code: int
    depth: int
    chain: tuple[x509.Certificate, ...]

    @property
    def text(self) -> str:
        return VERIFY_TEXTS.get(self.code, f"verify error {self.code}")

    @property
    def ok(self) -> bool:
        return self.code == X509_V_OK

    def to_dict(self) -> dict[str, object]:
        return {"code": self.code, "text": self.text, "depth": self.depth}


class _UntrustedPool:
    """The certificates a peer presented, with their facts derived once and indexed by
    canonical subject, so that finding an issuer among them costs no scan of the whole
    list (inspecting every certificate of a 10,000-certificate bundle stays linear)."""

    def __init__(self, facts: list[_Cert]):
        self.facts = facts
        self.by_subject: dict[bytes, list[int]] = {}
        self.position: dict[int, int] = {}
        for position, cert in enumerate(facts):
            self.by_subject.setdefault(cert.subject, []).append(position)
            self.position[id(cert)] = position

    def after(self, start: int) -> _UntrustedView:
        """The untrusted certificates of a peer presenting ``facts[start:]``."""
        return _UntrustedView(self, start)


class _UntrustedView:
    """``facts[start + 1:]`` of a pool, minus those already taken into the chain."""

    def __init__(self, pool: _UntrustedPool, start: int):
        self.pool = pool
        self.start = start
        self.taken: set[int] = set()

    def __bool__(self) -> bool:
        return len(self.pool.facts) - self.start - 1 > len(self.taken)

    def named(self, subject: bytes) -> Iterator[_Cert]:
        """The remaining certificates whose subject is ``subject`` (canonical), in the
        order presented, lazily: ``_best_issuer`` stops at the first valid issuer, so a
        bundle of many equal names is not scanned for every certificate."""
        positions = self.pool.by_subject.get(subject, [])
        for k in range(bisect.bisect_right(positions, self.start), len(positions)):
            if positions[k] not in self.taken:
                yield self.pool.facts[positions[k]]

    def remove(self, cert: _Cert) -> None:
        self.taken.add(self.pool.position[id(cert)])


class _Failed(Exception):
    def __init__(self, code: int, depth: int):
        super().__init__(code)
        self.code = code
        self.depth = depth


class _Verifier:
    def __init__(self, presented: list[x509.Certificate], store: TrustStore, at: dt.datetime,
                 depth: int, purpose: str | None, pool: _UntrustedPool | None = None, start: int = 0):
        if pool is None:
            pool = _UntrustedPool([_Cert.of(c) for c in presented])
        self.leaf = pool.facts[start]
        self.untrusted = pool.after(start)
        self.store = store
        self.at = at
        self.max_depth = depth + 1
        self.purpose = purpose
        self.chain: list[_Cert] = [self.leaf]
        self.num_untrusted = 1

    # -- chain building (build_chain, trusted first) --
    def _best_issuer(self, candidates: Iterable[_Cert], subject: _Cert) -> _Cert | None:
        best = None
        for candidate in candidates:
            if not _likely_issued(candidate, subject):
                continue
            if candidate.valid_at(self.at):
                return candidate
            if best is None or candidate.cert.not_valid_after_utc > best.cert.not_valid_after_utc:
                best = candidate
        return best

    def _trusted_issuer(self, subject: _Cert) -> _Cert | None:
        return self._best_issuer([self.store.facts(c) for c in self.store.certs_named(subject.issuer_der)],
                                 subject)

    def build_chain(self) -> None:
        search_untrusted = bool(self.untrusted)
        trusted = False
        while True:
            num = len(self.chain)
            curr = self.chain[-1]
            issuer = None if num > self.max_depth else self._trusted_issuer(curr)
            found = issuer is not None
            if issuer is not None:
                if not curr.self_signed:
                    self.chain.append(issuer)
                elif issuer.der != curr.der:  # a self-signed mimic of a trust anchor
                    found = False
                else:  # replace the self-signed certificate by its trusted copy
                    num -= 1
                    self.num_untrusted = num
                    self.chain[num] = issuer
            if found:
                search_untrusted = False
                # check_trust: a store certificate is a trust anchor when self-signed
                if self.chain[num].self_signed:
                    trusted = True
                    break
                if not curr.self_signed:
                    continue
            if not search_untrusted:
                break
            nxt = None if curr.self_signed or num > self.max_depth else self._best_issuer(
                (c for c in self.untrusted.named(curr.issuer) if all(c.der != x.der for x in self.chain)
                 or (curr.self_issued and len(self.chain) == 1)), curr)
            if nxt is None:
                search_untrusted = False
                continue
            self.untrusted.remove(nxt)
            self.chain.append(nxt)
            self.num_untrusted += 1
        if trusted:
            return
        num = len(self.chain)
        if num > self.max_depth:
            raise _Failed(ERR_CERT_CHAIN_TOO_LONG, num - 1)
        if self.chain[-1].self_signed:
            raise _Failed(ERR_DEPTH_ZERO_SELF_SIGNED_CERT if num == 1 else ERR_SELF_SIGNED_CERT_IN_CHAIN, num - 1)
        raise _Failed(ERR_UNABLE_TO_GET_ISSUER_CERT if self.num_untrusted < num
                      else ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, num - 1)

    # -- check_extensions --
    def _purpose_ok(self, cert: _Cert, is_leaf: bool) -> bool:
        if self.purpose is None:
            return True
        if cert.eku is not None and _PURPOSE_EKU[self.purpose] not in cert.eku:
            return False
        if is_leaf and cert.key_usage is not None:
            ku = cert.key_usage
            if self.purpose == PURPOSE_SSL_CLIENT:
                return ku.digital_signature or ku.key_agreement
            return ku.digital_signature or ku.key_encipherment or ku.key_agreement
        return True

    def check_extensions(self) -> None:
        plen = 0
        num = len(self.chain)
        for i, cert in enumerate(self.chain):
            if cert.unhandled_critical:
                raise _Failed(ERR_UNHANDLED_CRITICAL_EXTENSION, i)
            if i > 0:
                ca = cert.is_ca
                if ca == 0 or (i + 1 < num and ca != 1):
                    raise _Failed(ERR_INVALID_CA, i)
            if not self._purpose_ok(cert, i == 0):
                raise _Failed(ERR_INVALID_PURPOSE, i)
            pathlen = cert.bc.path_length if cert.bc is not None else None
            if i > 1 and pathlen is not None and plen > pathlen:
                raise _Failed(ERR_PATH_LENGTH_EXCEEDED, i)
            if i > 0 and not cert.self_issued:
                plen += 1

    # -- check_revocation (CRLs) --
    def _crl_score(self, crl: x509.CertificateRevocationList, depth: int) -> tuple[int, _Cert | None]:
        cert = self.chain[depth]
        try:
            idp = _ext(crl, ExtensionOID.ISSUING_DISTRIBUTION_POINT)
            if _ext(crl, ExtensionOID.DELTA_CRL_INDICATOR) is not None:
                return 0, None
            crl_akid = _ext(crl, ExtensionOID.AUTHORITY_KEY_IDENTIFIER)
            critical = any(e.critical and e.oid.dotted_string not in _HANDLED_CRL_EXTENSIONS
                           for e in crl.extensions)
        except ValueError:
            return 0, None
        if idp is not None and (idp.indirect_crl or idp.only_some_reasons):
            return 0, None  # needs X509_V_FLAG_EXTENDED_CRL_SUPPORT
        if _canon(crl.issuer) != cert.issuer:
            return 0, None
        score = _CRL_SCORE_ISSUER_NAME
        if not critical:
            score |= _CRL_SCORE_NOCRITICAL
        if _crl_time_error(crl, self.at) is None:
            score |= _CRL_SCORE_TIME
        # crl_akid_check: the CRL issuer must be on the certificate's path
        issuer: _Cert | None = None
        cidx = depth + 1 if depth != len(self.chain) - 1 else depth
        if _akid_matches(self.chain[cidx], crl_akid):
            issuer = self.chain[cidx]
            score |= _CRL_SCORE_AKID | _CRL_SCORE_ISSUER_CERT
        else:
            for candidate in self.chain[cidx + 1:]:
                if candidate.subject == _canon(crl.issuer) and _akid_matches(candidate, crl_akid):
                    issuer = candidate
                    score |= _CRL_SCORE_AKID | _CRL_SCORE_SAME_PATH
                    break
        if issuer is None:
            return 0, None
        # crl_crldp_check
        if idp is not None:
            if idp.only_contains_attribute_certs:
                return score, issuer
            if cert.bc is not None and cert.bc.ca and idp.only_contains_user_certs:
                return score, issuer
            if not (cert.bc is not None and cert.bc.ca) and idp.only_contains_ca_certs:
                return score, issuer
        if idp is None or idp.full_name is None and idp.relative_name is None or self._dp_matches(cert, idp):
            score |= _CRL_SCORE_SCOPE
        return score, issuer

    @staticmethod
    def _dp_matches(cert: _Cert, idp: x509.IssuingDistributionPoint) -> bool:
        try:
            crldp = _ext(cert.cert, ExtensionOID.CRL_DISTRIBUTION_POINTS)
        except ValueError:
            return False
        for point in crldp or []:
            if point.full_name and idp.full_name and set(point.full_name) & set(idp.full_name):
                return True
        return False

    def _check_crl(self, depth: int) -> None:
        cert = self.chain[depth]
        if cert.self_signed:
            return
        best: tuple[int, _Cert | None, x509.CertificateRevocationList] | None = None
        for crl in self.store.crls_by_issuer(cert.cert.issuer):
            score, issuer = self._crl_score(crl, depth)
            if score == 0 or (best is not None and score < best[0]):
                continue
            if best is not None and score == best[0] \
                    and crl.last_update_utc <= best[2].last_update_utc:
                continue
            best = (score, issuer, crl)
        if best is None:
            raise _Failed(ERR_UNABLE_TO_GET_CRL, depth)
        score, issuer, crl = best
        assert issuer is not None
        if issuer.key_usage is not None and not issuer.key_usage.crl_sign:
            raise _Failed(ERR_KEYUSAGE_NO_CRL_SIGN, depth)
        if not score & _CRL_SCORE_SCOPE:
            raise _Failed(ERR_DIFFERENT_CRL_SCOPE, depth)
        if not score & _CRL_SCORE_TIME:
            raise _Failed(_crl_time_error(crl, self.at) or ERR_UNSPECIFIED, depth)
        key = _public_key(issuer.cert)
        if key is None:
            raise _Failed(ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY, depth)
        try:
            # cryptography annotates a narrower key union than public_key() returns; other keys raise TypeError
            signature_ok = crl.is_signature_valid(key)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            signature_ok = False
        if not signature_ok:
            raise _Failed(ERR_CRL_SIGNATURE_FAILURE, depth)
        if not score & _CRL_SCORE_NOCRITICAL:
            raise _Failed(ERR_UNHANDLED_CRITICAL_CRL_EXTENSION, depth)
        revoked = crl.get_revoked_certificate_by_serial_number(cert.cert.serial_number)
        if revoked is not None and _revocation_reason(revoked) != x509.ReasonFlags.remove_from_crl:
            raise _Failed(ERR_CERT_REVOKED, depth)

    def check_revocation(self) -> None:
        if not self.store.crl_check:
            return
        last = len(self.chain) - 1 if self.store.crl_check_all else 0
        for depth in range(last + 1):
            self._check_crl(depth)

    # -- internal_verify --
    def result(self, failure: _Failed | None = None) -> VerifyResult:
        if failure is not None:
            return VerifyResult(failure.code, failure.depth, tuple(c.cert for c in self.chain))
        return VerifyResult(X509_V_OK, 0, tuple(c.cert for c in self.chain))

    def finish(self) -> VerifyResult:
        """internal_verify, then the result."""
        try:
            self.internal_verify()
        except _Failed as failure:
            return self.result(failure)
        return self.result()

    def _check_time(self, cert: _Cert, depth: int) -> None:
        if cert.cert.not_valid_before_utc > self.at:
            raise _Failed(ERR_CERT_NOT_YET_VALID, depth)
        if cert.cert.not_valid_after_utc <= self.at:
            raise _Failed(ERR_CERT_HAS_EXPIRED, depth)

    def internal_verify(self) -> None:
        n = len(self.chain) - 1
        issuer = self.chain[n]
        if _likely_issued(issuer, issuer):
            subject = issuer
        else:
            if n <= 0:
                raise _Failed(ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, 0)
            n -= 1
            subject = self.chain[n]
        while n >= 0:
            if subject is not issuer:
                if issuer.key_usage is not None and not issuer.key_usage.key_cert_sign:
                    raise _Failed(ERR_KEYUSAGE_NO_CERTSIGN, n + 1)
                if _public_key(issuer.cert) is None:
                    raise _Failed(ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY, n)
                try:
                    subject.cert.verify_directly_issued_by(issuer.cert)
                except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
                    raise _Failed(ERR_CERT_SIGNATURE_FAILURE, n) from None
            self._check_time(subject, n)
            n -= 1
            if n >= 0:
                issuer, subject = subject, self.chain[n]


def _revocation_reason(revoked: x509.RevokedCertificate) -> x509.ReasonFlags | None:
    try:
        return revoked.extensions.get_extension_for_class(x509.CRLReason).value.reason
    except (x509.ExtensionNotFound, ValueError):
        return None


def _crl_time_error(crl: x509.CertificateRevocationList, at: dt.datetime) -> int | None:
    if crl.last_update_utc > at:
        return ERR_CRL_NOT_YET_VALID
    if crl.next_update_utc is not None and at > crl.next_update_utc:
        return ERR_CRL_HAS_EXPIRED
    return None


def verify_peer(presented: list[x509.Certificate], store: TrustStore, at: dt.datetime | None = None,
                depth: int = VERIFY_DEPTH, purpose: str | None = None) -> VerifyResult:
    """The verify result for a peer presenting ``presented`` (leaf first, then whatever
    chain it sends), checked against ``store`` at time ``at`` (default: now).

    ``purpose``: ``"sslclient"`` when a server domain verifies a client, ``"sslserver"``
    when a client domain verifies a server (libssl sets these); ``None`` skips purpose
    checks, like ``openssl verify`` without ``-purpose``.
    """
    return start_verify(presented, store, at, depth, purpose)()


def start_verify(presented: list[x509.Certificate], store: TrustStore, at: dt.datetime | None = None,
                 depth: int = VERIFY_DEPTH, purpose: str | None = None, pool: _UntrustedPool | None = None,
                 start: int = 0) -> Callable[[], VerifyResult]:
    """:func:`verify_peer` in two steps: chain building and the extension and CRL checks
    now, and a function that does the rest (signatures and validity times) and returns the
    result. That function touches only the certificates, and cryptography checks signatures
    without holding the GIL: it can run on another thread."""
    if not presented and pool is None:
        raise UsageError("verify_peer: no certificate given")
    if at is None:
        at = dt.datetime.now(dt.timezone.utc)
    elif at.tzinfo is None:
        at = at.replace(tzinfo=dt.timezone.utc)
    verifier = _Verifier(presented, store, at, depth, purpose, pool, start)
    try:
        verifier.build_chain()
        verifier.check_extensions()
        verifier.check_revocation()
    except _Failed as failure:
        return functools.partial(verifier.result, failure)
    return verifier.finish


def verify_bundle(certs: list[x509.Certificate], store: TrustStore, at: dt.datetime | None = None,
                  depth: int = VERIFY_DEPTH, purpose: str | None = None) -> list[VerifyResult]:
    """``verify_peer(certs[i:])`` for every ``i``: the result for a peer presenting each
    certificate of a file followed by the rest of it (``inspect``). The facts of every
    certificate are derived once and issuers are looked up by name, so the whole costs
    time linear in the number of certificates."""
    if not certs:
        return []
    pool = _UntrustedPool([_Cert.of(c) for c in certs])
    return [start_verify([], store, at, depth, purpose, pool, i)() for i in range(len(certs))]
