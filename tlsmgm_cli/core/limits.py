"""Every size limit and timeout of tlsmgm, in one place (the README's "Limits" table is
generated from ``LIMITS``; a test keeps the two equal).

A limit that is hit ends the step with a one-line error naming the limit.
"""

from __future__ import annotations

MiB = 1024 * 1024

#: opensips.cfg and each included file, and the preprocessor's output
CONFIG_MAX_BYTES = 64 * MiB
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
#: connecting to a database server, seconds
DB_CONNECT_TIMEOUT_S = 5.0
#: waiting for a row or table lock in a database, seconds
DB_LOCK_TIMEOUT_S = 10.0
#: a whole MI request (connect, send, receive), seconds, unless --timeout says otherwise
MI_TIMEOUT_S = 10.0
#: RSA key sizes `gen` accepts
RSA_BITS_MIN = 1024
RSA_BITS_MAX = 16384

LIMITS: list[tuple[str, str]] = [
    ("config file, each include, preprocessor output", f"{CONFIG_MAX_BYTES // MiB} MiB"),
    ("certificate / key / CA / CRL / DH file", f"{PKI_FILE_MAX_BYTES // MiB} MiB, regular files only"),
    ("settings file (.tlsmgm.yaml, opensips-cli.cfg, nodes file)", f"{SETTINGS_MAX_BYTES // MiB} MiB"),
    ("one `match --batch` input line", f"{BATCH_LINE_MAX_BYTES // 1024} KiB"),
    ("MI reply", f"{MI_REPLY_MAX_BYTES // MiB} MiB"),
    ("preprocessor (--pp) run", f"{PREPROCESSOR_TIMEOUT_S:g} s"),
    ("database connect", f"{DB_CONNECT_TIMEOUT_S:g} s"),
    ("database lock wait", f"{DB_LOCK_TIMEOUT_S:g} s"),
    ("MI request (whole request; --timeout)", f"{MI_TIMEOUT_S:g} s"),
    ("`gen --rsa` key size", f"{RSA_BITS_MIN}-{RSA_BITS_MAX} bits"),
]
