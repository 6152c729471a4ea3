"""Config rules: reader/model diagnostics as findings, tls_method readings (behaviour §2.9),
TLS library modules and their load order (behaviour §6.1, §6.2)."""

from __future__ import annotations

import os

from tlsmgm_cli.core.cfg.model import Assign, Loadmodule
from tlsmgm_cli.core.checks.context import CheckContext
from tlsmgm_cli.core.checks.rules import NOT_STARTUP_CODES, RULES, rule_for_code
from tlsmgm_cli.core.domain import TlsDomain
from tlsmgm_cli.core.tls.methods import NAMES, SSLV23, TLSV1, MethodError, parse_method

# Modules whose libraries (libmysqlclient, libpq, libcurl, librdkafka, libjwt...) link
# OpenSSL and may allocate through it when loaded, before tls_openssl can install its
# memory functions (behaviour §6.2).
OPENSSL_LINKING_MODULES = frozenset((
    "db_mysql", "db_postgres", "db_http", "db_unixodbc", "rest_client", "http2d", "httpd",
    "cachedb_mongodb", "cachedb_redis", "cachedb_couchbase", "cachedb_dynamodb", "event_kafka",
    "event_rabbitmq", "rabbitmq_consumer", "ldap", "auth_jwt", "stir_shaken", "identity",
    "launch_darkly", "aaa_diameter", "sqs", "event_sqs",
))
_CANONICAL_TOKENS = ("SSLv23", "TLSany", "TLSv1", "TLSv1_2", "TLSv1_3")
_TRIM = " \t\r\n"


def check_config(ctx: CheckContext) -> None:
    """Global config rules (run once)."""
    _diagnostics(ctx)
    _library(ctx)
    _load_order(ctx)
    _module_files(ctx)


def check_domain(ctx: CheckContext, dom: TlsDomain) -> None:
    """Per-domain config rules."""
    if ctx.library != "none":
        _method(ctx, dom)


def _diagnostics(ctx: CheckContext) -> None:
    """Every reader/model diagnostic becomes a finding (unknown codes: the generic rule)."""
    for diag in ctx.domset.diagnostics:
        rule_id = rule_for_code(diag.code, diag.message)
        message = diag.message if rule_id != "TLS099" else f"{diag.message} [{diag.code}]"
        ctx.add(rule_id, message, loc=diag.loc, severity=diag.severity,
                hint=diag.hint or RULES[rule_id].hint, domain=diag.domain, side=diag.side,
                stops_start=diag.code not in NOT_STARTUP_CODES)


def _library(ctx: CheckContext) -> None:
    if ctx.library == "none" and ctx.domset.all:
        ctx.add("TLS039", "tls_library is 'none': OpenSIPS never opens the certificate, key and CA files, "
                "and never parses tls_method (no TLS transport)",
                loc=ctx.domset.globals.locs.get("tls_library"))


def _loadmodules(ctx: CheckContext) -> list[Loadmodule]:
    config = ctx.domset.config
    return list(config.loadmodules) if config is not None else []


def _load_order(ctx: CheckContext) -> None:
    mods = _loadmodules(ctx)
    position = next((i for i, m in enumerate(mods) if m.name.lower() == "tls_openssl"), None)
    if position is None:
        return
    for mod in mods[:position]:
        if mod.name.lower() in OPENSSL_LINKING_MODULES:
            ctx.add("TLS036", f"module '{mod.name}' (links OpenSSL) is loaded before tls_openssl "
                    f"({mods[position].loc}): tls_openssl may fail to set its memory functions and "
                    "abort startup", loc=mod.loc)


def _module_files(ctx: CheckContext) -> None:
    """A note for modules missing from an mpath that exists here (configs are usually
    checked away from the SIP server, so an absent mpath says nothing)."""
    config = ctx.domset.config
    if config is None:
        return
    mpath = None
    for st in config.statements:
        if isinstance(st, Assign) and st.name.lower() == "mpath" and isinstance(st.value, str):
            mpath = st.value
    for mod in config.loadmodules:
        path = mod.path if "/" in mod.path else os.path.join(mpath or "", mod.path)
        if not os.path.isabs(path):
            continue
        directory = os.path.dirname(path)
        candidates = [path] if path.endswith(".so") else [path, path + ".so"]
        if os.path.isdir(directory) and not any(os.path.isfile(c) for c in candidates):
            ctx.add("TLS037", f"module '{mod.name}' not found at {path} (mpath directory exists here)",
                    loc=mod.loc)


def _bound_tokens(raw: str) -> list[str]:
    if "-" in raw:
        low, high = raw.split("-", 1)
        return [t.strip(_TRIM) for t in (low, high)]
    return [raw.strip(_TRIM)]


def _method(ctx: CheckContext, dom: TlsDomain) -> None:
    """tls_method readings OpenSIPS accepts but that are probably not what was meant."""
    for rule_id, message, extra in ctx.files.memo(("tls_method", dom.method, ctx.library),
                                                  lambda: _method_findings(dom.method, ctx.library)):
        ctx.add(rule_id, message, dom=dom, **extra)


def _method_findings(raw: str | None, library: str) -> list[tuple[str, str, dict[str, str]]]:
    """(rule, message, other ``ctx.add`` arguments) for a tls_method value: the same for
    every domain that spells it the same way."""
    found: list[tuple[str, str, dict[str, str]]] = []
    try:
        method = parse_method(raw, library)
    except MethodError:
        return found  # reported as TLS030 by the model (script) or the DB loader
    if raw is None or raw == "":
        found.append(("TLS033", "tls_method is not set: SSLv23 leaves the protocol versions (TLS 1.0/1.1 "
                      "included) to the system OpenSSL policy",
                      {"severity": "note", "hint": "set tls_method to TLSv1_2-TLSv1_3"}))
        return found
    at_param = {"param": "tls_method"}
    odd, lower = [], []
    for token in _bound_tokens(raw):
        if not token:
            continue
        full = next((name for name in _CANONICAL_TOKENS if name.lower() == token.lower()), None)
        if full is None:
            value = parse_method(token, library).low
            odd.append(f"'{token}' is read as {NAMES[value]}")
        elif full != token:
            lower.append(f"'{token}' ({full})")
    if not raw.strip(_TRIM):
        odd.append("a blank value is read as TLSv1 (exactly TLS 1.0)")
    if odd:
        found.append(("TLS031", f"tls_method '{raw}': " + "; ".join(odd) + f" (effective: {method.name})",
                      at_param))
    if lower:
        found.append(("TLS034", f"tls_method '{raw}': " + ", ".join(lower) + " not in canonical spelling",
                      at_param))
    if method.low != SSLV23 and method.high != SSLV23 and method.low > method.high:
        found.append(("TLS032", f"tls_method '{raw}' is a reversed range ({method.name}): no protocol "
                      "version fits, every handshake fails", at_param))
    elif method.unbounded:
        found.append(("TLS033", f"tls_method '{raw}' means SSLv23: no bounds are set, the system OpenSSL "
                      "policy decides whether TLS 1.0/1.1 are offered", at_param))
    elif method.low == TLSV1:
        what = "exactly TLS 1.0" if method.high == TLSV1 else f"TLS 1.0 and 1.1 ({method.name})"
        found.append(("TLS033", f"tls_method '{raw}' allows {what}", at_param))
    return found
