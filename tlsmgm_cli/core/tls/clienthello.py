"""The server_name of a TLS ClientHello, read from its first record (``tlsmgm serve``).

CPython hands the SNI to a server's ``sni_callback`` only after decoding it as ASCII; a
name with a byte >= 0x80 never reaches the callback (the handshake ends with alert 80
and an "Exception ignored" traceback on stderr). OpenSSL and OpenSIPS take such a name
as bytes and match it like any other (behaviour §6.11). ``serve`` therefore peeks at the
first record and, for those names only, selects the domain before the handshake.

:func:`server_name` reads like OpenSSL's ``tls_parse_ctos_server_name``: the first entry
of the server_name list, which must be a host_name. Every length is checked against what
is left; anything it cannot read with certainty (another record type, a ClientHello split
over records, a malformed extension) is :data:`UNKNOWN`, and the caller leaves the
connection to OpenSSL.
"""

from __future__ import annotations

from typing import Final

RECORD_HEADER = 5
MAX_RECORD = 16384 + 2048  # TLSPlaintext may not exceed 2^14; OpenSSL tolerates a little more
MAX_HELLO_BYTES = RECORD_HEADER + MAX_RECORD

_HANDSHAKE = 0x16
_CLIENT_HELLO = 0x01
_EXT_SERVER_NAME = 0x0000
_HOST_NAME = 0x00

#: the record is not complete yet: peek again
INCOMPLETE: Final = "incomplete"
#: not a ClientHello this parser can read with certainty: leave the connection to OpenSSL
UNKNOWN: Final = "unknown"


class _Short(Exception):
    """A length points past the data."""


class _Reader:
    __slots__ = ("data", "pos", "end")

    def __init__(self, data: bytes, pos: int, end: int) -> None:
        self.data, self.pos, self.end = data, pos, end

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > self.end:
            raise _Short
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def num(self, n: int) -> int:
        return int.from_bytes(self.take(n), "big")

    def sub(self, n: int) -> _Reader:
        """A reader over the next ``n`` bytes (skipped here)."""
        start = self.pos
        self.take(n)
        return _Reader(self.data, start, start + n)

    def left(self) -> int:
        return self.end - self.pos


def record_length(head: bytes) -> int | None:
    """Bytes the first record takes (header included), once its 5-byte header is in;
    None while it is not, or when it is not a handshake record of a sane size."""
    if len(head) < RECORD_HEADER:
        return None
    if head[0] != _HANDSHAKE or head[1] != 3:
        return None
    length = int.from_bytes(head[3:5], "big")
    return RECORD_HEADER + length if 0 < length <= MAX_RECORD else None


def server_name(data: bytes) -> bytes | None | str:
    """The raw server_name of the ClientHello at the start of ``data``.

    Returns the name's bytes, None when the ClientHello carries no server_name,
    :data:`INCOMPLETE` when more bytes are needed, or :data:`UNKNOWN`."""
    if len(data) < RECORD_HEADER:
        return INCOMPLETE if _could_be_handshake(data) else UNKNOWN
    total = record_length(data)
    if total is None:
        return UNKNOWN
    if len(data) < total:
        return INCOMPLETE
    try:
        record = _Reader(data, RECORD_HEADER, total)
        if record.num(1) != _CLIENT_HELLO:
            return UNKNOWN
        hello = record.sub(record.num(3))  # _Short: the hello continues in the next record
        hello.take(2 + 32)  # legacy_version, random
        hello.take(hello.num(1))  # session id
        hello.take(hello.num(2))  # cipher suites
        hello.take(hello.num(1))  # compression methods
        if hello.left() == 0:
            return None  # no extensions at all
        extensions = hello.sub(hello.num(2))
        while extensions.left():
            ext_type = extensions.num(2)
            body = extensions.sub(extensions.num(2))
            if ext_type != _EXT_SERVER_NAME:
                continue
            names = body.sub(body.num(2))
            if names.num(1) != _HOST_NAME:
                return UNKNOWN  # OpenSSL: decode error
            return names.take(names.num(2))
        return None
    except _Short:
        return UNKNOWN


def _could_be_handshake(head: bytes) -> bool:
    return (not head or head[0] == _HANDSHAKE) and (len(head) < 2 or head[1] == 3)


def needs_early_selection(name: bytes | None | str) -> bool:
    """Whether ``name`` is a server_name CPython cannot hand to the SNI callback (a byte
    >= 0x80) but OpenSSL accepts (no NUL, at most 255 bytes, not empty)."""
    return (isinstance(name, bytes) and 0 < len(name) <= 255 and b"\0" not in name
            and not name.isascii())
