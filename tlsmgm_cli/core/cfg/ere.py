"""POSIX extended regular expressions as glibc's ``regcomp(REG_EXTENDED)`` reads them,
translated to Python's ``re`` (behaviour §1.8: modparam's module-name argument).

What differs from Python and is handled here: bracket expressions (``[[:alpha:]]``
classes, a backslash is literal inside brackets, ``]`` first is literal), GNU escapes
(``\\<``, ``\\>``, ``\\```, ``\\'``; any other escaped character stands for itself, except
that an escaped lower-case letter never matches under ``REG_ICASE``), an
unmatched ``)`` is an ordinary character, quantifiers may follow quantifiers
(``a**``, ``a*+``: in Python the second would be an error or possessive), and what glibc
refuses (``(?``, a quantifier with nothing before it, a bad interval, an unterminated
bracket) is refused: :func:`translate` returns None, as ``regcomp`` fails.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

RE_DUP_MAX = 0x7FFF

_CLASSES = {
    "alpha": "a-zA-Z", "digit": "0-9", "alnum": "0-9a-zA-Z", "upper": "A-Z", "lower": "a-z",
    "space": " \\t\\n\\r\\f\\v", "blank": " \\t", "punct": re.escape("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
    "xdigit": "0-9A-Fa-f", "cntrl": "\\x00-\\x1f\\x7f", "print": "\\x20-\\x7e", "graph": "\\x21-\\x7e",
}
_GNU_ESCAPES = {"w": "\\w", "W": "\\W", "s": "\\s", "S": "\\S", "b": "\\b", "B": "\\B",
                "<": "\\b(?=\\w)", ">": "\\b(?<=\\w)", "`": "\\A", "'": "\\Z"}
_INTERVAL = re.compile(r"\{(\d*)(,?)(\d*)\}")


class _Refused(Exception):
    """What regcomp would fail on."""


def translate(ere: str) -> str | None:
    """The Python pattern matching what the ERE ``ere`` matches, or None when glibc's
    ``regcomp`` would refuse it."""
    return translated(ere)[0]


def translated(ere: str) -> tuple[str | None, bool]:
    """(:func:`translate`, whether it repeats a repetition -- ``(a*)*`` -- which Python's
    backtracking matcher may take exponential time on)."""
    translator = _Translator(ere)
    try:
        return translator.run(), translator.nested
    except _Refused:
        return None, False


class _Translator:
    def __init__(self, ere: str) -> None:
        self.src = ere
        self.pos = 0
        self.out: list[str] = []  # one piece per atom (a group collapses into one)
        self.quantified: list[bool] = []  # per piece: already carries a quantifier
        self.atom = False  # the last piece can take a quantifier
        self.groups: list[int] = []  # index in out where each open group starts
        self.groups_seen = 0
        self.nested = False  # a repeat of something that repeats: exponential for Python's re

    def run(self) -> str:
        src = self.src
        while self.pos < len(src):
            ch = src[self.pos]
            self.pos += 1
            if ch == "\\":
                self._escape()
            elif ch == "[":
                self._piece(self._bracket(), atom=True)
            elif ch == "(":
                if self.pos < len(src) and src[self.pos] in "*+?{":
                    raise _Refused  # nothing to repeat (and Python's '(?' extensions)
                self.groups.append(len(self.out))
                self._piece("(", atom=False)
            elif ch == ")":
                if not self.groups:
                    self._piece("\\)", atom=True)  # unmatched: an ordinary character
                    continue
                start = self.groups.pop()
                self.groups_seen += 1
                body = "".join(self.out[start:]) + ")"
                del self.out[start:], self.quantified[start:]
                self._piece(body, atom=True)
            elif ch in "*+?":
                self._quantify(ch)
            elif ch == "{":
                match = _INTERVAL.match(src, self.pos - 1)
                if match is None:
                    raise _Refused  # REG_EBRACE / REG_BADBR
                low, comma, high = match.group(1), match.group(2), match.group(3)
                if not low and not comma:
                    raise _Refused  # '{}' ('{,}' is '{0,}')
                lo = int(low) if low else 0
                hi = int(high) if high else None
                if lo > RE_DUP_MAX or (hi is not None and (hi > RE_DUP_MAX or hi < lo)):
                    raise _Refused
                self.pos = match.end()
                self._quantify("{%d%s%s}" % (lo, comma, "" if hi is None else hi))
            elif ch == "|":
                self._piece("|", atom=False)
            elif ch == "^":
                self._piece("^", atom=False)
            elif ch == "$":
                self._piece("\\Z", atom=False)  # the end of the name (Python's '$' also before a newline)
            elif ch == ".":
                self._piece(".", atom=True)
            else:
                self._piece(re.escape(ch), atom=True)
        if self.groups:
            raise _Refused  # REG_EPAREN
        pattern = "".join(self.out)
        try:
            re.compile(pattern)
        except re.error:
            raise _Refused from None  # e.g. a back-reference to a group not yet closed
        return pattern

    def _piece(self, text: str, *, atom: bool) -> None:
        self.out.append(text)
        self.quantified.append(False)
        self.atom = atom

    def _quantify(self, quantifier: str) -> None:
        if not self.atom or not self.out:
            raise _Refused  # REG_BADRPT: at the start, after '(', '|' or an anchor
        piece = self.out[-1]
        if self.quantified[-1] or (piece.startswith("(") and any(q in piece for q in ("*", "+", "{"))):
            self.nested = True
        if self.quantified[-1]:  # a quantifier on a quantified atom: group it first
            self.out[-1] = f"(?:{self.out[-1]})"
        self.out[-1] += quantifier
        self.quantified[-1] = True

    def _escape(self) -> None:
        src = self.src
        if self.pos >= len(src):
            raise _Refused  # REG_EESCAPE: trailing backslash
        ch = src[self.pos]
        self.pos += 1
        if ch in _GNU_ESCAPES:
            self._piece(_GNU_ESCAPES[ch], atom=ch in "wWsS")
        elif ch in "123456789":
            if int(ch) > self.groups_seen:
                raise _Refused  # REG_ESUBREG
            self._piece(f"(?:\\{ch})", atom=True)
        elif "a" <= ch <= "z":
            # REG_ICASE compares against the upper-cased name, but an escaped character is
            # taken as written: an escaped lower-case letter never matches (glibc)
            self._piece("(?!)", atom=True)
        else:
            self._piece(re.escape(ch), atom=True)

    def _bracket(self) -> str:
        """A bracket expression from after its '[' to its ']' (consumed)."""
        src = self.src
        items: list[str] = []
        negate = self.pos < len(src) and src[self.pos] == "^"
        if negate:
            self.pos += 1
        first = True
        while True:
            if self.pos >= len(src):
                raise _Refused  # REG_EBRACK
            ch = src[self.pos]
            if ch == "]" and not first:
                self.pos += 1
                break
            first = False
            if ch == "[" and self.pos + 1 < len(src) and src[self.pos + 1] in ":=.":
                kind = src[self.pos + 1]
                end = src.find(kind + "]", self.pos + 2)
                if end < 0:
                    raise _Refused
                name = src[self.pos + 2:end]
                self.pos = end + 2
                if kind == ":":
                    if name not in _CLASSES:
                        raise _Refused  # REG_ECTYPE
                    items.append(_CLASSES[name])
                    if src.startswith("-", self.pos) and not src.startswith("-]", self.pos):
                        raise _Refused  # REG_ERANGE: a class cannot start a range
                elif len(name) == 1:
                    items.append(re.escape(name))
                else:
                    raise _Refused  # REG_ECOLLATE: multi-character collating elements
                continue
            self.pos += 1
            if (self.pos + 1 < len(src) and src[self.pos] == "-" and src[self.pos + 1] != "]"):
                high = src[self.pos + 1]
                if high == "[" and src[self.pos + 2:self.pos + 3] in (":", "=", "."):
                    raise _Refused  # a range ending in a class or collating element: not handled
                low, high = _upper(ch), _upper(high)  # REG_ICASE upper-cases the pattern first
                if ord(high) < ord(low):
                    raise _Refused  # REG_ERANGE ('[_-t]' is '[_-T]')
                self.pos += 2
                items.append(f"{re.escape(low)}-{re.escape(high)}")
            else:
                items.append(re.escape(ch))
        return "[" + ("^" if negate else "") + "".join(items) + "]"


def _upper(ch: str) -> str:
    """toupper() in the C locale."""
    return ch.upper() if "a" <= ch <= "z" else ch


def modparam_matcher(module: str) -> Callable[[str], bool] | None:
    """modparam's module argument as OpenSIPS compiles it: ``^(`` + argument + ``)$``,
    extended, case-insensitive (the wrapper is plain text, so an argument such as
    ``a)|(b`` changes its meaning); a test of one module name, or None when ``regcomp``
    would fail. Where glibc is at hand its own ``regcomp``/``regexec`` decide (exact, and
    never exponential); elsewhere the Python translation, checked against glibc by the
    tests."""
    wrapped = f"^({module})$"
    native = _GlibcRegex.compile(wrapped)
    if native is not None:
        return native if native is not _REFUSED else None
    pattern, _nested = translated(wrapped)
    if pattern is None:
        return None
    compiled = re.compile(pattern, re.IGNORECASE)
    return lambda name: compiled.search(name) is not None


_REG_EXTENDED, _REG_ICASE, _REG_NOSUB = 1, 2, 8
_REGEX_T_BYTES = 1024  # sizeof(regex_t) is 64 on x86-64 glibc: ample room


class _GlibcRegex:
    """A compiled ``regex_t`` of glibc, freed with the object."""

    _libc: Any = None
    _loaded = False

    def __init__(self, buffer: Any) -> None:
        self._buffer = buffer

    @classmethod
    def _lib(cls) -> Any:
        if not cls._loaded:
            cls._loaded = True
            try:
                import ctypes
                import ctypes.util

                name = ctypes.util.find_library("c")
                libc = ctypes.CDLL(name) if name else None
                if libc is not None and hasattr(libc, "gnu_get_libc_version"):
                    libc.regcomp.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
                    libc.regexec.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
                                             ctypes.c_void_p, ctypes.c_int]
                    libc.regfree.argtypes = [ctypes.c_void_p]
                    cls._libc = libc
            except (OSError, AttributeError):
                cls._libc = None
        return cls._libc

    @classmethod
    def compile(cls, wrapped: str) -> Any:
        """A matcher, ``_REFUSED`` when regcomp fails, None when glibc is not at hand."""
        libc = cls._lib()
        if libc is None:
            return None
        try:
            raw = wrapped.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            return None
        if b"\0" in raw:
            return None
        import ctypes

        buffer = ctypes.create_string_buffer(_REGEX_T_BYTES)
        if libc.regcomp(buffer, raw, _REG_EXTENDED | _REG_NOSUB | _REG_ICASE) != 0:
            return _REFUSED
        return cls(buffer)

    def __call__(self, name: str) -> bool:
        raw = name.encode("utf-8", "surrogateescape")
        return bool(self._libc.regexec(self._buffer, raw, 0, None, 0) == 0)

    def __del__(self) -> None:
        if self._libc is not None:
            self._libc.regfree(self._buffer)


_REFUSED: Any = object()
