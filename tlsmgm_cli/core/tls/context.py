"""An ``ssl.SSLContext`` built from one TLS domain the way tls_openssl builds its
``SSL_CTX`` (behaviour §6.3 to §6.10, in the order of §6.13), for ``tlsmgm handshake``
and ``tlsmgm serve``.

:func:`build_context` applies, in tls_openssl's order: the method bounds, DH params, EC
curve, cipher list, certificate chain, CRLs, CA list, CA directory, private key, the
verify mode of the domain's side and the options. Every failure is a ``TlsmgmError``
naming the domain and the setting at fault, e.g.
``server domain [atlanta]: certificate '/x.pem': No such file or directory``.

Where the stdlib cannot do what OpenSSL's C API does, this module documents the gap:

* **verify depth 3** (``SSL_CTX_set_verify_depth``) cannot be set; callers compare the
  verified chain with :func:`chain_too_long` after the handshake (same limit as
  ``core.x509.verify``: the chain, trust anchor included, may hold ``VERIFY_DEPTH + 2``).
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

import functools
import os
import shutil
import ssl
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tlsmgm_cli.core.domain import SERVER, TlsDomain
from tlsmgm_cli.core.errors import TlsmgmError, UsageError
from tlsmgm_cli.core.tls.methods import Method, MethodError, parse_method
from tlsmgm_cli.core.tls.opensslsettings import (
    CIPHER_LIST_MESSAGE,
    CURVE_MESSAGES,
    apply_cipher_list,
    apply_ec_curve,
)
from tlsmgm_cli.core.x509.pem import CERTIFICATE_LABELS, PemBlock, pem_blocks
from tlsmgm_cli.core.x509.truststore import domain_sources, load_context_cas

VERIFY_DEPTH = 3  # SSL_CTX_set_verify_depth(ctx, 3) in tls_openssl
# SSL_OP_ALL | NO_SSLv2 | NO_SSLv3 | NO_SESSION_RESUMPTION_ON_RENEGOTIATION | CIPHER_SERVER_PREFERENCE
_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION = 0x00010000
OPENSIPS_OPTIONS = (ssl.OP_ALL | ssl.OP_NO_SSLv2 | ssl.OP_NO_SSLv3 | ssl.OP_CIPHER_SERVER_PREFERENCE
                    | _OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION)
_PROTOCOLS = {0x0301: ssl.TLSVersion.TLSv1, 0x0302: ssl.TLSVersion.TLSv1_1,
              0x0303: ssl.TLSVersion.TLSv1_2, 0x0304: ssl.TLSVersion.TLSv1_3}


def _fail(domain: TlsDomain, what: str, why: str) -> TlsmgmError:
    return UsageError(f"{domain.label()}: {what}: {why}", domain.where(what.split(" ", 1)[0]))


def _shown(domain: TlsDomain, param: str) -> str:
    """How a file-valued setting is named in messages (DB PEM content is never echoed)."""
    if domain.file_is_content(param):
        return f"{param} (PEM content from the DB)"
    value = getattr(domain, param) or getattr(domain, "eff_" + param, None)
    return f"{param} '{value}'"


def _regular(domain: TlsDomain, param: str, path: str) -> None:
    """Refuse a FIFO, a device or an over-size file before OpenSSL opens it (it would
    block on a FIFO, or read /dev/zero without end); a missing file is left to OpenSSL's
    own message."""
    import stat

    from tlsmgm_cli.core.limits import PKI_FILE_MAX_BYTES
    from tlsmgm_cli.core.util.safeio import file_kind, limit_text

    try:
        st = os.stat(path)
    except OSError:
        return
    if not stat.S_ISREG(st.st_mode):
        raise _fail(domain, _shown(domain, param), f"is {file_kind(st.st_mode)}, not a regular file; refused")
    if st.st_size > PKI_FILE_MAX_BYTES:
        raise _fail(domain, _shown(domain, param),
                    f"is {st.st_size} bytes, over the {limit_text(PKI_FILE_MAX_BYTES)} limit tlsmgm reads")


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
    _set_bounds(ctx, method)


def _set_bounds(ctx: ssl.SSLContext, method: Method) -> None:
    """SSL_CTX_set_min/max_proto_version as tls_openssl does (nothing for SSLv23)."""
    if method.unbounded:
        return
    with warnings.catch_warnings():  # TLSv1 is deprecated in the stdlib, not in OpenSIPS
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = _PROTOCOLS[method.min_version or 0x0301]
        high = method.max_version
        ctx.maximum_version = ssl.TLSVersion.MAXIMUM_SUPPORTED if not high else _PROTOCOLS[high]


@dataclass(frozen=True, slots=True)
class PolicyProbe:
    """The outcome of :func:`probe_method_policy`: ``ok`` when a handshake completed;
    else ``reason`` (OpenSSL's words). ``openssl`` and ``security_level`` describe the
    library that was tried (the one tlsmgm runs with)."""

    ok: bool
    reason: str | None
    openssl: str
    security_level: int | None


@functools.lru_cache(maxsize=256)
def probe_method_policy(method_text: str | None, ciphers: str | None, side: str,
                        library: str = "openssl") -> PolicyProbe:
    """Whether a domain with this ``tls_method`` and ``ciphers_list`` can complete any
    handshake under the local OpenSSL's policy (security level, disabled protocols).

    The domain's side gets the context OpenSIPS would build (bounds, cipher list, Python's
    security level as OpenSSL's configuration sets it); the other side is as permissive as
    OpenSSL allows (TLS 1.0-1.3, ``ALL:@SECLEVEL=0``). Both shake hands in memory
    (``ssl.MemoryBIO``), with a throwaway P-256 certificate, so the answer concerns the
    method and ciphers alone. Cached per (method, ciphers, side, library)."""
    from tlsmgm_cli.core.tls.sslverify import security_level

    method = parse_method(method_text, library)
    domain_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if side == SERVER else ssl.PROTOCOL_TLS_CLIENT)
    domain_ctx.check_hostname = False
    domain_ctx.verify_mode = ssl.CERT_NONE
    domain_ctx.options |= OPENSIPS_OPTIONS
    _set_bounds(domain_ctx, method)
    level = security_level(domain_ctx)
    if not apply_cipher_list(domain_ctx, ciphers or "DEFAULT"):
        return PolicyProbe(False, "the cipher list selects no cipher", ssl.OPENSSL_VERSION, level)
    level = security_level(domain_ctx)  # a @SECLEVEL=n in ciphers_list changes it
    other = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT if side == SERVER else ssl.PROTOCOL_TLS_SERVER)
    other.check_hostname = False
    other.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        other.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        other.maximum_version = ssl.TLSVersion.MAXIMUM_SUPPORTED
    try:
        other.set_ciphers("ALL:@SECLEVEL=0")
    except ssl.SSLError:
        pass
    server_ctx = domain_ctx if side == SERVER else other
    with _private_dir() as workdir:
        cert_path, key_path = _throwaway_identity(workdir)
        server_ctx.load_cert_chain(cert_path, key_path)
    reason = _memory_handshake(domain_ctx if side != SERVER else other, server_ctx)
    return PolicyProbe(reason is None, reason, ssl.OPENSSL_VERSION, level)


def _throwaway_identity(workdir: str) -> tuple[str, str]:
    from tlsmgm_cli.core.x509.certgen import make_cert

    issued = make_cert(None, "tlsmgm-policy-probe", self_signed=True, days=2)
    cert_path = os.path.join(workdir, "probe.crt")
    key_path = os.path.join(workdir, "probe.key")
    with open(cert_path, "wb") as handle:
        handle.write(issued.cert_pem())
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(issued.key_pem())
    return cert_path, key_path


def _memory_handshake(client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext) -> str | None:
    """A complete handshake between two in-memory endpoints: None, or why it failed."""
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_ctx.wrap_bio(c_in, c_out, server_side=False)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    done = {"client": False, "server": False}
    for _ in range(20):
        for name, end in (("client", client), ("server", server)):
            if done[name]:
                continue
            try:
                end.do_handshake()
                done[name] = True
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                pass
            except ssl.SSLError as err:
                return (err.reason or str(err)).lower().replace("_", " ") + f" (on the {name} side)"
            s_in.write(c_out.read())
            c_in.write(s_out.read())
        if all(done.values()):
            return None
    return "the handshake did not complete"


def _apply_ciphers_and_groups(ctx: ssl.SSLContext, domain: TlsDomain, workdir: str) -> None:
    if domain.dh_params:
        path = _material(domain, "dh_params", domain.dh_params, workdir)
        _regular(domain, "dh_params", path)
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
        # through the size-limited reader: a file over PKI_FILE_MAX_BYTES (or swapped for a
        # FIFO) is skipped like any unusable file, as OpenSIPS skips what is no PEM CRL
        # (behaviour §6.7); the domain is not failed for it
        data = _read_pki(path, "CRL file")
        found = _first(data, {b"X509 CRL"}) if data is not None else None
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


def _load_cas(ctx: ssl.SSLContext, domain: TlsDomain) -> None:
    """ca_list, then ca_dir (a missing ca_dir is fine: core.x509.truststore decides)."""
    load_context_cas(ctx, domain_sources(domain, crls=False), lambda what, why: _fail(domain, what, why))


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

    _regular(domain, "certificate", cert_path)
    if key_path:
        _regular(domain, "private_key", key_path)
    try:
        ctx.load_cert_chain(cert_path, key_path, password=no_passphrase)
    except ssl.SSLError as err:
        reason = err.reason or ""
        if asked:
            raise _fail(domain, _shown(domain, "private_key"),
                        "the key is encrypted (OpenSIPS would prompt for its passphrase on the console)"
                        ) from None
        param, why = _identity_problem(domain, cert_path, key_path, reason)
        raise _fail(domain, _shown(domain, param), why) from None
    except OSError as err:  # after SSLError, its subclass
        param = "certificate" if not os.path.exists(cert_path) or not key_path else "private_key"
        raise _fail(domain, _shown(domain, param), _os_reason(err)) from None


def _read_pki(path: str, what: str) -> bytes | None:
    from tlsmgm_cli.core.limits import PKI_FILE_MAX_BYTES
    from tlsmgm_cli.core.util.safeio import UnsafeInput, read_bytes_limited

    try:
        return read_bytes_limited(path, limit=PKI_FILE_MAX_BYTES, what=what)
    except UnsafeInput:
        return None


def _key_kind(key: object) -> str:
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

    for kind, name in ((rsa.RSAPublicKey, "RSA"), (ec.EllipticCurvePublicKey, "EC"),
                       (ed25519.Ed25519PublicKey, "Ed25519"), (ed448.Ed448PublicKey, "Ed448"),
                       (dsa.DSAPublicKey, "DSA")):
        if isinstance(key, kind):
            return name
    return type(key).__name__


def _identity_problem(domain: TlsDomain, cert_path: str, key_path: str | None, reason: str) -> tuple[str, str]:
    """Which file of a certificate/key pair OpenSSL failed on, and why, found by reading
    both: (``certificate`` or ``private_key``, the reason in words)."""
    from tlsmgm_cli.core.x509.pem import read_private_key

    cert_data = _read_pki(cert_path, "certificate")
    block = _first(cert_data, CERTIFICATE_LABELS) if cert_data is not None else None
    cert_public = None
    if block is not None:
        try:
            from cryptography import x509

            cert_public = x509.load_der_x509_certificate(block.certificate_der()).public_key()
        except Exception:  # noqa: BLE001 - damaged or unknown: the certificate is at fault
            block = None
    if block is None:
        return "certificate", "unable to load certificate file (no usable PEM certificate in it)"
    key_data = _read_pki(key_path, "private key") if key_path else cert_data
    if key_data is None:
        return "private_key", "unable to load private key file (cannot be read)"
    key = read_private_key(key_data)
    if key.key is None:
        return "private_key", f"unable to load private key file ({key.detail})"
    public = key.key.public_key()
    if public != cert_public:
        cert_name = "the certificate" if domain.file_is_content("certificate") else \
            f"the certificate '{domain.eff_certificate}'"
        kinds = (_key_kind(public), _key_kind(cert_public))
        detail = f"the key is {kinds[0]}, the certificate's key is {kinds[1]}" if kinds[0] != kinds[1] else \
            "another key pair"
        return "private_key", f"does not match the public key of {cert_name} ({detail})"
    return "private_key" if reason == "KEY_VALUES_MISMATCH" else "certificate", \
        f"unable to load certificate and key ({reason.lower().replace('_', ' ') or 'OpenSSL error'})"


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
        from tlsmgm_cli.core.limits import PKI_FILE_MAX_BYTES
        from tlsmgm_cli.core.util.safeio import UnsafeInput, read_bytes_limited

        try:  # regular files of at most PKI_FILE_MAX_BYTES, as build_context's _regular
            data = read_bytes_limited(cert, limit=PKI_FILE_MAX_BYTES, what="certificate")
        except UnsafeInput as err:
            raise _fail(domain, _shown(domain, "certificate"), err.reason) from None
    found = _first(data, CERTIFICATE_LABELS)
    if found is not None:
        try:
            return found.certificate_der()
        except ValueError:
            pass
    raise _fail(domain, _shown(domain, "certificate"), "unable to load certificate file")


def chain_too_long(verified_chain_length: int) -> bool:
    """Whether OpenSSL's depth-3 limit would have failed this verified chain (leaf to
    trust anchor), which the stdlib cannot enforce itself."""
    return verified_chain_length > VERIFY_DEPTH + 2

