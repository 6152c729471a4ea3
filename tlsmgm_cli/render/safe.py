"""Untrusted text made safe for a terminal: control characters shown, never obeyed.

Certificate names, SNI values, config values and DB contents can hold ESC/OSC sequences
that retitle a terminal or erase lines. Every *text* rendering passes such strings
through ``visible()``: C0 controls, DEL and C1 controls become ``\\xNN`` (``\\n``, ``\\r``
and ``\\t`` become ``\\n``/``\\r``/``\\t``), so the reader sees that they are there.
JSON output stays exact (json escapes controls itself); ``--format xlog`` stays
byte-exact only when it does not write to a terminal.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _one(match: re.Match[str]) -> str:
    ch = match.group()
    return _NAMED.get(ch) or f"\\x{ord(ch):02x}"


def visible(text: object) -> str:
    """``text`` as a string whose control characters are escaped visibly."""
    s = text if isinstance(text, str) else str(text)
    return _CONTROL.sub(_one, s) if _CONTROL.search(s) else s


def visible_lines(text: str) -> str:
    """Like ``visible`` but keeps line breaks (for multi-line blocks of untrusted text)."""
    return "\n".join(visible(line) for line in text.split("\n"))


def has_control(text: str) -> bool:
    return _CONTROL.search(text) is not None
