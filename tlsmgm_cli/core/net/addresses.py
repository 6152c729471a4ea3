"""IP addresses the way OpenSIPS writes and parses them (behaviour §3.1, §3.2, §3.3, §3.4).

* ``ip_addr2a`` — OpenSIPS's canonical text: dotted IPv4; IPv6 as 8 uppercase hex groups,
  leading zeros dropped, no ``::`` compression, no brackets.
* ``parse_match_ip_address`` — a ``match_ip_address`` value into canonical filters.
* ``split_csv`` — OpenSIPS's non-RFC CSV split used by both match parameters.
* ``parse_hostport`` — a user-given ``IP:PORT`` (CLI ``--socket``/``--dest``), or a
  ``HOST:PORT`` to resolve (``handshake``).
* ``socket_text`` / ``split_key`` — the ``IP:PORT`` text users see, and back.
"""

from __future__ import annotations

import functools
import ipaddress
import re

from tlsmgm_cli.core.errors import UsageError

_TRIM = " \t\r\n"  # trim.h
_IPV4 = re.compile(r"(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\Z")
_IPV6_CHARS = re.compile(r"[0-9A-Fa-f:]+\Z")


class AddressError(ValueError):
    """A match_ip_address item OpenSIPS rejects; ``str()`` is OpenSIPS's wording."""


def split_csv(value: str) -> list[str]:
    """lib/csv.c non-RFC mode: trim the whole string, split on ',', trim each field;
    empty fields are kept (callers decide whether they are errors)."""
    value = value.strip(_TRIM)
    return [f.strip(_TRIM) for f in value.split(",")]


def parse_ipv4(text: str) -> bytes | None:
    m = _IPV4.match(text)
    if not m:
        return None
    parts = [int(g) for g in m.groups()]
    return bytes(parts) if max(parts) <= 255 else None


def parse_ipv6(text: str) -> bytes | None:
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if not text or not _IPV6_CHARS.match(text):  # no dotted tails, no zone ids
        return None
    try:
        return ipaddress.IPv6Address(text).packed
    except ValueError:
        return None


def parse_ip(text: str) -> bytes | None:
    """IPv4 (strict dotted quad, no leading zeros) or IPv6 (optionally bracketed)."""
    return parse_ipv4(text) or parse_ipv6(text)


def ip_addr2a(packed: bytes) -> str:
    """OpenSIPS's ip_addr2a() text for a 4- or 16-byte address."""
    if len(packed) == 16:
        return ":".join(f"{(packed[i] << 8) | packed[i + 1]:X}" for i in range(0, 16, 2))
    return ".".join(str(b) for b in packed[:4])


def canonical_ip(text: str) -> str | None:
    """Canonical OpenSIPS text of an IP literal, or None if it is not one."""
    packed = parse_ip(text)
    return ip_addr2a(packed) if packed is not None else None


def str2int(text: str) -> int | None:
    """OpenSIPS's ut.h str2int: ASCII digits only (no sign, no space; empty is an error),
    32-bit unsigned wrap-around with no overflow check. None when not a number."""
    if not text or any(c not in "0123456789" for c in text):
        return None
    return int(text[-32:]) % (1 << 32)  # 10**32 is a multiple of 2**32: the last 32 digits decide


def parse_address_item(item: str) -> str:
    """One ``IP:port`` item -> canonical ``"<ip>:<port>"``; raises AddressError."""
    colon = item.rfind(":")
    if colon < 0:
        raise AddressError("TLS domain address has to be in [IP:port] format")
    ip_text, port_text = item[:colon], item[colon + 1:]
    if parse_ipv4(ip_text) is not None:
        canonical = ip_text  # a valid dotted quad (no leading zeros) is its own ip_addr2a text
    else:
        packed = parse_ipv6(ip_text)
        if packed is None:
            raise AddressError(f"[{ip_text}] is not an ip")
        canonical = ip_addr2a(packed)
    port = str2int(port_text)
    if port is None:
        raise AddressError(f"[{port_text}] is not a port")
    return f"{canonical}:{port}"


def parse_match_ip_address(value: str) -> list[str]:
    """A match_ip_address value (after the ``[dom]`` prefix) -> canonical filters in CSV
    order. A value whose first character is ``*`` is the single filter ``*``."""
    if value.startswith("*"):
        return ["*"]
    return [parse_address_item(item) for item in split_csv(value)]


def _is_decimal(text: str) -> bool:
    """ASCII digits only (``str.isdigit`` also accepts e.g. superscripts ``int`` rejects)."""
    return text.isascii() and text.isdigit()


def parse_hostport(text: str, *, what: str = "address", allow_hostname: bool = False,
                   allow_port_zero: bool = False) -> tuple[str, int]:
    """User input ``IP:PORT`` / ``[IPv6]:PORT`` (an optional ``tls:`` prefix is allowed)
    -> (canonical ip, port). Raises TlsmgmError with a helpful message, which starts with
    ``what`` (when given) and the text.

    ``allow_hostname``: ``HOST:PORT`` of a host still to resolve (``handshake``): the host
    is any non-empty text, returned as written (an IPv6 address without its brackets).
    ``allow_port_zero``: port 0 means "any free port" (addresses to bind)."""
    shown = f"{what} {text!r}" if what else repr(text)
    raw = text.strip()
    for proto in ("tls:", "wss:", "tcp:", "udp:"):
        if raw.lower().startswith(proto):
            raw = raw[len(proto):]
            break
    if raw.startswith("["):
        end = raw.find("]")
        if end < 0 or not raw[end + 1:].startswith(":"):
            raise UsageError(f"{shown} is not [IPv6]:PORT (expected e.g. [2001:db8::1]:5061)")
        host, port_text = raw[:end + 1], raw[end + 2:]
        packed = parse_ipv6(host)
        if allow_hostname:
            host = host[1:-1]
    else:
        if raw.count(":") > 1:
            raise UsageError(f"{shown}: write IPv6 addresses in brackets with a port, e.g. [2001:db8::1]:5061")
        if ":" not in raw:
            example = "HOST:PORT, e.g. sip.example.com:5061" if allow_hostname else "IP:PORT, e.g. 10.0.0.10:5061"
            raise UsageError(f"{shown} has no port (expected {example})")
        host, port_text = raw.rsplit(":", 1)
        packed = parse_ipv4(host)
    if not allow_hostname and packed is None:
        raise UsageError(
            f"{shown}: {host!r} is not an IP address (OpenSIPS selects domains by the "
            "socket's resolved IP; give the IP, not a host name)")
    if allow_hostname and not host:
        raise UsageError(f"{shown} has no host (expected HOST:PORT, e.g. sip.example.com:5061)")
    lowest = 0 if allow_port_zero else 1
    if not _is_decimal(port_text) or not lowest <= int(port_text) < 65536:
        raise UsageError(f"{shown}: port {port_text!r} is not a number from {lowest} to 65535")
    return (host if allow_hostname or packed is None else ip_addr2a(packed)), int(port_text)


@functools.lru_cache(maxsize=65536)
def socket_text(ip: str, port: int) -> str:
    """User-facing ``IP:PORT`` of an ip (IPv6 compressed and bracketed), as in messages
    and ``match``/``serve``/``handshake`` output."""
    if ":" in ip:
        return f"[{ipaddress.IPv6Address(ip).compressed}]:{port}"
    return f"{ip}:{port}"


def split_key(key: str) -> tuple[str, int] | None:
    """An address written ``ip:port`` — a matching-map key (OpenSIPS's canonical ip) or a
    :func:`socket_text` (``[v6]:port``) — as (canonical ip, port); None when it is not
    one (the ``*`` key, no numeric port)."""
    host, _, port = key.rpartition(":")
    if not _is_decimal(port):
        return None
    return canonical_ip(host) or host, int(port)
