"""The one DER reader of tlsmgm: bounds-checked tag-length-value elements.

* An element is an identifier (one octet, or a high tag number: ``0x1F`` then base-128
  octets), a length (short form, or long form with 1 to 4 length octets) and the content.
* The indefinite length (``0x80``, BER only) is refused, and so is a length that runs past
  the data or past ``end``, the end of the parent element: a nested read never leaves
  its parent.
* Every malformed input raises :class:`DerError` (a ``ValueError`` too), nothing else.

The tag reported is the first identifier octet (class, constructed bit and tag number for
the single-octet tags that X.509 uses).
"""

from __future__ import annotations

from dataclasses import dataclass

from tlsmgm_cli.core.errors import TlsmgmError

_MAX_LENGTH_OCTETS = 4  # a certificate element is never 4 GiB long


class DerError(TlsmgmError, ValueError):
    """DER bytes that are not a well-formed element (truncated, indefinite length, an
    element running past its parent)."""


def header(data: bytes, pos: int = 0, end: int | None = None) -> tuple[int, int, int]:
    """``(tag, content start, content end)`` of the element at ``data[pos]``; the element
    must end at or before ``end`` (default: the end of ``data``)."""
    limit = len(data) if end is None else min(end, len(data))
    if pos < 0 or pos + 2 > limit:
        raise DerError("truncated DER element")
    tag = data[pos]
    pos += 1
    if tag & 0x1F == 0x1F:  # high tag number: base-128 octets, the last without 0x80
        while pos < limit and data[pos] & 0x80:
            pos += 1
        pos += 1
        if pos >= limit:
            raise DerError("truncated DER element")
    length = data[pos]
    pos += 1
    if length & 0x80:
        count = length & 0x7F
        if count == 0:
            raise DerError("indefinite DER length")
        if count > _MAX_LENGTH_OCTETS or pos + count > limit:
            raise DerError("bad DER length")
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    if pos + length > limit:
        raise DerError("truncated DER element")
    return tag, pos, pos + length


@dataclass(frozen=True, slots=True)
class Tlv:
    """One DER element: ``tag`` is the first identifier octet, ``content`` the content
    octets, ``raw`` the whole encoding."""

    tag: int
    content: bytes
    raw: bytes

    @property
    def constructed(self) -> bool:
        return bool(self.tag & 0x20)

    def children(self) -> list[Tlv]:
        """The elements inside this one's content (each read within it)."""
        return elements(self.content)


def read_tlv(data: bytes, pos: int = 0, end: int | None = None) -> tuple[Tlv, int]:
    """The element at ``data[pos]`` (ending at or before ``end``) and the position after it."""
    tag, start, stop = header(data, pos, end)
    return Tlv(tag, data[start:stop], data[pos:stop]), stop


def elements(data: bytes) -> list[Tlv]:
    """All consecutive elements of ``data``; trailing bytes that are no element are an error."""
    out = []
    pos = 0
    while pos < len(data):
        tlv, pos = read_tlv(data, pos)
        out.append(tlv)
    return out


def first(data: bytes) -> Tlv:
    """The first element of ``data`` (trailing bytes ignored)."""
    return read_tlv(data, 0)[0]


def split_tlv(data: bytes) -> tuple[int, bytes, bytes]:
    """``(tag, content, rest)``: one element split off the front of ``data``."""
    tag, start, stop = header(data)
    return tag, data[start:stop], data[stop:]


def element_length(data: bytes) -> int | None:
    """The total length of the element at the start of ``data``; None when there is no
    whole element there."""
    try:
        return header(data)[2]
    except DerError:
        return None


def encode_length(n: int) -> bytes:
    """The DER length octets of ``n`` (short form below 128)."""
    if n < 0x80:
        return bytes([n])
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(size)]) + size


def encode_tlv(tag: int, content: bytes) -> bytes:
    """One DER element with a single-octet ``tag``."""
    return bytes([tag]) + encode_length(len(content)) + content
