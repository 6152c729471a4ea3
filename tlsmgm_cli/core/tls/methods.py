"""``tls_method`` parsing and naming (behaviour §2.9, §6.3, §7.3).

OpenSIPS matches each bound by a case-insensitive *prefix* of the table names (and the
``TLSany`` alias, OpenSSL only); ``-`` makes a range; an empty bound means the minimum
(TLSv1) or the maximum (TLSv1_3). Parsing happens at mod_init, so with
``tls_library=none`` it never happens.
"""

from __future__ import annotations

from dataclasses import dataclass

SSLV23, TLSV1, TLSV1_2, TLSV1_3 = 1, 2, 3, 4
NAMES = {SSLV23: "SSLv23", TLSV1: "TLSv1", TLSV1_2: "TLSv1_2", TLSV1_3: "TLSv1_3"}
# (name, alias, value) in table order; the alias exists only in tls_openssl
_TABLE = [("SSLv23", "TLSany", SSLV23), ("TLSv1", None, TLSV1), ("TLSv1_2", None, TLSV1_2),
          ("TLSv1_3", None, TLSV1_3)]
_TRIM = " \t\r\n"
# stdlib/OpenSSL protocol version numbers for the bounds
PROTO_VERSION = {TLSV1: 0x0301, TLSV1_2: 0x0303, TLSV1_3: 0x0304}


class MethodError(ValueError):
    """``str()`` is OpenSIPS's message: ``unsupported method [x]``."""


@dataclass(frozen=True, slots=True)
class Method:
    low: int
    high: int
    raw: str
    warnings: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """What tls_list shows: one name, or ``low-high``."""
        return method_name(self.low, self.high)

    @property
    def unbounded(self) -> bool:
        """low == SSLv23: OpenSIPS sets no min/max at all (OpenSSL defaults apply)."""
        return self.low == SSLV23

    @property
    def min_version(self) -> int | None:
        """OpenSSL protocol number for SSL_CTX_set_min_proto_version (None = not set)."""
        return None if self.unbounded else PROTO_VERSION[self.low]

    @property
    def max_version(self) -> int | None:
        """None = not set (unbounded) and 0 = "highest supported" (high SSLv23)."""
        if self.unbounded:
            return None
        return 0 if self.high == SSLV23 else PROTO_VERSION[self.high]

    def allows(self, version: int) -> bool:
        """Whether a protocol (0x0301..0x0304) is inside the bounds OpenSIPS sets.
        Unbounded methods allow everything (the system's OpenSSL policy decides)."""
        lo = self.min_version
        hi = self.max_version
        if lo is None or hi is None:  # both None (unbounded) or neither
            return True
        return lo <= version and (hi == 0 or version <= hi)


def method_name(low: int, high: int) -> str:
    lo = NAMES.get(low, "UNKNOWN")
    hi = NAMES.get(high, "UNKNOWN")
    return lo if low == high else f"{lo}-{hi}"


def _match_token(token: str, library: str) -> int:
    n = len(token)
    low = token.lower()
    for name, alias, value in _TABLE:
        if n <= len(name) and name[:n].lower() == low:
            return value
        if alias and library != "wolfssl" and n <= len(alias) and alias[:n].lower() == low:
            return value
    raise MethodError(f"unsupported method [{token}]")


def parse_method(raw: str | None, library: str = "openssl") -> Method:
    """Parse a tls_method value as tls_openssl (or tls_wolfssl) does at mod_init.
    ``None``/empty (never set, or DB NULL/'') -> SSLv23."""
    if not raw:
        return Method(SSLV23, SSLV23, raw or "")
    warnings: list[str] = []
    if "-" in raw:
        lo_text, hi_text = raw.split("-", 1)
        lo_text, hi_text = lo_text.strip(_TRIM), hi_text.strip(_TRIM)
        low = _match_token(lo_text, library) if lo_text else TLSV1
        high = _match_token(hi_text, library) if hi_text else TLSV1_3
        if SSLV23 in (low, high):
            warnings.append(f"using SSLv23 as a bound of the method range '{raw}' makes no sense")
    else:
        text = raw.strip(_TRIM)
        low = high = _match_token(text, library) if text else TLSV1
    return Method(low, high, raw, tuple(warnings))
