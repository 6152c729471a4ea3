"""Apply the tls_mgm modparams of a parsed config the way OpenSIPS 3.6.8 does
(behaviour §1.8, §2, §3.1, §3.2, §4.1, §4.2, §6.1, §9.1): builds the script-defined
``DomainSet`` and collects every error OpenSIPS would abort on, with OpenSIPS's own
wording and the ``file:line`` of the statement.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable

from tlsmgm_cli.core.cfg.model import Assign, Loadmodule, Modparam, ParsedConfig
from tlsmgm_cli.core.domain import CLIENT, PER_DOMAIN_PARAMS, SERVER, DomainSet, GlobalParams, TlsDomain
from tlsmgm_cli.core.errors import Diagnostic, Loc
from tlsmgm_cli.core.net.addresses import AddressError, parse_match_ip_address, split_csv, str2int
from tlsmgm_cli.core.tls.methods import MethodError, parse_method

# column-name parameters and their defaults (behaviour §2.4)
COLUMN_PARAMS = {
    "domain_col": "domain", "match_ip_address_col": "match_ip_address",
    "match_sip_domain_col": "match_sip_domain", "tls_method_col": "method",
    "verify_cert_col": "verify_cert", "require_cert_col": "require_cert",
    "certificate_col": "certificate", "private_key_col": "private_key",
    "crl_check_all_col": "crl_check_all", "crl_dir_col": "crl_dir", "ca_list_col": "ca_list",
    "ca_dir_col": "ca_dir", "ciphers_list_col": "cipher_list", "dh_params_col": "dh_params",
    "ec_curve_col": "ec_curve",
}
GLOBAL_PARAMS = ("tls_library", "client_tls_domain_avp", "client_sip_domain_avp", "db_url", "db_table")
TLS_MGM_PARAMS = frozenset(("server_domain", "client_domain") + PER_DOMAIN_PARAMS + GLOBAL_PARAMS
                           + tuple(COLUMN_PARAMS))
#: The parameters (name -> "str" | "int", the STR_PARAM/INT_PARAM type) of the modules a
#: TLS config loads, from their ``param_export_t params[]`` in OpenSIPS 3.6.8
#: (modules/<name>/<name>.c). tls_openssl and tls_wolfssl export no parameter at all.
#: A modparam whose module regex matches a loaded module must name one of its
#: parameters, with its type, or OpenSIPS does not start (modparam.c set_mod_param_regex).
MODULE_PARAMS: dict[str, dict[str, str]] = {
    "tls_mgm": {name: "str" for name in TLS_MGM_PARAMS},
    "tls_openssl": {},
    "tls_wolfssl": {},
    "proto_tls": {
        "tls_port": "int", "tls_crlf_pingpong": "int", "tls_crlf_drop": "int",
        "tls_max_msg_chunks": "int", "tls_send_timeout": "int", "tls_handshake_timeout": "int",
        "trace_destination": "str", "tls_async": "int", "tls_async_max_postponed_chunks": "int",
        "tls_async_local_connect_timeout": "int", "tls_async_handshake_timeout": "int",
        "trace_on": "int", "trace_filter_route": "str", "cert_check_on_conn_reusage": "int",
    },
    "proto_wss": {
        "wss_port": "int", "wss_max_msg_chunks": "int", "wss_resource": "str",
        "wss_send_timeout": "int", "require_origin": "int", "wss_handshake_timeout": "int",
        "trace_destination": "str", "wss_tls_handshake_timeout": "int", "trace_on": "int",
        "trace_filter_route": "str", "cert_check_on_conn_reusage": "int",
    },
}
_PLAIN_MODULE_NAME = re.compile(r"[A-Za-z0-9_]+")
TLS_LIBRARIES = ("auto", "none", "openssl", "wolfssl")
NUMERIC_PARAMS = ("verify_cert", "require_cert", "crl_check_all")
# core keywords of OpenSIPS <= 1.x TLS that 3.x no longer knows
LEGACY_CORE_TLS = frozenset((
    "disable_tls", "tls_certificate", "tls_private_key", "tls_ca_list", "tls_method",
    "tls_verify_client", "tls_verify_server", "tls_require_client_certificate", "tls_ciphers_list",
    "tls_handshake_timeout", "tls_send_timeout", "tls_domain", "tls_server_domain",
    "tls_client_domain", "tls_ca_dir", "tls_dh_params",
))
_ISSPACE = " \t\n\v\f\r"


class _DomainParamError(Exception):
    def __init__(self, code: str, message: str, hint: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint


def split_param_val(value: str) -> tuple[str, str]:
    """tls_params.c split_param_val: ``[dom]value`` -> (dom, value); raises with
    OpenSIPS's messages. No trimming inside the brackets or of the value."""
    p = value.lstrip(_ISSPACE)
    if not p.startswith("["):
        raise _DomainParamError(
            "no-domain-name", "No TLS domain name",
            "OpenSIPS 3.x requires the '[domain]value' form for per-domain parameters "
            "(un-prefixed values are pre-3.0 syntax)")
    end = p.find("]", 1)
    if end < 0:
        raise _DomainParamError("bad-domain-name", "Invalid TLS domain name, no mathcing ']' character")
    name = p[1:end]
    if not name:
        raise _DomainParamError("empty-domain-name", "Empty TLS domain name")
    rest = p[end + 1:]
    if not rest:
        raise _DomainParamError("empty-value", "Empty value")
    return name, rest


@functools.lru_cache(maxsize=512)
def module_regex_matches(regex: str, module: str) -> bool:
    """modparam's module argument: a POSIX ERE, compiled as ``^(regex)$``, case-insensitive
    (``core.cfg.ere``); one that glibc would not compile matches nothing."""
    matcher = _module_pattern(regex)
    return matcher is not None and matcher(module)


@functools.lru_cache(maxsize=256)
def _module_pattern(regex: str) -> Callable[[str], bool] | None:
    from tlsmgm_cli.core.cfg.ere import modparam_matcher

    return modparam_matcher(regex)


class DomainBuilder:
    """Executes the statements in order, like OpenSIPS's cfg parser does for modparams."""

    def __init__(self, parsed: ParsedConfig, *, cfg_dir: str = "/etc/opensips/",
                 opensips_version: tuple[int, int, int] = (3, 6, 8)):
        self.parsed = parsed
        self.cfg_dir = cfg_dir if cfg_dir.endswith("/") else cfg_dir + "/"
        self.version = opensips_version
        # script domains in declaration order (reversed into list order at the end)
        self.servers: list[TlsDomain] = []
        self.clients: list[TlsDomain] = []
        self._by_name: dict[str, dict[str, TlsDomain]] = {SERVER: {}, CLIENT: {}}
        self.glob = GlobalParams(columns=dict(COLUMN_PARAMS))
        self.diags: list[Diagnostic] = []
        self.loaded: list[str] = []
        self.tls_mgm_everywhere = any(
            isinstance(s, Loadmodule) and s.name.lower() == "tls_mgm" for s in parsed.statements)
        self._fragment_warned = False
        self._setter_failures = 0  # tls_mgm setters that returned <0 (each stops OpenSIPS)
        self._matched_cache: dict[tuple[str, int], list[str]] = {}

    # -- helpers ---------------------------------------------------------------------
    def _diag(self, severity: str, code: str, message: str, loc: Loc | None, *,
              domain: str | None = None, side: str | None = None, hint: str | None = None) -> None:
        self.diags.append(Diagnostic(severity, code, message, loc, domain, side, hint))

    def _setter_failed(self, st: Modparam, code: str, message: str, *, hint: str | None = None,
                       domain: str | None = None, side: str | None = None) -> None:
        """A tls_mgm setter returned <0: its own message, then the cfg parser's misleading
        one (behaviour §1.8), which is what operators find in the log."""
        self._setter_failures += 1
        parser_line = f"Parameter <{st.param}> not found in module <{st.module}> - can't set"
        self._diag("error", code, message, st.loc, domain=domain, side=side,
                   hint=(hint + "; " if hint else "") + f"OpenSIPS then also logs '{parser_line}'")
        self.diags[-1].extra["opensips_log"] = [message, parser_line]

    def _find(self, name: str) -> TlsDomain | None:
        """Server list first, then client list (exact, case-sensitive)."""
        return self._by_name[SERVER].get(name) or self._by_name[CLIENT].get(name)

    def _parse_error(self, st: Modparam) -> str:
        """The cfg parser's line for a modparam that failed (cfg.y, on its ``)``)."""
        line, col = st.close if st.close[0] else (st.loc.line, 0)
        return (f"parse error in {st.loc.file}:{line}:{col}-{col + 1}: Parameter <{st.param}> not found "
                f"in module <{st.module}> - can't set")

    def _modparam_fails(self, st: Modparam, code: str, message: str, hint: str) -> None:
        """A modparam that set_mod_param_regex refuses: its line and the cfg parser's."""
        second = self._parse_error(st)
        self._diag("error", code, message, st.loc, hint=f"{hint}; OpenSIPS then also logs '{second}'")
        self.diags[-1].extra["opensips_log"] = [message, second]

    def _matched_modules(self, regex: str) -> list[str]:
        """The loaded modules ``regex`` matches, in the order OpenSIPS tries them (its
        module list: the module loaded last comes first)."""
        key = (regex, len(self.loaded))
        hit = self._matched_cache.get(key)
        if hit is None:
            seen: dict[str, str] = {}
            for name in reversed(self.loaded):
                if name.lower() not in seen and module_regex_matches(regex, name):
                    seen[name.lower()] = name
            hit = self._matched_cache[key] = list(seen.values())
        return hit

    def _module_refuses(self, st: Modparam, name: str, unknown: list[str]) -> bool:
        params = MODULE_PARAMS.get(name.lower())
        if params is None:
            unknown.append(name)
            return False
        ptype = params.get(st.param)
        wanted = {"str": "str", "int": "int"}.get(st.kind)
        if ptype is not None and (wanted is None or ptype == wanted):
            if name.lower() == "proto_tls" and st.param == "tls_port" and isinstance(st.value, int):
                self.glob.locs["tls_port"] = st.loc
            return False
        first = (f"parameter <{st.param}> not found in module <{name}>" if ptype is None else
                 f"type mismatch for parameter <{st.param}> in module <{name}>")
        second = self._parse_error(st)
        hint = None
        if ptype is None:
            close = difflib.get_close_matches(st.param, list(params), n=1, cutoff=0.75)
            hint = f"did you mean `{close[0]}`?" if close else (
                f"module {name} has no parameter {st.param}" if params else f"module {name} has no parameters")
            if st.module.lower() != name.lower():
                hint += (f"; the module name '{st.module}' is a regular expression: the parameter is set in "
                         f"every loaded module it matches ({', '.join(self._matched_modules(st.module))}), "
                         "and each must have it")
        else:
            hint = f"{name}'s {st.param} is {'a string' if ptype == 'str' else 'a number'}"
        self._diag("error", "unknown-param" if ptype is None else "type-mismatch", first, st.loc,
                   hint=f"{hint}; OpenSIPS then also logs '{second}'")
        self.diags[-1].extra["opensips_log"] = [first, second]
        return True

    def _warn_unknown_modules(self, st: Modparam, unknown: list[str]) -> None:
        if not unknown or _PLAIN_MODULE_NAME.fullmatch(st.module):
            return
        names = ", ".join(unknown)
        self._diag("warning", "modparam-unknown-module",
                   f"modparam module regex '{st.module}' also matches the loaded module(s) {names}, whose "
                   f"parameters tlsmgm does not know: whether they have <{st.param}> is not checked "
                   "(OpenSIPS does not start if one of them lacks it)", st.loc,
                   hint=f"name the module exactly, e.g. modparam(\"tls_mgm\", \"{st.param}\", ...)")

    # -- statements ------------------------------------------------------------------
    def run(self) -> DomainSet:
        for st in self.parsed.statements:
            if isinstance(st, Loadmodule):
                self.loaded.append(st.name)
            elif isinstance(st, Modparam):
                self._modparam(st)
            elif isinstance(st, Assign) and st.name.lower() in LEGACY_CORE_TLS:
                self._diag("error", "legacy-core-tls",
                           f"'{st.name}' is a core TLS setting of OpenSIPS 1.x; OpenSIPS 3.x does not "
                           "know it (syntax error)", st.loc,
                           hint="move TLS settings to modparam(\"tls_mgm\", ...) with [domain] prefixes")
        self._mod_init_checks()
        return DomainSet(
            server=list(reversed(self.servers)), client=list(reversed(self.clients)),
            globals=self.glob, diagnostics=self.diags, config=self.parsed, cfg_dir=self.cfg_dir,
            opensips_version=self.version, loaded_modules=list(self.loaded))

    def _modparam(self, st: Modparam) -> None:
        if _module_pattern(st.module) is None:
            self._modparam_fails(st, "modparam-bad-regex", "failed to compile regular expression",
                                 f"'{st.module}' is not a POSIX extended regular expression OpenSIPS can "
                                 "compile (it is matched as ^(NAME)$); write the module name as it is")
            return
        if not self.tls_mgm_everywhere:  # a fragment: no module list to check against
            if module_regex_matches(st.module, "tls_mgm"):
                if not self._fragment_warned:
                    self._fragment_warned = True
                    self._diag("warning", "no-loadmodule",
                               'tls_mgm is never loaded (no loadmodule "tls_mgm.so"); reading the file '
                               "as a config fragment", st.loc)
                self._tls_mgm_param(st)
            elif module_regex_matches(st.module, "proto_tls") and st.param == "tls_port" \
                    and isinstance(st.value, int):
                self.glob.locs["tls_port"] = st.loc
            return
        matched = self._matched_modules(st.module)
        if not matched:
            if module_regex_matches(st.module, "tls_mgm"):
                self._modparam_fails(st, "modparam-before-loadmodule", f"no module matching {st.module} found",
                                     'loadmodule "tls_mgm.so" must come before modparam("tls_mgm", ...)')
            else:
                loaded = ", ".join(dict.fromkeys(self.loaded)) or "none"
                self._modparam_fails(st, "modparam-no-module", f"no module matching {st.module} found",
                                     f"no module loaded above this line has that name (loaded: {loaded}): "
                                     "fix the name or put its loadmodule first")
            return
        unknown: list[str] = []
        for name in matched:  # set_mod_param_regex stops at the first module that fails
            if name.lower() == "tls_mgm":
                if not self._tls_mgm_param(st):
                    return
            elif self._module_refuses(st, name, unknown):
                return
        self._warn_unknown_modules(st, unknown)

    def _tls_mgm_param(self, st: Modparam) -> bool:
        """Set one tls_mgm parameter; False when OpenSIPS stops on it (reported)."""
        if st.param not in TLS_MGM_PARAMS:
            close = difflib.get_close_matches(st.param, sorted(TLS_MGM_PARAMS), n=1, cutoff=0.75)
            hint = ("the column parameter is spelled 'ciphers_list_col'" if st.param == "cipher_list_col"
                    else f"did you mean `{close[0]}`?" if close else None)
            second = self._parse_error(st)
            self._diag("error", "unknown-param",
                       f"parameter <{st.param}> not found in module <tls_mgm>", st.loc,
                       hint=(hint + "; " if hint else "") + f"OpenSIPS then also logs '{second}'")
            self.diags[-1].extra["opensips_log"] = [self.diags[-1].message, second]
            return False
        if st.kind != "str":
            if st.kind == "int":
                self._diag("error", "type-mismatch",
                           f"type mismatch for parameter <{st.param}> in module <tls_mgm>", st.loc,
                           hint=f'every tls_mgm parameter is a string: write "{st.raw}" in quotes'
                                if st.param not in PER_DOMAIN_PARAMS else
                                f'write modparam("tls_mgm", "{st.param}", "[domain]{st.raw}")')
            else:
                self._diag("error", "syntax",
                           f"syntax error: modparam value {st.raw!r} is neither a string nor a number",
                           st.loc, hint="an unexpanded macro? read the file through its preprocessor "
                                        "(--pp m4)")
            return False
        failures = self._setter_failures
        value = str(st.value)
        if st.param in ("server_domain", "client_domain"):
            self._declare(st, value)
        elif st.param in PER_DOMAIN_PARAMS:
            self._domain_param(st, value)
        else:
            self._global_param(st, value)
        return self._setter_failures == failures

    def _declare(self, st: Modparam, name: str) -> None:
        side = SERVER if st.param == "server_domain" else CLIENT
        pool = self.servers if side == SERVER else self.clients
        if name in self._by_name[side]:
            self._setter_failed(st, "duplicate-domain", f"Domain name: [{name}] already defined",
                                domain=name, side=side)
            return
        dom = TlsDomain(name=name, side=side, loc=st.loc, cfg_dir=self.cfg_dir,
                        opensips_version=self.version)
        pool.append(dom)
        self._by_name[side][name] = dom

    def _domain_param(self, st: Modparam, value: str) -> None:
        param = st.param
        try:
            name, val = split_param_val(value)
        except _DomainParamError as err:
            self._setter_failed(st, err.code, err.message, hint=err.hint)
            return
        dom = self._find(name)
        if dom is None:
            declared_later = any(
                isinstance(s, Modparam) and s.param in ("server_domain", "client_domain")
                and s.value == name and module_regex_matches(s.module, "tls_mgm")
                for s in self.parsed.statements)
            msg = (f"TLS domain [{name}] not defined" if param.startswith("match_")
                   else f"TLS domain [{name}] not defined in '{value}'")
            self._setter_failed(st, "undefined-domain", msg, domain=name,
                                hint=("the domain is declared later in the file: OpenSIPS needs the "
                                      "server_domain/client_domain line first") if declared_later else None)
            return
        try:
            if param == "match_ip_address":
                items = parse_match_ip_address(val)
                dom.addresses = list(reversed(items)) + (dom.addresses or [])
            elif param == "match_sip_domain":
                dom.sip_domains = list(reversed(split_csv(val))) + (dom.sip_domains or [])
            elif param in NUMERIC_PARAMS:
                n = str2int(val)
                if n is None:
                    raise _DomainParamError("not-a-number", "option is not a number")
                setattr(dom, param, n)
            elif param == "tls_method":
                dom.method = val
            else:
                setattr(dom, param, val)
        except AddressError as err:
            self._setter_failed(st, "bad-address", str(err), domain=dom.name, side=dom.side)
            return
        except _DomainParamError as err:
            self._setter_failed(st, err.code, err.message, domain=dom.name, side=dom.side,
                                hint=f"expected digits only, got {val!r}")
            return
        if param.startswith("match_"):
            dom.locs.setdefault(param, st.loc)  # lists accumulate: keep the first setting
        else:
            dom.locs[param] = st.loc  # scalars: the last setting wins

    def _global_param(self, st: Modparam, value: str) -> None:
        param = st.param
        self.glob.locs[param] = st.loc
        if param in COLUMN_PARAMS:
            self.glob.columns[param] = value
            if param == "crl_dir_col" and value != COLUMN_PARAMS[param]:
                self._diag("warning", "crl-dir-col-bug",
                           "OpenSIPS does not recompute the length of crl_dir_col: a name of another "
                           "length than 'crl_dir' is truncated or over-read (undefined behaviour)", st.loc)
            return
        if param == "tls_library":
            self.glob.tls_library = value
        elif param == "client_tls_domain_avp":
            self.glob.client_tls_domain_avp = value
        elif param == "client_sip_domain_avp":
            self.glob.client_sip_domain_avp = value
        elif param == "db_url":
            self.glob.db_url = value
        elif param == "db_table":
            self.glob.db_table = value

    # -- mod_init ----------------------------------------------------------------------
    def _mod_init_checks(self) -> None:
        g = self.glob
        loc = g.locs.get
        if g.tls_library not in TLS_LIBRARIES:
            self._diag("error", "bad-tls-library", "Bad value for tls_library module parameter",
                       loc("tls_library"), hint="one of: auto, none, openssl, wolfssl (case-sensitive)")
        else:
            self._library_checks()
        if g.db_url is not None:
            if "tls_domain=" in g.db_url:
                self._diag("error", "db-url-tls-domain",
                           "Cannot use a TLS connection to DB for the tls_mgm module itself", loc("db_url"))
            if g.db_table == "":
                self._diag("error", "empty-db-table", "empty db_table", loc("db_table"))
        for param in ("client_tls_domain_avp", "client_sip_domain_avp"):
            avp = getattr(g, param)
            if avp is None:
                continue
            if avp.strip() == "":
                self._diag("error", "bad-avp", f"cannot parse {param}", loc(param))
            elif avp.startswith("$"):
                self._diag("warning", "avp-literal-name",
                           f"{param} '{avp}' is taken as a bare AVP name: the script's $avp(...) is a "
                           "different AVP", loc(param),
                           hint=f"write the bare name, e.g. \"{avp[5:-1] if avp.startswith('$avp(') else avp}\"")
            elif avp[:2] in ("i:", "s:"):
                self._diag("warning", "avp-deprecated-prefix",
                           f"{param} '{avp}': the i:/s: AVP prefix is deprecated", loc(param))
        library = resolve_library(self.glob.tls_library, self.loaded)
        if library != "none":
            for dom in self.servers + self.clients:
                if dom.method is None:
                    continue
                try:
                    m = parse_method(dom.method, library)
                except MethodError as err:
                    self._diag("error", "unsupported-method", str(err), dom.where("tls_method"),
                               domain=dom.name, side=dom.side)
                    continue
                for w in m.warnings:
                    self._diag("warning", "method-sslv23-bound", w, dom.where("tls_method"),
                               domain=dom.name, side=dom.side)

    def _library_checks(self) -> None:
        if not self.tls_mgm_everywhere:
            return  # a fragment: nothing to say about modules loaded elsewhere
        loaded = {m.lower() for m in self.loaded}
        lib = self.glob.tls_library
        have_o, have_w = "tls_openssl" in loaded, "tls_wolfssl" in loaded
        where = self.glob.locs.get("tls_library") or self._loadmodule_loc("tls_mgm")
        if lib == "auto":
            if have_o and have_w:
                self._diag("error", "tls-library-multiple", "Multiple TLS library modules loaded", where)
            elif not have_o and not have_w:
                self._diag("error", "tls-library-none",
                           "No TLS library module loaded", where,
                           hint='add loadmodule "tls_openssl.so" (or "tls_wolfssl.so") before tls_mgm')
        elif lib in ("openssl", "wolfssl") and f"tls_{lib}" not in loaded:
            self._diag("error", "tls-library-missing",
                       f"Configured to use {lib} but 'tls_{lib}' module not loaded!", where)

    def _loadmodule_loc(self, name: str) -> Loc | None:
        for st in self.parsed.statements:
            if isinstance(st, Loadmodule) and st.name.lower() == name:
                return st.loc
        return None


def build_domains(parsed: ParsedConfig, *, cfg_dir: str = "/etc/opensips/",
                  opensips_version: tuple[int, int, int] = (3, 6, 8)) -> DomainSet:
    """Script-defined domains of a parsed config, in OpenSIPS list order, with diagnostics."""
    builder = DomainBuilder(parsed, cfg_dir=cfg_dir, opensips_version=opensips_version)
    return builder.run()


def resolve_library(tls_library: str, loaded_modules: list[str]) -> str:
    """'openssl' | 'wolfssl' | 'none': the TLS library OpenSIPS would use (auto resolved
    from the loaded modules; an invalid value is reported elsewhere and read as openssl)."""
    if tls_library == "auto":
        loaded = {m.lower() for m in loaded_modules}
        return "wolfssl" if "tls_wolfssl" in loaded and "tls_openssl" not in loaded else "openssl"
    return tls_library if tls_library in TLS_LIBRARIES else "openssl"


def effective_library(domset: DomainSet) -> str:
    return resolve_library(domset.globals.tls_library, domset.loaded_modules)
