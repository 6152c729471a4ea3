"""An ``ssl.SSLContext`` built from one TLS domain the way tls_openssl builds its
``SSL_CTX`` (spec §1.3, §3.3, §6, §7.3), for ``tlsmgm handshake`` and ``tlsmgm serve``.

:func:`build_context` applies, in tls_openssl's order: the method bounds, DH params, EC
curve, cipher list, certificate chain, CRLs, CA list, CA directory, private key, the
verify mode of the domain's side and the options. Every failure is a ``TlsmgmError``
naming the domain and the setting at fault, e.g.
``server domain [atlanta]: certificate '/x.pem': No such file or directory``.

Where the stdlib cannot do what OpenSSL's C API does, this module documents the gap:

* **verify depth 3** (``SSL_CTX_set_verify_depth``) cannot be set; callers compare the
  verified chain with :func:`chain_too_long` after the handshake (same limit as
  ``core.verify``: the chain, trust anchor included, may hold ``VERIFY_DEPTH + 2``).
* **security level**: Python's contexts start at ``@SECLEVEL=2`` (as Debian/Ubuntu
  system configs do); the cipher list is reset to OpenSSL's ``DEFAULT`` when the domain
  sets none, but the level stays.
* **unbounded methods** (``SSLv23``) keep Python's default minimum (TLS 1.2), which is
  what OpenSSL 3's default security level allows anyway.
* **session cache**: the stdlib cannot switch the server cache off; TLS 1.3 tickets are
  kept, as OpenSSL still sends them with ``SSL_SESS_CACHE_OFF``.
* DB domains hold PEM text: certificate, key and DH params are written to 0600 files in
  a private 0700 directory for loading and removed right after.
"""

from __future__ import annotations

import os
import shutil
import ssl
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from tlsmgm_cli.core.domain import SERVER, TlsDomain
from tlsmgm_cli.core.errors import TlsmgmError
from tlsmgm_cli.core.methods import MethodError, parse_method
from tlsmgm_cli.core.opensslsettings import (
    CIPHER_LIST_MESSAGE,
    CURVE_MESSAGES,
    apply_cipher_list,
    apply_ec_curve,
)
from tlsmgm_cli.core.pem import CERTIFICATE_LABELS, PemBlock, pem_blocks

VERIFY_DEPTH = 3  # SSL_CTX_set_verify_depth(ctx, 3) in tls_openssl
# SSL_OP_ALL | NO_SSLv2 | NO_SSLv3 | NO_SESSION_RESUMPTION_ON_RENEGOTIATION | CIPHER_SERVER_PREFERENCE
_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION = 0x00010000
OPENSIPS_OPTIONS = (ssl.OP_ALL | ssl.OP_NO_SSLv2 | ssl.OP_NO_SSLv3 | ssl.OP_CIPHER_SERVER_PREFERENCE
                    | _OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION)
_PROTOCOLS = {0x0301: ssl.TLSVersion.TLSv1, 0x0302: ssl.TLSVersion.TLSv1_1,
              0x0303: ssl.TLSVersion.TLSv1_2, 0x0304: ssl.TLSVersion.TLSv1_3}


def _fail(domain: TlsDomain, what: str, why: str) -> TlsmgmError:
    return TlsmgmError(f"{domain.label()}: {what}: {why}", domain.where(what.split(" ", 1)[0]))


def _shown(domain: TlsDomain, param: str) -> str:
    """How a file-valued setting is named in messages (DB PEM content is never echoed)."""
    if domain.file_is_content(param):
        return f"{param} (PEM content from the DB)"
    value = getattr(domain, param) or getattr(domain, "eff_" + param, None)
    return f"{param} '{value}'"


def _os_reason(err: OSError) -> str:
    return err.strerror or str(err)


@contextmanager
def _private_dir() -> Iterator[str]:
    """A 0700 directory for DB PEM content, removed with everything in it."""
    path = tempfile.mkdtemp(prefix="tlsmgm-")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _material(domain: TlsDomain, param: str, value: str, workdir: str) -> str:
    """A file path for a file-valued setting: the path itself, or DB content written to
    a 0600 file inside ``workdir``."""
    if not domain.file_is_content(param):
        return value
    path = os.path.join(workdir, param + ".pem")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value)
    return path


def _apply_method(ctx: ssl.SSLContext, domain: TlsDomain, library: str) -> None:
    try:
        method = parse_method(domain.eff_method, library)
    except MethodError as err:
        raise _fail(domain, f"tls_method '{domain.eff_method}'", str(err)) from None
    if method.unbounded:
        return
    with warnings.catch_warnings():  # TLSv1 is deprecated in the stdlib, not in OpenSIPS
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = _PROTOCOLS[method.min_version or 0x0301]
        high = method.max_version
        ctx.maximum_version = ssl.TLSVersion.MAXIMUM_SUPPORTED if not high else _PROTOCOLS[high]


def _apply_ciphers_and_groups(ctx: ssl.SSLContext, domain: TlsDomain, workdir: str) -> None:
    if domain.dh_params:
        path = _material(domain, "dh_params", domain.dh_params, workdir)
        try:
            ctx.load_dh_params(path)
        except OSError as err:
            raise _fail(domain, _shown(domain, "dh_params"), f"unable to open dh params file ({_os_reason(err)})"
                        ) from None
        except ssl.SSLError:
            raise _fail(domain, _shown(domain, "dh_params"), "unable to read dh params (not PEM DH parameters)"
                        ) from None
    curve_trouble = apply_ec_curve(ctx, domain.ec_curve) if domain.ec_curve else None
    if curve_trouble:
        raise _fail(domain, f"ec_curve '{domain.ec_curve}'", CURVE_MESSAGES[curve_trouble])
    if not apply_cipher_list(ctx, domain.ciphers_list or "DEFAULT"):
        raise _fail(domain, f"ciphers_list '{domain.ciphers_list}'", f"{CIPHER_LIST_MESSAGE} (it selects no cipher)")


def _load_crls(ctx: ssl.SSLContext, domain: TlsDomain, workdir: str) -> int:
    """The first PEM CRL of every regular file in ``crl_dir``; CRL checking (leaf, or
    the whole chain with crl_check_all) only when at least one was found."""
    crl_dir = domain.crl_dir
    if not crl_dir:
        return 0
    try:
        names = sorted(os.listdir(crl_dir))
    except OSError as err:
        raise _fail(domain, f"crl_dir '{crl_dir}'", f"Unable to open crl directory ({_os_reason(err)})") from None
    blocks: list[bytes] = []
    for name in names:
        path = os.path.join(crl_dir, name)
        if not os.path.isfile(path):
            continue
        try:
            with open(path, "rb") as handle:
                found = _first(handle.read(), {b"X509 CRL"})
        except OSError:
            continue
        if found:
            blocks.append(found.block)
    if not blocks:
        return 0  # OpenSIPS: "No suitable CRL files found", CRL checking stays off
    bundle = os.path.join(workdir, "crls.pem")
    with open(bundle, "wb") as handle:
        handle.write(b"".join(blocks))
    try:
        ctx.load_verify_locations(cafile=bundle)
    except ssl.SSLError as err:
        raise _fail(domain, f"crl_dir '{crl_dir}'", f"a CRL cannot be loaded ({err.reason or err})") from None
    flags = ssl.VERIFY_CRL_CHECK_CHAIN if domain.eff_crl_check_all else ssl.VERIFY_CRL_CHECK_LEAF
    ctx.verify_flags |= flags
    return len(blocks)


def _certificate_ders(pem: bytes) -> list[bytes]:
    """DER of every readable certificate block (CERTIFICATE, X509 CERTIFICATE and
    TRUSTED CERTIFICATE, whose trust settings are dropped)."""
    ders = []
    for block in pem_blocks(pem):
        if block.label in CERTIFICATE_LABELS:
            try:
                ders.append(block.certificate_der())
            except ValueError:
                continue  # a damaged block is left out here; `check` reports it
    return ders


def _load_cas(ctx: ssl.SSLContext, domain: TlsDomain) -> None:
    if domain.ca_list:
        try:
            if domain.file_is_content("ca_list"):
                # DER, so that TRUSTED CERTIFICATE (X509_AUX) blocks count too, as in OpenSIPS
                certs = b"".join(_certificate_ders(domain.ca_list.encode()))
                if certs:
                    ctx.load_verify_locations(cadata=certs)
            else:
                ctx.load_verify_locations(cafile=domain.ca_list)
        except OSError as err:
            raise _fail(domain, _shown(domain, "ca_list"), f"unable to load ca ({_os_reason(err)})") from None
        except ssl.SSLError as err:
            raise _fail(domain, _shown(domain, "ca_list"),
                        f"unable to load ca ({err.reason or 'no certificate in it'})") from None
    if os.path.isdir(domain.eff_ca_dir):  # OpenSSL only records the path; a missing dir is fine
        ctx.load_verify_locations(capath=domain.eff_ca_dir)


def _load_identity(ctx: ssl.SSLContext, domain: TlsDomain, workdir: str) -> None:
    cert, key = domain.eff_certificate, domain.eff_private_key
    if cert is None:
        if key is not None:
            raise _fail(domain, _shown(domain, "private_key"),
                        "a private key without a certificate (SSL_CTX_check_private_key fails)")
        return
    cert_path = _material(domain, "certificate", cert, workdir)
    key_path = _material(domain, "private_key", key, workdir) if key else None
    asked: list[bool] = []

    def no_passphrase() -> bytes:
        asked.append(True)
        return b""

    try:
        ctx.load_cert_chain(cert_path, key_path, password=no_passphrase)
    except ssl.SSLError as err:
        reason = err.reason or ""
        if asked:
            raise _fail(domain, _shown(domain, "private_key"),
                        "the key is encrypted (OpenSIPS would prompt for its passphrase on the console)"
                        ) from None
        if reason == "KEY_VALUES_MISMATCH":
            raise _fail(domain, _shown(domain, "private_key"),
                        "does not match the public key of the certificate") from None
        if reason in ("PEM_LIB", "NO_START_LINE") and _has_certificate(cert_path):
            raise _fail(domain, _shown(domain, "private_key"), "unable to load private key file") from None
        raise _fail(domain, _shown(domain, "certificate"), "unable to load certificate file") from None
    except OSError as err:  # after SSLError, its subclass
        param = "certificate" if not os.path.exists(cert_path) or not key_path else "private_key"
        raise _fail(domain, _shown(domain, param), _os_reason(err)) from None


def _has_certificate(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            return _first(handle.read(), CERTIFICATE_LABELS) is not None
    except OSError:
        return False


def _first(data: bytes, labels: set[bytes] | frozenset[bytes]) -> PemBlock | None:
    """The first PEM block of ``data`` with one of ``labels``."""
    return next((block for block in pem_blocks(data) if block.label in labels), None)


def _apply_verify(ctx: ssl.SSLContext, domain: TlsDomain) -> None:
    """Server: verify -> PEER (+ FAIL_IF_NO_PEER_CERT with require); client: verify ->
    PEER. No hostname check (OpenSIPS does none)."""
    ctx.check_hostname = False
    if not domain.eff_verify_cert:
        ctx.verify_mode = ssl.CERT_NONE
    elif domain.side == SERVER and not domain.eff_require_cert:
        ctx.verify_mode = ssl.CERT_OPTIONAL
    else:
        ctx.verify_mode = ssl.CERT_REQUIRED


def build_context(domain: TlsDomain, library: str = "openssl") -> ssl.SSLContext:
    """The SSL context OpenSIPS would build for ``domain`` (its side decides server or
    client). Raises ``TlsmgmError`` naming the domain and the setting at fault."""
    protocol = ssl.PROTOCOL_TLS_SERVER if domain.side == SERVER else ssl.PROTOCOL_TLS_CLIENT
    ctx = ssl.SSLContext(protocol)
    ctx.check_hostname = False
    ctx.options |= OPENSIPS_OPTIONS
    ctx.verify_flags = ssl.VERIFY_X509_TRUSTED_FIRST  # OpenSSL's defaults (3.13 adds STRICT/PARTIAL)
    _apply_method(ctx, domain, library)
    with _private_dir() as workdir:
        _apply_ciphers_and_groups(ctx, domain, workdir)
        _load_crls(ctx, domain, workdir)
        _load_cas(ctx, domain)
        _load_identity(ctx, domain, workdir)
    _apply_verify(ctx, domain)
    return ctx


def local_certificate_der(domain: TlsDomain) -> bytes | None:
    """DER of the domain's own certificate (the first of its chain) for ``$tls_my_*``;
    None for a client domain without one."""
    cert = domain.eff_certificate
    if cert is None:
        return None
    if domain.file_is_content("certificate"):
        data = cert.encode()
    else:
        try:
            with open(cert, "rb") as handle:
                data = handle.read()
        except OSError as err:
            raise _fail(domain, _shown(domain, "certificate"), _os_reason(err)) from None
    found = _first(data, CERTIFICATE_LABELS)
    if found is not None:
        try:
            return found.certificate_der()
        except ValueError:
            pass
    raise _fail(domain, _shown(domain, "certificate"), "unable to load certificate file")


def trust_store(domain: TlsDomain):
    """A ``core.verify.TrustStore`` with the same CA list, CA dir and CRLs as the
    domain's context, for computing the verify result OpenSSL stores but the stdlib does
    not expose (a client domain with ``verify_cert=0``)."""
    from tlsmgm_cli.core.verify import TrustStore

    store = TrustStore(crl_check_all=domain.eff_crl_check_all)
    if domain.ca_list:
        if domain.file_is_content("ca_list"):
            store.add_ca_pem(domain.ca_list.encode())
        else:
            store.add_ca_file(domain.ca_list)
    if os.path.isdir(domain.eff_ca_dir):
        store.hashed_dirs.append(domain.eff_ca_dir)
    if domain.crl_dir and os.path.isdir(domain.crl_dir):
        store.add_crl_path(domain.crl_dir)
    return store


def chain_too_long(verified_chain_length: int) -> bool:
    """Whether OpenSSL's depth-3 limit would have failed this verified chain (leaf to
    trust anchor), which the stdlib cannot enforce itself."""
    return verified_chain_length > VERIFY_DEPTH + 2

