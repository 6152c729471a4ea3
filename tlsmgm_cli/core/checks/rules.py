"""The catalogue of ``tlsmgm check`` rules: stable IDs, severities, titles and hints.

IDs never change meaning once released; a retired rule keeps its number. Ranges:

* ``TLS0xx`` config: the config reader, tls_mgm modparams, tls_method, library and
  module load order, DB rows (behaviour §1, §2, §6.1, §6.2, §8, §9.1, §9.2);
* ``TLS1xx`` reachability: listeners and the domain matcher (behaviour §1.6, §4);
* ``TLS2xx`` files: certificate, key, CA and CRL files and directories (behaviour §6.5, §6.6, §6.7);
* ``TLS3xx`` certificates: chain, validity, key strength, EKU, SAN coverage;
* ``TLS4xx`` crypto settings: ciphers_list, dh_params, ec_curve.

``DIAGNOSTIC_RULES`` maps the codes of the reader/model diagnostics (``core.errors.
Diagnostic.code``) to rules; a code not listed there becomes a finding of ``TLS099``
(never dropped).
"""

from __future__ import annotations

from dataclasses import dataclass

ERROR, WARNING, NOTE = "error", "warning", "note"
SEVERITY_ORDER = {ERROR: 0, WARNING: 1, NOTE: 2}


@dataclass(frozen=True, slots=True)
class Rule:
    """One check. ``severity`` is the default; a finding may carry its own (e.g. a reader
    diagnostic that is only a warning in m4 mode). ``openssl`` is the equivalent command,
    with CAPITALISED placeholders (CERT, KEY, ...), when there is one."""

    id: str
    severity: str
    title: str
    hint: str
    category: str
    openssl: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {"id": self.id, "severity": self.severity, "category": self.category,
                "title": self.title, "hint": self.hint, "openssl": self.openssl}


def _r(id: str, severity: str, category: str, title: str, hint: str, openssl: str | None = None) -> Rule:
    return Rule(id, severity, title, hint, category, openssl)


_CFG, _REACH, _FILES, _CERTS, _CRYPTO = "config", "reachability", "files", "certificates", "crypto"

_ALL = [
    # -- config reader ------------------------------------------------------------------
    _r("TLS001", ERROR, _CFG, "config syntax error",
       "OpenSIPS refuses to start on a syntax error; fix the statement at this line"),
    _r("TLS002", ERROR, _CFG, "include_file/import_file cannot be followed",
       "a missing, unreadable or looping include is fatal; fix the path (relative paths are tried "
       "against the CWD, then the including file's directory)"),
    _r("TLS003", ERROR, _CFG, "unterminated string or comment",
       "close the string or the /* */ comment (comments nest)"),
    _r("TLS004", ERROR, _CFG, "config file is not text",
       "a binary or badly encoded file: check that the right file is named"),
    _r("TLS005", WARNING, _CFG, "unexpanded template or preprocessor problem",
       "render the template (m4, cpp, envsubst...) or pass --pp CMD so the checked text is what "
       "OpenSIPS reads"),
    _r("TLS006", WARNING, _CFG, "construct from another SIP server or deprecated syntax",
       "Kamailio '#!' directives are plain comments in OpenSIPS; 'listen' is deprecated, use 'socket'"),
    _r("TLS007", NOTE, _CFG, "part of the config was not analysed",
       "tlsmgm skipped this construct; results may be incomplete"),
    _r("TLS008", ERROR, _CFG, "modparam for a module that is not loaded",
       "OpenSIPS stops with 'no module matching NAME found': load the module above the modparam, "
       "or fix its name"),
    _r("TLS009", ERROR, _CFG, "modparam module name is not a valid regular expression",
       "OpenSIPS matches the module argument as the POSIX regex ^(NAME)$ and stops when it does not "
       "compile: write the module name as it is"),
    # -- tls_mgm modparams (behaviour §1.8, §2, §9.1) -----------------------------------------
    _r("TLS010", ERROR, _CFG, "modparam(\"tls_mgm\") before loadmodule \"tls_mgm.so\"",
       "move loadmodule \"tls_mgm.so\" above every modparam(\"tls_mgm\", ...)"),
    _r("TLS011", WARNING, _CFG, "tls_mgm is never loaded",
       "the file looks like a fragment; check the whole config, or add loadmodule \"tls_mgm.so\""),
    _r("TLS012", ERROR, _CFG, "unknown tls_mgm parameter",
       "OpenSIPS aborts with 'parameter <x> not found in module <tls_mgm>'; check the spelling"),
    _r("TLS013", ERROR, _CFG, "cipher_list_col is misspelled (ciphers_list_col)",
       "the tls_mgm README documents cipher_list_col, but the module exports ciphers_list_col"),
    _r("TLS014", ERROR, _CFG, "tls_mgm parameter given as a number",
       "every tls_mgm parameter is a string: quote the value"),
    _r("TLS015", ERROR, _CFG, "OpenSIPS 1.x core TLS setting (pre-3.0 syntax)",
       "OpenSIPS 3.x has no core TLS keywords; use modparam(\"tls_mgm\", ...) with [domain] prefixes"),
    _r("TLS016", ERROR, _CFG, "per-domain parameter without [domain] prefix (pre-3.0 syntax)",
       "OpenSIPS 3.x needs modparam(\"tls_mgm\", \"param\", \"[domain]value\")"),
    _r("TLS017", ERROR, _CFG, "[domain] prefix without closing ']'",
       "write the value as \"[domain]value\""),
    _r("TLS018", ERROR, _CFG, "empty [] domain name", "put the domain name between the brackets"),
    _r("TLS019", ERROR, _CFG, "empty value after the [domain] prefix", "give a value after ']'"),
    _r("TLS020", ERROR, _CFG, "parameter for an undefined TLS domain",
       "declare the domain with server_domain/client_domain before its parameters (names are "
       "case-sensitive)"),
    _r("TLS021", ERROR, _CFG, "TLS domain declared twice", "use a distinct name for each domain of one side"),
    _r("TLS022", ERROR, _CFG, "invalid match_ip_address",
       "each item must be IP:port (IPv4 without leading zeros, IPv6 in brackets), or '*'"),
    _r("TLS023", ERROR, _CFG, "verify_cert/require_cert/crl_check_all is not a number",
       "digits only, no spaces: \"[dom]1\""),
    _r("TLS024", WARNING, _CFG, "crl_dir_col set (OpenSIPS length bug)",
       "OpenSIPS does not recompute the length of crl_dir_col; keep the default column name 'crl_dir'"),
    _r("TLS025", ERROR, _CFG, "invalid tls_library",
       "one of auto, none, openssl, wolfssl (exact, case-sensitive)"),
    _r("TLS026", ERROR, _CFG, "tls_library does not match the loaded TLS library modules",
       "load exactly one of tls_openssl/tls_wolfssl, or the one tls_library names"),
    _r("TLS027", ERROR, _CFG, "invalid db_url/db_table for tls_mgm",
       "tls_mgm cannot reach its own table over a TLS DB connection, and db_table cannot be empty"),
    _r("TLS028", ERROR, _CFG, "empty client_tls_domain_avp/client_sip_domain_avp",
       "OpenSIPS aborts with 'cannot parse'; give an AVP name or drop the parameter"),
    _r("TLS029", WARNING, _CFG, "AVP parameter written like a script variable",
       "give the bare AVP name (e.g. tls_dom, not $avp(tls_dom)); i:/s: prefixes are deprecated"),
    _r("TLS030", ERROR, _CFG, "tls_method rejected", "OpenSIPS aborts with 'unsupported method [...]'; "
       "use SSLv23, TLSv1, TLSv1_2, TLSv1_3 or a range like TLSv1_2-TLSv1_3 (there is no TLSv1_1)"),
    _r("TLS031", WARNING, _CFG, "tls_method is read differently than written",
       "tls_method matches a case-insensitive prefix of the names: write the full name"),
    _r("TLS032", ERROR, _CFG, "tls_method range is reversed",
       "OpenSIPS accepts it, but every handshake fails; put the lower version first"),
    _r("TLS033", WARNING, _CFG, "TLS 1.0/1.1 can be negotiated",
       "use TLSv1_2-TLSv1_3 (SSLv23 leaves the versions to the system OpenSSL policy)"),
    _r("TLS034", NOTE, _CFG, "tls_method not in canonical spelling",
       "OpenSIPS accepts it (case-insensitive); the canonical names are SSLv23, TLSv1, TLSv1_2, TLSv1_3"),
    _r("TLS035", WARNING, _CFG, "SSLv23 used as a range bound",
       "with SSLv23 as the low bound the high bound is ignored; use TLSv1_2-TLSv1_3"),
    _r("TLS036", WARNING, _CFG, "tls_openssl loaded after a module that links OpenSSL",
       "load tls_openssl and tls_mgm before db_mysql, db_postgres, rest_client, http modules..., or "
       "tls_openssl fails with 'please make sure you are loading tls_mgm module at the very beginning'"),
    _r("TLS037", NOTE, _CFG, "module file not found in mpath",
       "configs are often checked away from the SIP server; make sure the module is installed there"),
    _r("TLS038", ERROR, _CFG, "more than 64 patterns on one address key",
       "OpenSIPS aborts with 'Too many domain filters per address'; split the domains over addresses"),
    _r("TLS039", NOTE, _CFG, "tls_library=none: TLS files are never opened",
       "fine for modules that only borrow domains (db_mysql...); proto_tls cannot work in this mode"),
    # -- DB ----------------------------------------------------------------------------------
    _r("TLS040", ERROR, _CFG, "tls_mgm table cannot be used",
       "a wrong table version or a failing query aborts OpenSIPS at startup"),
    _r("TLS041", WARNING, _CFG, "DB row rejected or skipped",
       "OpenSIPS drops this row with an error at startup or tls_reload; fix the row"),
    _r("TLS042", ERROR, _CFG, "DB row half added (OpenSIPS exits)",
       "an empty or unparsable match_ip_address makes the whole server exit at startup"),
    _r("TLS043", WARNING, _CFG, "file path stored in a DB blob column",
       "DB certificate/private_key/ca_list/dh_params columns hold PEM content, not paths"),
    _r("TLS044", NOTE, _CFG, "DB blob content that OpenSIPS ignores or may truncate",
       "OpenSIPS ignores that part of the blob without failing: fix the row if it should count "
       "(PEM content, within the column's size)"),
    _r("TLS045", WARNING, _CFG, "DB row method not understood", "use SSLv23, TLSv1, TLSv1_2, TLSv1_3 or a LOW-HIGH range of them"),
    _r("TLS046", NOTE, _CFG, "DB row detail", "informational"),
    _r("TLS047", WARNING, _CFG, "config's db_url cannot be reached: DB domains not checked",
       "only the script domains were checked; run where the DB is reachable, pass --db URL (a "
       "reachable copy of the table), or --no-db to skip the DB on purpose"),
    _r("TLS048", ERROR, _CFG, "DB named with --db cannot be read",
       "check the URL given with --db (or TLSMGM_DB); the DB-defined domains were not checked"),
    _r("TLS049", WARNING, _CFG, "TLS listener host name that does not resolve here",
       "OpenSIPS does not start when it cannot resolve a listener; write its IP address, or run tlsmgm "
       "where the name resolves as on the server"),
    _r("TLS099", WARNING, _CFG, "other config diagnostic", "see the message"),
    # -- reachability ---------------------------------------------------------------------------
    _r("TLS100", WARNING, _REACH, "shadowed (address, pattern) pair",
       "an earlier domain in OpenSIPS's list already owns this pair; this domain never gets it"),
    _r("TLS101", WARNING, _REACH, "'*'-address domain hidden on a listener",
       "a domain with this listener's exact address exists, so '*'-address domains are never "
       "considered there (no fallback, even when no pattern matches)"),
    _r("TLS102", ERROR, _REACH, "TLS listener that no server domain covers",
       "clients connect and hang: OpenSIPS logs 'no TLS server domain found' and never answers"),
    _r("TLS103", WARNING, _REACH, "clients without SNI are rejected on a listener",
       "add a domain with match_sip_domain 'none' (or '*') for this address; OpenSIPS itself and "
       "many SIP phones send no SNI"),
    _r("TLS104", WARNING, _REACH, "SNI domain's tls_method differs from the listener's initial domain",
       "the initial (address-selected) domain's tls_method governs the handshake; give both the same "
       "tls_method"),
    _r("TLS105", WARNING, _REACH, "match_ip_address matches no listener",
       "no socket=tls: has this address; the filter is dead (check IP, port and tls_port)"),
    _r("TLS106", WARNING, _REACH, "domain never selected", "every pattern of this domain is shadowed "
       "or hidden; remove it or change its filters"),
    # -- files ---------------------------------------------------------------------------------
    _r("TLS200", ERROR, _FILES, "certificate file cannot be loaded",
       "OpenSIPS aborts with 'unable to load certificate file'; check the path and its PEM content",
       "openssl x509 -in CERT -noout -subject"),
    _r("TLS201", ERROR, _FILES, "default certificate/key file (CFG_DIR/tls/) missing",
       "a server domain without 'certificate' uses CFG_DIR/tls/cert.pem and ckey.pem; set "
       "certificate and private_key explicitly"),
    _r("TLS202", ERROR, _FILES, "private key file cannot be loaded",
       "OpenSIPS aborts with 'unable to load private key file'", "openssl pkey -in KEY -noout"),
    _r("TLS203", ERROR, _FILES, "private key does not match the certificate",
       "OpenSIPS 3.6.8 aborts with 'unable to load private key file' (seen on a live server): the key is not "
       "the certificate's; configure the key that belongs to it",
       "openssl x509 -in CERT -noout -pubkey | openssl sha256; openssl pkey -in KEY -pubout | openssl sha256"),
    _r("TLS204", ERROR, _FILES, "private key is encrypted",
       "OpenSIPS would prompt for the passphrase on the console at startup; decrypt the key "
       "(openssl pkey -in KEY -out KEY.plain) and protect it with file permissions",
       "openssl pkey -in KEY -noout"),
    _r("TLS205", WARNING, _FILES, "private key readable by group or others",
       "chmod 600 the key file (owner: the OpenSIPS user)", "stat -c %a KEY"),
    _r("TLS206", ERROR, _FILES, "private key without certificate",
       "SSL_CTX_check_private_key fails on a client domain with a key but no certificate"),
    _r("TLS207", ERROR, _FILES, "ca_list cannot be loaded",
       "OpenSIPS aborts with \"unable to load ca '...'\"; the file must hold PEM certificates",
       "openssl crl2pkcs7 -nocrl -certfile CA | openssl pkcs7 -print_certs -noout"),
    _r("TLS208", WARNING, _FILES, "ca_dir missing or not a usable hashed directory",
       "OpenSSL finds CAs in a directory only through <hash>.N links; run c_rehash/openssl rehash",
       "openssl rehash -v DIR"),
    _r("TLS209", ERROR, _FILES, "crl_dir cannot be opened",
       "OpenSIPS aborts with 'Unable to open crl directory'"),
    _r("TLS210", WARNING, _FILES, "crl_dir holds no usable CRL (CRL checking off)",
       "OpenSIPS logs 'No suitable CRL files found' and does not check revocation; it reads only "
       "regular PEM CRL files (symlinks are skipped)", "openssl crl -in FILE -noout -issuer"),
    _r("TLS211", ERROR, _FILES, "CRL past nextUpdate (or not yet valid)",
       "every verification that needs this CRL fails with 'CRL has expired'; publish a fresh CRL",
       "openssl crl -in FILE -noout -lastupdate -nextupdate"),
    _r("TLS212", WARNING, _FILES, "relative file path",
       "OpenSIPS resolves relative paths against its working directory, '/' by default (not the "
       "config's directory); use absolute paths"),
    _r("TLS213", NOTE, _FILES, "crl_dir entry that OpenSIPS ignores",
       "only regular files holding PEM CRLs are loaded"),
    # -- certificates --------------------------------------------------------------------------
    _r("TLS300", WARNING, _CERTS, "certificate chain does not verify",
       "include the intermediates in the certificate file and the root in ca_list/ca_dir",
       "openssl verify -CAfile CA -untrusted CERT CERT"),
    _r("TLS301", ERROR, _CERTS, "certificate expired",
       "renew the certificate", "openssl x509 -in CERT -noout -enddate"),
    _r("TLS302", WARNING, _CERTS, "certificate expires soon",
       "renew before it expires", "openssl x509 -in CERT -noout -enddate -checkend SECONDS"),
    _r("TLS303", ERROR, _CERTS, "certificate not yet valid",
       "check the notBefore date and the clock", "openssl x509 -in CERT -noout -startdate"),
    _r("TLS304", WARNING, _CERTS, "RSA key shorter than 2048 bits",
       "OpenSSL's default security level rejects it on many systems; use RSA 2048+ or EC P-256",
       "openssl x509 -in CERT -noout -text | grep 'Public-Key'"),
    _r("TLS305", WARNING, _CERTS, "weak signature algorithm (SHA-1/MD5)",
       "reissue the certificate with SHA-256", "openssl x509 -in CERT -noout -text | grep 'Signature Algorithm'"),
    _r("TLS306", WARNING, _CERTS, "extended key usage does not fit the domain's side",
       "a server domain's certificate needs serverAuth, a client domain's clientAuth",
       "openssl x509 -in CERT -noout -ext extendedKeyUsage"),
    _r("TLS307", WARNING, _CERTS, "certificate does not cover a match_sip_domain pattern",
       "add the name to the certificate's subjectAltName (RFC 6125: one leftmost '*' label)",
       "openssl x509 -in CERT -noout -ext subjectAltName"),
    _r("TLS308", NOTE, _CERTS, "match_sip_domain pattern no certificate wildcard can cover",
       "fnmatch '*' spans dots and may sit mid-label; certificate wildcards cover exactly one leftmost "
       "label, so some matched names get a certificate that does not fit"),
    # -- crypto settings -------------------------------------------------------------------------
    _r("TLS400", ERROR, _CRYPTO, "ciphers_list selects no cipher",
       "OpenSIPS aborts with \"failure to set SSL context cipher list '...'\"; test the string with "
       "openssl ciphers", "openssl ciphers -v 'LIST'"),
    _r("TLS401", WARNING, _CRYPTO, "ciphers_list allows weak cipher suites",
       "exclude NULL, EXPORT, RC4, DES/3DES, MD5 and anonymous suites (e.g. append :!aNULL:!eNULL:!3DES)",
       "openssl ciphers -v 'LIST'"),
    _r("TLS402", NOTE, _CRYPTO, "ciphers_list item that selects nothing",
       "OpenSSL silently ignores unknown items; TLS 1.3 suites cannot be set through ciphers_list",
       "openssl ciphers -v 'ITEM'"),
    _r("TLS403", ERROR, _CRYPTO, "dh_params cannot be loaded",
       "OpenSIPS aborts with 'unable to open dh params file' / 'unable to read dh params'",
       "openssl dhparam -in FILE -noout -text"),
    _r("TLS404", WARNING, _CRYPTO, "DH parameters shorter than 2048 bits",
       "generate new ones: openssl dhparam -out dh.pem 2048", "openssl dhparam -in FILE -noout -text"),
    _r("TLS405", ERROR, _CRYPTO, "ec_curve unknown to OpenSSL",
       "OpenSIPS aborts with 'unable to find the EC curve'; use a name of openssl ecparam -list_curves",
       "openssl ecparam -list_curves"),
    _r("TLS406", ERROR, _CRYPTO, "ec_curve is not an EC group",
       "OpenSIPS aborts with 'unable to create EC curve' (X25519/X448 are not EC groups for "
       "SSL_CTX_set_tmp_ecdh); use prime256v1 or secp384r1", "openssl ecparam -list_curves"),
    _r("TLS407", ERROR, _CRYPTO, "tls_method range cannot complete any handshake under the local OpenSSL policy",
       "every handshake of the domain fails (alert internal_error/handshake_failure): allow TLS 1.2 (e.g. "
       "tls_method TLSv1_2-TLSv1_3 or TLSv1-TLSv1_3), or, if TLS 1.0/1.1 peers truly must be served, lower "
       "the security level with ciphers_list 'DEFAULT:@SECLEVEL=0'; checked against the OpenSSL tlsmgm runs "
       "with (the one OpenSIPS links may be configured differently)"),
]

RULES: dict[str, Rule] = {rule.id: rule for rule in _ALL}
GENERIC_RULE = "TLS099"

# reader/model diagnostic code -> rule id
DIAGNOSTIC_RULES: dict[str, str] = {
    "syntax": "TLS001",
    "include-missing": "TLS002", "include-loop": "TLS002", "include-depth": "TLS002",
    "include-unreadable": "TLS002", "include-too-large": "TLS002", "include-too-many": "TLS002",
    "unterminated-string": "TLS003", "unterminated-comment": "TLS003",
    "binary-file": "TLS004", "invalid-utf8": "TLS004",
    "template-placeholder": "TLS005", "m4-template": "TLS005", "preprocessor-failed": "TLS005",
    "kamailio-directive": "TLS006", "listen-deprecated": "TLS006",
    "socket-bond": "TLS007", "include-skipped": "TLS007",
    "modparam-no-module": "TLS008", "modparam-bad-regex": "TLS009",
    "modparam-before-loadmodule": "TLS010", "no-loadmodule": "TLS011",
    "unknown-param": "TLS012", "type-mismatch": "TLS014", "legacy-core-tls": "TLS015",
    "no-domain-name": "TLS016", "bad-domain-name": "TLS017", "empty-domain-name": "TLS018",
    "empty-value": "TLS019", "undefined-domain": "TLS020", "duplicate-domain": "TLS021",
    "bad-address": "TLS022", "not-a-number": "TLS023", "crl-dir-col-bug": "TLS024",
    "bad-tls-library": "TLS025", "tls-library-multiple": "TLS026", "tls-library-none": "TLS026",
    "tls-library-missing": "TLS026", "db-url-tls-domain": "TLS027", "empty-db-table": "TLS027",
    "bad-avp": "TLS028", "avp-literal-name": "TLS029", "avp-deprecated-prefix": "TLS029",
    "unsupported-method": "TLS030", "method-sslv23-bound": "TLS035",
    "too-many-filters": "TLS038",
    "db-table-version": "TLS040", "db-query-failed": "TLS040",
    "db-row-skipped": "TLS041", "db-half-added-row": "TLS042", "db-path-in-blob": "TLS043",
    "db-extra-certs-ignored": "TLS044", "db-blob-near-limit": "TLS044", "db-bad-method": "TLS045",
    "db-unreachable": "TLS047", "db-named-unreachable": "TLS048", "socket-unresolved": "TLS049",
}
# Rules whose error findings stop OpenSIPS at startup when they concern a script domain or
# the config itself (behaviour §9.1, §9.2); DB domains that fail
# are skipped instead (TLS041). A reader/model diagnostic of severity error stops it too,
# except the codes of NOT_STARTUP_CODES.
STOPS_START_RULES = frozenset((
    "TLS001", "TLS002", "TLS003", "TLS004", "TLS008", "TLS009", "TLS010", "TLS012", "TLS013", "TLS014", "TLS015",
    "TLS016", "TLS017", "TLS018", "TLS019", "TLS020", "TLS021", "TLS022", "TLS023", "TLS025",
    "TLS026", "TLS027", "TLS028", "TLS030", "TLS038", "TLS040", "TLS042",
    "TLS200", "TLS201", "TLS202", "TLS203", "TLS204", "TLS206", "TLS207", "TLS209",
    "TLS400", "TLS403", "TLS405", "TLS406",
))
# diagnostics of severity error that say nothing about OpenSIPS's start (tlsmgm could not read something)
NOT_STARTUP_CODES = frozenset(("db-named-unreachable", "preprocessor-failed"))
# prefixes for codes not listed above (checked in order)
DIAGNOSTIC_PREFIX_RULES = (("db-row-", "TLS041"), ("db-", "TLS046"), ("include-", "TLS002"))


def rule_for_code(code: str, message: str = "") -> str:
    """The rule a reader/model diagnostic code maps to (``GENERIC_RULE`` when unknown)."""
    if code == "unknown-param" and "<cipher_list_col>" in message:
        return "TLS013"
    if code in DIAGNOSTIC_RULES:
        return DIAGNOSTIC_RULES[code]
    for prefix, rule in DIAGNOSTIC_PREFIX_RULES:
        if code.startswith(prefix):
            return rule
    return GENERIC_RULE


def expand_rule_selection(items: list[str] | tuple[str, ...] | None) -> set[str] | None:
    """``["TLS2", "TLS301"]`` -> the matching rule ids (a prefix selects every rule it
    starts); ``None``/empty -> None. Raises ValueError naming an item that matches nothing."""
    if not items:
        return None
    chosen: set[str] = set()
    for raw in items:
        for item in (p.strip().upper() for p in raw.split(",")):
            if not item:
                continue
            matched = {rid for rid in RULES if rid.startswith(item)}
            if not matched:
                raise ValueError(f"unknown rule {item!r} (see tlsmgm check --list-rules)")
            chosen |= matched
    return chosen
