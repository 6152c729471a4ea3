"""What OpenSIPS 3.6.8's ``init_tls_dom`` (OpenSSL) does with one domain, reduced to
"would it fail, and why" (behaviour §2.8, §6.13, §8.5, §8.7).

A DB domain that fails is skipped with ``Failed to init TLS domain 'x', skipping...``; a
script domain that fails aborts startup. DB BLOBs are PEM text; files are read from disk.
"""

from __future__ import annotations

import functools
import os
import re

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tlsmgm_cli.core.db.rows import resolve_path
from tlsmgm_cli.core.domain import CLIENT, TlsDomain
from tlsmgm_cli.core.tls.methods import MethodError, parse_method
from tlsmgm_cli.core.tls.opensslsettings import (
    CIPHER_LIST_MESSAGE,
    CURVE_MESSAGES,
    cipher_list_ok,
    curve_problem,
)
from tlsmgm_cli.core.x509.pem import CERTIFICATE_LABELS, pem_blocks, read_private_key

_SPKI = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


@functools.lru_cache(maxsize=4096)
def first_certificate_spki(data: bytes) -> bytes | None:
    """SubjectPublicKeyInfo of the first PEM certificate in ``data`` (PEM_read_bio_X509),
    None when there is none or it does not parse."""
    for label, block in pem_blocks(data):
        if label in CERTIFICATE_LABELS:
            try:
                return x509.load_pem_x509_certificate(block).public_key().public_bytes(*_SPKI)
            except ValueError:
                return None
    return None


class KeyProblem(ValueError):
    """``str()`` says why the key cannot be used (key material never included)."""


@functools.lru_cache(maxsize=4096)
def private_key_spki(data: bytes) -> bytes | None:
    """SubjectPublicKeyInfo of the first PEM private key in ``data``; None when the key is
    encrypted (OpenSIPS would prompt for a pass phrase); KeyProblem when there is none."""
    read = read_private_key(data)
    if read.problem == "encrypted":
        return None
    if read.problem is not None:
        raise KeyProblem(read.detail)
    spki: bytes = read.key.public_key().public_bytes(*_SPKI)
    return spki


def _read_file(path: str) -> bytes | None:
    """The file's bytes (regular files only, size-capped: a FIFO or /dev/zero named as a
    certificate must not hang a listing); None when it cannot be read."""
    from tlsmgm_cli.core.errors import TlsmgmError
    from tlsmgm_cli.core.limits import PKI_FILE_MAX_BYTES
    from tlsmgm_cli.core.util.safeio import read_bytes_limited

    try:
        return read_bytes_limited(resolve_path(path), limit=PKI_FILE_MAX_BYTES)
    except TlsmgmError:
        return None


def init_failure(dom: TlsDomain, library: str, *, key_blob_as_file: bool = False) -> str | None:
    """The reason OpenSIPS's domain initialisation fails for ``dom``, or None.

    ``key_blob_as_file``: the from_file bug (behaviour §8.8) is active for this domain, so its
    private-key BLOB is opened as a file name."""
    failure = init_steps(dom, library, key_blob_as_file=key_blob_as_file)
    return failure.reason


class InitResult:
    """How far a domain's initialisation got: ``reason`` (None when it loads) and whether
    it reached the private-key step (only then can it set OpenSIPS's from_file flag)."""

    __slots__ = ("reason", "reached_key")

    def __init__(self, reason: str | None, reached_key: bool) -> None:
        self.reason = reason
        self.reached_key = reached_key


def init_steps(dom: TlsDomain, library: str, *, key_blob_as_file: bool = False) -> InitResult:
    """``init_failure`` with the step it stopped at (behaviour §8.8, the default-key
    (from_file) bug as observed: a domain that fails at the certificate step never reaches
    the key step)."""
    if library == "none":
        return InitResult(None, False)  # no TLS library: nothing is loaded or parsed (behaviour §6.1)
    reason, cert_spki = _context_failure(dom, library)
    if reason is not None:
        return InitResult(reason, False)
    return InitResult(_key_failure(dom, cert_spki, key_blob_as_file), True)


def _context_failure(dom: TlsDomain, library: str) -> tuple[str | None, bytes | None]:
    """(why the SSL context cannot be set up, the certificate's SPKI): every step before
    the private key."""
    db = dom.from_db
    try:
        parse_method(dom.method, library)
    except MethodError as err:
        return str(err), None
    curve_trouble = curve_problem(dom.ec_curve) if dom.ec_curve else None
    if curve_trouble:
        return f"{CURVE_MESSAGES[curve_trouble]} '{dom.ec_curve}'", None
    if dom.ciphers_list and not cipher_list_ok(dom.ciphers_list):
        return f"{CIPHER_LIST_MESSAGE} '{dom.ciphers_list}'", None
    cert_spki: bytes | None = None
    cert_source = dom.eff_certificate
    if cert_source is not None:
        if db and dom.certificate:
            cert_spki = first_certificate_spki(dom.certificate.encode("utf-8", "surrogateescape"))
            if cert_spki is None:
                hint = " (a file path is stored where PEM content belongs)" \
                    if looks_like_path(dom.certificate) else ""
                return f"Unable to load certificate from buffer{hint}", None
        else:
            data = _read_file(cert_source)
            cert_spki = first_certificate_spki(data) if data is not None else None
            if cert_spki is None:
                return f"unable to load certificate file '{cert_source}'", None
    if dom.crl_dir and not os.access(resolve_path(dom.crl_dir), os.R_OK | os.X_OK):
        return f"Unable to open crl directory '{dom.crl_dir}'", None
    return None, cert_spki


def _key_failure(dom: TlsDomain, cert_spki: bytes | None, key_blob_as_file: bool) -> str | None:
    """The private-key step (SSL_CTX_use_PrivateKey*, then the match with the certificate)."""
    db = dom.from_db
    key_source = dom.eff_private_key
    if key_source is None:
        return None
    if db and dom.private_key and not key_blob_as_file:
        data: bytes | None = dom.private_key.encode("utf-8", "surrogateescape")
        what = "private key from the database"
    else:
        data = _read_file(key_source)
        what = f"private key file '{key_source}'" if not (db and dom.private_key) else \
            "private key BLOB, opened as a file name because an earlier domain fell back to the " \
            "default key file (OpenSIPS from_file bug)"
        if data is None:
            return f"unable to load {what}"
    try:
        key_spki = private_key_spki(data)
    except KeyProblem as err:
        hint = " (a file path is stored where PEM content belongs)" \
            if db and dom.private_key and not key_blob_as_file and looks_like_path(dom.private_key) else ""
        return f"unable to load {what}: {err}{hint}"
    if cert_spki is None:
        return f"{what}: no certificate to check it against (a key without a certificate fails)"
    if key_spki is not None and key_spki != cert_spki:
        return f"{what} does not match the public key of the certificate"
    return None


def falls_back_to_default_key(dom: TlsDomain) -> bool:
    """Whether initialising ``dom`` loads the default key *file* (sets from_file)."""
    return not dom.private_key and not (dom.side == CLIENT and dom.eff_certificate is None)


_PATHISH = re.compile(r"^\s*(/|\.{1,2}/|~/|[A-Za-z]:\\)|\.(pem|crt|cer|key|der)\s*$", re.IGNORECASE)


def looks_like_path(text: str) -> bool:
    """A BLOB that holds a file name instead of PEM content (issue #2238)."""
    return "-----BEGIN" not in text and len(text) < 4096 and "\n" not in text.strip() \
        and bool(_PATHISH.search(text))
