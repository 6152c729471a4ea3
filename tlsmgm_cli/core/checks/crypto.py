"""Crypto-settings rules, compiled with the local OpenSSL (stdlib ``ssl``): ciphers_list
(``SSL_CTX_set_cipher_list``), dh_params (PEM DH, >= 2048 bits) and ec_curve
(``OBJ_txt2nid`` + ``EC_KEY_new_by_curve_name``), behaviour §6.8, §6.9, §6.10."""

from __future__ import annotations

import re
import shlex
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tlsmgm_cli.core.checks.context import CheckContext
from tlsmgm_cli.core.domain import SERVER, TlsDomain
from tlsmgm_cli.core.tls.opensslsettings import (
    CURVE_NOT_EC,
    CURVE_UNKNOWN,
    apply_cipher_list,
    cipher_list_ok,
    curve_problem,
)

_WEAK_MARKERS = (("NULL", "NULL encryption"), ("EXP", "EXPORT"), ("RC4", "RC4"), ("DES", "DES/3DES"),
                 ("MD5", "MD5"), ("ADH", "anonymous"), ("AECDH", "anonymous"))
_MAX_LISTED = 6


@dataclass(frozen=True, slots=True)
class CipherVerdict:
    error: str | None = None
    weak: tuple[str, ...] = ()
    weak_kinds: tuple[str, ...] = ()
    dead_items: tuple[str, ...] = field(default=())


def _weak_kind(cipher: Mapping[str, Any]) -> str | None:
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
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if not apply_cipher_list(ctx, text):
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
        if not cipher_list_ok(item):
            dead.append(item)
    return CipherVerdict(None, tuple(weak), tuple(kinds), tuple(dead))


def check_domain(ctx: CheckContext, dom: TlsDomain) -> None:
    _method_policy(ctx, dom)
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
    if params.error and blob:  # the DB reader ignores what it cannot parse (behaviour §5.3)
        ctx.add("TLS044", f"dh_params of the DB row: {params.error}; OpenSIPS logs it and goes on without "
                "DH parameters", dom=dom, param="dh_params")
    elif params.error:
        message = params.error if not ctx.root else params.error.replace(ctx.resolve(value), value)
        ctx.add("TLS403", message, dom=dom, param="dh_params", openssl=cmd)
    elif params.bits is not None and params.bits < 2048:
        ctx.add("TLS404", f"dh_params '{value if not blob else 'DB blob'}' has {params.bits}-bit DH parameters",
                dom=dom, param="dh_params", openssl=cmd)


def _curve(ctx: CheckContext, dom: TlsDomain, name: str) -> None:
    problem = ctx.files.memo(("curve", name), lambda: curve_problem(name))
    if problem == CURVE_UNKNOWN:
        ctx.add("TLS405", f"unable to find the EC curve '{name}'", dom=dom, param="ec_curve",
                openssl="openssl ecparam -list_curves")
    elif problem == CURVE_NOT_EC:
        ctx.add("TLS406", f"unable to create EC curve '{name}': it is not an EC group (X25519/X448 are "
                "key-exchange groups OpenSIPS cannot set as ec_curve)", dom=dom, param="ec_curve",
                openssl="openssl ecparam -list_curves")


def _may_be_initial(ctx: CheckContext, dom: TlsDomain) -> bool:
    """Whether the server domain ``dom`` can be the initial domain (``arr[0]``, whose
    tls_method the handshake negotiates with) of a TLS listener; True when the config's
    listeners are not all known (a fragment, a host name that does not resolve here)."""
    initial = ctx.files.memo(("initial-server-domains",), lambda: _initial_server_domains(ctx))
    return initial is None or id(dom) in initial


def _initial_server_domains(ctx: CheckContext) -> frozenset[int] | None:
    from tlsmgm_cli.core.matching.matcher import tls_listeners

    config = ctx.domset.config
    listeners = tls_listeners(config) if config is not None else []
    if not listeners or any(ls.ip is None or ls.port is None for ls in listeners):
        return None
    matcher = ctx.matcher()
    found = (matcher.match_server(ls.ip, ls.port, None).initial for ls in listeners
             if ls.ip is not None and ls.port is not None)
    return frozenset(id(dom) for dom in found if dom is not None)


def _method_policy(ctx: CheckContext, dom: TlsDomain) -> None:
    """TLS407: the domain's tls_method range (with its ciphers_list) completes no handshake
    under the local OpenSSL's policy, found by really trying (an in-memory handshake with
    a permissive peer, ``core.tls.context.probe_method_policy``)."""
    from tlsmgm_cli.core.tls.context import probe_method_policy
    from tlsmgm_cli.core.tls.methods import SSLV23, MethodError, parse_method

    if ctx.library != "openssl" or not ctx.wanted("TLS407"):
        return  # only the OpenSSL tlsmgm runs with can be tried
    if dom.side == SERVER and not _may_be_initial(ctx, dom):
        return  # reached by SNI only: the initial domain's tls_method governs (behaviour §6.11)
    raw = dom.eff_method
    try:
        method = parse_method(raw, ctx.library)
    except MethodError:
        return  # TLS030
    if method.unbounded or (method.high != SSLV23 and method.low > method.high):
        return  # SSLv23: the policy itself decides; a reversed range is TLS032
    if dom.ciphers_list is not None and ctx.files.memo(("ciphers", dom.ciphers_list),
                                                         lambda: compile_ciphers(dom.ciphers_list or "")).error:
        return  # TLS400
    probe = ctx.files.memo(("method-policy", raw, dom.ciphers_list, dom.side),
                           lambda: probe_method_policy(raw, dom.ciphers_list, dom.side, ctx.library))
    if probe.ok:
        return
    level = f"security level {probe.security_level}" if probe.security_level is not None \
        else "its default security level"
    ciphers = f" with ciphers_list '{dom.ciphers_list}'" if dom.ciphers_list is not None else ""
    ctx.add("TLS407", f"tls_method '{raw}' ({method.name}){ciphers} cannot complete any TLS handshake under "
            f"{probe.openssl} at {level}: a test handshake failed with '{probe.reason}'; every connection of "
            f"this {dom.side} domain would fail (checked against the OpenSSL tlsmgm runs with). Fix: allow "
            "TLS 1.2, e.g. tls_method TLSv1_2-TLSv1_3 (or TLSv1-TLSv1_3 to keep older peers), or lower the "
            "security level with ciphers_list 'DEFAULT:@SECLEVEL=0'",
            dom=dom, param="tls_method")
