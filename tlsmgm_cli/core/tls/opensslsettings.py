"""What the local OpenSSL (stdlib ``ssl``) makes of a domain's ``ciphers_list`` and
``ec_curve``, the way tls_openssl sets them (behaviour §6.8, §6.10); used by ``check``, by the DB
init simulation (``core.db.tlsinit``) and by the SSL contexts of ``handshake``/``serve``
(``core.tls.context``).
"""

from __future__ import annotations

import functools
import re
import ssl
from typing import cast

CURVE_UNKNOWN, CURVE_NOT_EC = "unknown", "not-ec"
# OpenSIPS's words for each curve problem
CURVE_MESSAGES = {CURVE_UNKNOWN: "unable to find the EC curve", CURVE_NOT_EC: "unable to create EC curve"}
CIPHER_LIST_MESSAGE = "failure to set SSL context cipher list"
_OID = re.compile(r"^\d+(\.\d+)+$")
# groups OpenSSL 3 knows (set1_groups accepts them) that are no EC curve
_NON_EC_GROUPS = frozenset(("X25519", "X448", "ffdhe2048", "ffdhe3072", "ffdhe4096", "ffdhe6144", "ffdhe8192"))
_NON_EC_OIDS = frozenset(("1.3.101.110", "1.3.101.111"))  # X25519, X448
_OPENSSL_SHORT_NAMES = {"secp256r1": "prime256v1", "secp192r1": "prime192v1"}


def apply_cipher_list(ctx: ssl.SSLContext, text: str) -> bool:
    """``SSL_CTX_set_cipher_list``: False when ``text`` selects no cipher."""
    try:
        ctx.set_ciphers(text)
    except ssl.SSLError:
        return False
    return True


@functools.lru_cache(maxsize=256)
def cipher_list_ok(text: str) -> bool:
    """Whether ``text`` selects at least one cipher (OpenSIPS's init accepts it)."""
    return apply_cipher_list(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), text)


def apply_ec_curve(ctx: ssl.SSLContext, name: str) -> str | None:
    """Set ``name`` as the EC curve of ``ctx``; None when OpenSIPS can, else
    :data:`CURVE_UNKNOWN` (``OBJ_txt2nid`` gives 0) or :data:`CURVE_NOT_EC` (a known
    group that is no EC curve, e.g. X25519: ``EC_KEY_new_by_curve_name`` fails). Short
    names go through the local OpenSSL (``set_ecdh_curve`` = ``OBJ_sn2nid``); dotted OIDs
    through cryptography's curve table."""
    if _OID.match(name):
        if name in _NON_EC_OIDS:
            return CURVE_NOT_EC
        from cryptography import x509
        from cryptography.hazmat.primitives.asymmetric import ec

        try:
            curve = ec.get_curve_for_oid(x509.ObjectIdentifier(name))
        except (LookupError, ValueError):
            return CURVE_UNKNOWN
        curve_name = cast(str, curve.name)  # a curve class: its name is a plain class attribute
        name = _OPENSSL_SHORT_NAMES.get(curve_name, curve_name)
    try:
        ctx.set_ecdh_curve(name)
    except ValueError:
        return CURVE_UNKNOWN
    except ssl.SSLError:
        return CURVE_NOT_EC
    return CURVE_NOT_EC if name in _NON_EC_GROUPS else None


@functools.lru_cache(maxsize=256)
def curve_problem(name: str) -> str | None:
    """:func:`apply_ec_curve` on a scratch context: what OpenSIPS's init says of ``name``."""
    return apply_ec_curve(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), name)
