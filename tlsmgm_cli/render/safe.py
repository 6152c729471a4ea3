"""Untrusted text made safe for a terminal: control characters shown, never obeyed.

Certificate names, SNI values, config values and DB contents can hold ESC/OSC sequences
that retitle a terminal or erase lines, and bytes that are not UTF-8 (read with
``surrogateescape``) cannot even be written to a UTF-8 terminal. Every *text* rendering passes such strings
through ``visible()``: C0 controls, DEL and C1 controls become ``\\xNN`` (``\\n``, ``\\r``
and ``\\t`` become ``\\n``/``\\r``/``\\t``; a non-UTF-8 byte becomes ``\\xNN`` too, a
bidirectional control ``\\uNNNN``), so the reader sees that they are there.
JSON output stays exact (json escapes controls itself); ``--format xlog`` stays
byte-exact only when it does not write to a terminal.
"""

from __future__ import annotations

import re

#: C0, DEL, C1, the bidirectional controls that reorder what a terminal shows (a name can
#: look like another: U+202E), and lone surrogates (bytes that were not UTF-8, kept by
#: ``surrogateescape``)
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_CONTROL = re.compile(f"[\\x00-\\x1f\\x7f-\\x9f{_BIDI}\\ud800-\\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _one(match: re.Match[str]) -> str:
    ch = match.group()
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the raw byte 0x80-0xff
        return f"\\x{code - 0xDC00:02x}"
    if code >= 0x100:  # a bidirectional control or a lone surrogate
        return f"\\u{code:04x}"
    return _NAMED.get(ch) or f"\\x{code:02x}"


def visible(text: object) -> str:
    """``text`` as a string whose control characters are escaped visibly."""
    s = text if isinstance(text, str) else str(text)
    return _CONTROL.sub(_one, s) if _CONTROL.search(s) else s


def visible_lines(text: str) -> str:
    """Like ``visible`` but keeps line breaks (for multi-line blocks of untrusted text)."""
    return "\n".join(visible(line) for line in text.split("\n"))


_SURROGATE = re.compile(r"[\ud800-\udfff]")
#: what JSON may carry raw but a terminal would obey or cannot show: DEL, C1, bidi controls,
#: lone surrogates -- written as \uXXXX escapes (the same JSON value)
_JSON_UNSAFE = re.compile(f"[\\x7f-\\x9f{_BIDI}\\ud800-\\udfff]")


def not_utf8(text: str) -> bool:
    """True when ``text`` came from bytes that are not UTF-8 (argv, file names: Python keeps
    such bytes as lone surrogates)."""
    return _SURROGATE.search(text) is not None


def json_text(text: str) -> str:
    """Encoded JSON ``text`` (``ensure_ascii=False``) with lone surrogates written as
    ``\\udcXX`` escapes, so the document stays valid UTF-8 when an input held bytes that were
    not, and DEL, C1 and bidirectional controls as ``\\uXXXX`` so that a terminal showing
    the JSON obeys none of them (these characters only occur inside JSON strings, so the
    substitution is exact: the decoded value is unchanged)."""
    if text.isascii() or _JSON_UNSAFE.search(text) is None:
        return text
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def has_control(text: str) -> bool:
    return _CONTROL.search(text) is not None
