"""Every size limit and timeout of tlsmgm, in one place (the README's "Limits" table is
generated from ``LIMITS``; a test keeps the two equal).

A limit that is hit ends the step with a one-line error naming the limit.
"""

from __future__ import annotations

MiB = 1024 * 1024

#: opensips.cfg and each included file, and the preprocessor's output
CONFIG_MAX_BYTES = 64 * MiB
#: include_file / import_file directives followed in one config (a file may be included
#: more than once, so a few small files that include each other twice grow exponentially)
INCLUDES_MAX = 10_000
#: certificate, key, CA, CRL and DH files (one file; a CA bundle included)
PKI_FILE_MAX_BYTES = 32 * MiB
#: settings files (.tlsmgm.yaml, ~/.opensips-cli.cfg, nodes files)
SETTINGS_MAX_BYTES = 1 * MiB
#: one line of `match --batch` input
BATCH_LINE_MAX_BYTES = 64 * 1024
#: an MI reply
MI_REPLY_MAX_BYTES = 64 * MiB
#: an external preprocessor (--pp) run, seconds
PREPROCESSOR_TIMEOUT_S = 60.0
#: resolving the host name of a TLS listener (socket=tls:HOST:PORT), seconds
RESOLVE_TIMEOUT_S = 5.0
#: one DNS query (NAPTR, SRV, A or AAAA) when resolving a SIP destination, seconds
DNS_TIMEOUT_S = 5.0
#: all the DNS queries of resolving one SIP destination, together, seconds
DNS_TOTAL_TIMEOUT_S = 30.0
#: DNS queries made to resolve one SIP destination (NAPTR/SRV fan-out of a hostile zone)
DNS_MAX_QUERIES = 200
#: connecting to a database server, seconds
DB_CONNECT_TIMEOUT_S = 5.0
#: waiting for a row or table lock in a database, seconds
DB_LOCK_TIMEOUT_S = 10.0
#: one database statement (PostgreSQL statement_timeout; a MySQL reply), seconds
DB_STATEMENT_TIMEOUT_S = 120.0
#: a whole MI request (connect, send, receive), seconds, unless --timeout says otherwise
MI_TIMEOUT_S = 5.0
#: `probe`: one handshake (connect + TLS), seconds, unless --handshake-timeout says otherwise
PROBE_HANDSHAKE_TIMEOUT_S = 5.0
#: `probe`: the whole run, seconds, unless --timeout says otherwise
PROBE_TOTAL_TIMEOUT_S = 30.0
#: `inspect HOST:PORT`: fetching the live chain (connect + TLS), seconds, unless --timeout says otherwise
INSPECT_LIVE_TIMEOUT_S = 10.0
#: `probe`: handshakes planned in one run
PROBE_MAX_CASES = 100_000
#: RSA key sizes `gen` accepts
RSA_BITS_MIN = 1024
RSA_BITS_MAX = 16384
#: the longest validity `gen --days` accepts (1000 years: notAfter stays a valid date)
GEN_DAYS_MAX = 365_250

#: every seconds option (--timeout, --handshake-timeout): finite, positive, at most a day
SECONDS_MAX = 86400.0
#: `handshake --sip-options`: replies read before the final one, and bytes in all
SIP_PROVISIONAL_MAX = 100
SIP_READ_LIMIT = 65536

LIMITS: list[tuple[str, str]] = [
    ("config file, each include, preprocessor output", f"{CONFIG_MAX_BYTES // MiB} MiB"),
    ("includes followed in one config (all files, repeats counted)", f"{INCLUDES_MAX:,}"),
    ("certificate / key / CA / CRL / DH file", f"{PKI_FILE_MAX_BYTES // MiB} MiB, regular files only"),
    ("settings file (.tlsmgm.yaml, opensips-cli.cfg, nodes file)", f"{SETTINGS_MAX_BYTES // MiB} MiB"),
    ("one `match --batch` input line", f"{BATCH_LINE_MAX_BYTES // 1024} KiB"),
    ("MI reply", f"{MI_REPLY_MAX_BYTES // MiB} MiB"),
    ("preprocessor (--pp) run", f"{PREPROCESSOR_TIMEOUT_S:g} s"),
    ("host name of a TLS listener (resolving)", f"{RESOLVE_TIMEOUT_S:g} s"),
    ("SIP destination: one DNS query", f"{DNS_TIMEOUT_S:g} s"),
    ("SIP destination: all its DNS queries", f"{DNS_TOTAL_TIMEOUT_S:g} s, at most {DNS_MAX_QUERIES} queries"),
    ("database connect", f"{DB_CONNECT_TIMEOUT_S:g} s"),
    ("database lock wait", f"{DB_LOCK_TIMEOUT_S:g} s"),
    ("one database statement", f"{DB_STATEMENT_TIMEOUT_S:g} s"),
    ("MI request (whole request; --timeout)", f"{MI_TIMEOUT_S:g} s"),
    ("`probe`: one handshake (--handshake-timeout)", f"{PROBE_HANDSHAKE_TIMEOUT_S:g} s"),
    ("`probe`: whole run (--timeout)", f"{PROBE_TOTAL_TIMEOUT_S:g} s"),
    ("`inspect HOST:PORT`: fetching the chain (--timeout)", f"{INSPECT_LIVE_TIMEOUT_S:g} s"),
    ("`probe`: handshakes in one run", f"{PROBE_MAX_CASES:,}"),
    ("any seconds option (--timeout, --handshake-timeout)", f"finite, above 0, at most {SECONDS_MAX:g} s"),
    ("`handshake --sip-options`: replies before the final one", f"{SIP_PROVISIONAL_MAX} replies, "
                                                                 f"{SIP_READ_LIMIT // 1024} KiB in all"),
    ("`gen --rsa` key size", f"{RSA_BITS_MIN}-{RSA_BITS_MAX} bits"),
    ("`gen --days` validity", f"1-{GEN_DAYS_MAX} days"),
]
