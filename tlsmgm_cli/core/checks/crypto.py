"""Crypto-settings rules, compiled with the local OpenSSL (stdlib ``ssl``): ciphers_list
(``SSL_CTX_set_cipher_list``), dh_params (PEM DH, >= 2048 bits) and ec_curve
(``OBJ_txt2nid`` + ``EC_KEY_new_by_curve_name``), spec §7.3."""

from __future__ import annotations

import re
import shlex
import ssl
from dataclasses import dataclass, field

from tlsmgm_cli.core.checks.context import CheckContext
from tlsmgm_cli.core.domain import TlsDomain

_WEAK_MARKERS = (("NULL", "NULL encryption"), ("EXP", "EXPORT"), ("RC4", "RC4"), ("DES", "DES/3DES"),
                 ("MD5", "MD5"), ("ADH", "anonymous"), ("AECDH", "anonymous"))
_OID = re.compile(r"^\d+(\.\d+)+$")
_MAX_LISTED = 6
# groups OpenSSL 3 knows (set1_groups accepts them) that are no EC curve
_NON_EC_GROUPS = frozenset(("X25519", "X448", "ffdhe2048", "ffdhe3072", "ffdhe4096", "ffdhe6144", "ffdhe8192"))
_NON_EC_OIDS = frozenset(("1.3.101.110", "1.3.101.111"))  # X25519, X448
_OPENSSL_SHORT_NAMES = {"secp256r1": "prime256v1", "secp192r1": "prime192v1"}


@dataclass(frozen=True, slots=True)
class CipherVerdict:
    error: str | None = None
    weak: tuple[str, ...] = ()
    weak_kinds: tuple[str, ...] = ()
    dead_items: tuple[str, ...] = field(default=())


def _context() -> ssl.SSLContext:
    return ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)


def _weak_kind(cipher: dict) -> str | None:
    if cipher.get("auth") == "auth-null":
        return "anonymous"
    name = cipher.get("name", "")
    for marker, kind in _WEAK_MARKERS:
        if marker in name.split("-") or name.startswith(marker) or (marker == "DES" and "DES" in name):
            return kind
    if cipher.get("digest") == "md5":
        return "MD5"
    return None


def compile_ciphers(text: str) -> CipherVerdict:
    """What OpenSSL makes of a cipher string: an error when it selects nothing, else the
    weak suites it enables and the positive items that select nothing on their own."""
    ctx = _context()
    try:
        ctx.set_ciphers(text)
    except ssl.SSLError:
        return CipherVerdict(error="selects no cipher")
    weak: list[str] = []
    kinds: list[str] = []
    for cipher in ctx.get_ciphers():
        if cipher.get("protocol") == "TLSv1.3":
            continue
        kind = _weak_kind(cipher)
        if kind:
            weak.append(cipher["name"])
            if kind not in kinds:
                kinds.append(kind)
    dead = []
    for item in re.split(r"[:, ]+", text.strip()):
        if not item or item[0] in "!-+@" or item.startswith("SECLEVEL"):
            continue
        try:
            _context().set_ciphers(item)
        except ssl.SSLError:
            dead.append(item)
    return CipherVerdict(None, tuple(weak), tuple(kinds), tuple(dead))


def curve_problem(name: str) -> str | None:
    """None when OpenSIPS can set ``name`` as ec_curve; else "unknown" (OBJ_txt2nid gives 0)
    or "not-ec" (a known group that is no EC curve, e.g. X25519: EC_KEY_new_by_curve_name
    fails). Short names go through the local OpenSSL (``set_ecdh_curve`` = OBJ_sn2nid);
    dotted OIDs through cryptography's curve table."""
    if _OID.match(name):
        if name in _NON_EC_OIDS:
            return "not-ec"
        from cryptography import x509
        from cryptography.hazmat.primitives.asymmetric import ec

        try:
            curve = ec.get_curve_for_oid(x509.ObjectIdentifier(name))
        except (LookupError, ValueError):
            return "unknown"
        name = _OPENSSL_SHORT_NAMES.get(curve.name, curve.name)
    try:
        _context().set_ecdh_curve(name)
    except ValueError:
        return "unknown"
    except ssl.SSLError:
        return "not-ec"
    return "not-ec" if name in _NON_EC_GROUPS else None


def check_domain(ctx: CheckContext, dom: TlsDomain) -> None:
    if dom.ciphers_list is not None:
        _ciphers(ctx, dom, dom.ciphers_list)
    if dom.dh_params:
        _dh(ctx, dom)
    if dom.ec_curve is not None:
        _curve(ctx, dom, dom.ec_curve)


def _ciphers(ctx: CheckContext, dom: TlsDomain, text: str) -> None:
    verdict: CipherVerdict = ctx.files.memo(("ciphers", text), lambda: compile_ciphers(text))
    cmd = f"openssl ciphers -v {shlex.quote(text)}"
    if verdict.error:
        ctx.add("TLS400", f"failure to set SSL context cipher list '{text}': it {verdict.error} with the "
                f"local {ssl.OPENSSL_VERSION}", dom=dom, param="ciphers_list", openssl=cmd)
        return
    if verdict.weak:
        listed = ", ".join(verdict.weak[:_MAX_LISTED]) + (" ..." if len(verdict.weak) > _MAX_LISTED else "")
        ctx.add("TLS401", f"ciphers_list '{text}' enables {', '.join(verdict.weak_kinds)} suites: {listed}",
                dom=dom, param="ciphers_list", openssl=cmd)
    if verdict.dead_items:
        items = ", ".join(f"'{item}'" for item in verdict.dead_items)
        tls13 = any(item.startswith("TLS_") for item in verdict.dead_items)
        ctx.add("TLS402", f"ciphers_list '{text}': {items} select(s) no cipher and is ignored by OpenSSL"
                + (" (TLS 1.3 suites cannot be set through ciphers_list)" if tls13 else ""),
                dom=dom, param="ciphers_list", openssl=cmd)


def _dh(ctx: CheckContext, dom: TlsDomain) -> None:
    value = dom.dh_params or ""
    blob = dom.file_is_content("dh_params")
    params = ctx.files.dh_params(None, value) if blob else ctx.files.dh_params(ctx.resolve(value))
    cmd = None if blob else f"openssl dhparam -in {shlex.quote(value)} -noout -text"
    if params.error:
        message = params.error if not ctx.root else params.error.replace(ctx.resolve(value), value)
        ctx.add("TLS403", message, dom=dom, param="dh_params", openssl=cmd)
    elif params.bits is not None and params.bits < 2048:
        ctx.add("TLS404", f"dh_params '{value if not blob else 'DB blob'}' has {params.bits}-bit DH parameters",
                dom=dom, param="dh_params", openssl=cmd)


def _curve(ctx: CheckContext, dom: TlsDomain, name: str) -> None:
    problem = ctx.files.memo(("curve", name), lambda: curve_problem(name))
    if problem == "unknown":
        ctx.add("TLS405", f"unable to find the EC curve '{name}'", dom=dom, param="ec_curve",
                openssl="openssl ecparam -list_curves")
    elif problem == "not-ec":
        ctx.add("TLS406", f"unable to create EC curve '{name}': it is not an EC group (X25519/X448 are "
                "key-exchange groups OpenSIPS cannot set as ec_curve)", dom=dom, param="ec_curve",
                openssl="openssl ecparam -list_curves")
