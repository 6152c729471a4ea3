"""POSIX ``fnmatch(3)`` exactly as OpenSIPS calls it: glibc, C locale, flags ``0`` or
``FNM_CASEFOLD`` (no ``FNM_PATHNAME``/``FNM_PERIOD``/``FNM_NOESCAPE``), spec §2.2.

Python's ``fnmatch`` module differs (no backslash escapes, ``[^...]`` not negated,
unicode case folding), so patterns are translated here to compiled regular expressions:

* both pattern and value are handled as **bytes** (UTF-8, one regex character per byte,
  via latin-1), like glibc in the C locale: ``?`` matches one byte, only ``A``-``Z``
  fold to lower case, and a C string ends at the first NUL;
* ``*`` matches any byte sequence (dots and a leading dot included), ``?`` one byte,
  ``\\x`` the byte ``x``; a trailing lone backslash never matches;
* a bracket expression is evaluated by an emulation of glibc 2.36's bracket loop for
  each of the 256 possible bytes, so ``[!...]``/``[^...]``, ``]`` first, ranges (folded
  on both ends), ``[:class:]``, ``[=c=]``, ``[.c.]``, escapes and the treatment of an
  unterminated ``[`` as a literal all behave like the C code.
"""

from __future__ import annotations

import re
from functools import lru_cache

_CHARCLASS_NAME_MAX = 2048  # glibc's CHAR_CLASS_MAX_LENGTH (CHARCLASS_NAME_MAX)
_NEVER = "(?!)"
_FLAGS = re.DOTALL

# C-locale <ctype.h> classes over bytes 0..255 (only ASCII has any class)
_CLASSES: dict[str, frozenset[int]] = {
    "alpha": frozenset(range(65, 91)) | frozenset(range(97, 123)),
    "digit": frozenset(range(48, 58)),
    "upper": frozenset(range(65, 91)),
    "lower": frozenset(range(97, 123)),
    "space": frozenset((9, 10, 11, 12, 13, 32)),
    "blank": frozenset((9, 32)),
    "cntrl": frozenset(range(0, 32)) | {127},
    "print": frozenset(range(32, 127)),
    "graph": frozenset(range(33, 127)),
    "xdigit": frozenset(range(48, 58)) | frozenset(range(65, 71)) | frozenset(range(97, 103)),
}
_CLASSES["alnum"] = _CLASSES["alpha"] | _CLASSES["digit"]
_CLASSES["punct"] = _CLASSES["graph"] - _CLASSES["alnum"]

_BS, _LB, _RB, _COLON, _EQ, _DOT, _DASH = (ord(c) for c in "\\[]:=.-")


def to_c_text(text: str) -> str:
    """A Python string as the C string OpenSIPS sees: its UTF-8 bytes (one character per
    byte), cut at the first NUL."""
    if not text.isascii():
        text = text.encode("utf-8", "surrogateescape").decode("latin-1")
    nul = text.find("\0")
    return text if nul < 0 else text[:nul]


def _fold(byte: int, casefold: bool) -> int:
    """glibc FOLD(): tolower() in the C locale, only when FNM_CASEFOLD is set."""
    return byte + 32 if casefold and 65 <= byte <= 90 else byte


class _Bracket:
    """Evaluates the bracket expression whose body starts at ``start`` (just after the
    ``[``) for one string byte, following glibc 2.36 ``fnmatch_loop.c`` statement by
    statement. ``evaluate`` returns ``("match", end)`` (``end`` = index after the
    closing ``]``), ``("nomatch", 0)`` or ``("literal", 0)`` (unterminated: the ``[``
    is compared as an ordinary character)."""

    def __init__(self, pat: list[int], start: int, casefold: bool):
        self.pat = pat  # pattern bytes followed by a 0 sentinel
        self.start = start
        self.casefold = casefold

    def at(self, i: int) -> int:
        return self.pat[i] if i < len(self.pat) else 0

    def evaluate(self, n: int) -> tuple[str, int]:  # noqa: C901 - mirrors the C control flow
        at, casefold = self.at, self.casefold
        p = self.start
        negated = at(p) in (ord("!"), ord("^"))  # '^' too: POSIXLY_CORRECT is not set
        if negated:
            p += 1
        fn = _fold(n, casefold)
        c = at(p)
        p += 1
        while True:
            # kind: "plain" = the C else-branch, "normal" = "goto normal_bracket" (c is
            # final), "done" = a class/equivalence class was handled and c advanced
            kind = "plain"
            if c == _BS:
                if at(p) == 0:
                    return ("nomatch", 0)
                c = _fold(at(p), casefold)
                p += 1
                kind = "normal"
            elif c == _LB and at(p) == _COLON:
                startp, name = p, []
                kind = "done"
                while True:
                    if len(name) == _CHARCLASS_NAME_MAX:
                        return ("nomatch", 0)
                    p += 1
                    c = at(p)
                    if c == _COLON and at(p + 1) == _RB:
                        p += 2
                        break
                    if c < ord("a") or c >= ord("z"):  # sic: 'z' ends a class name
                        p, c, kind = startp, _LB, "normal"
                        break
                    name.append(chr(c))
                if kind == "done":
                    members = _CLASSES.get("".join(name))
                    if members is None:
                        return ("nomatch", 0)
                    if n in members:  # the unfolded byte
                        return self._matched(p, negated)
                    c = at(p)
                    p += 1
            elif c == _LB and at(p) == _EQ:
                startp = p
                kind = "done"
                p += 1
                equiv = at(p)
                if equiv == 0:
                    p, c, kind = startp, _LB, "normal"
                else:
                    p += 1
                    if at(p) != _EQ or at(p + 1) != _RB:
                        p, c, kind = startp, _LB, "normal"
                    else:
                        p += 2
                        if n == equiv:
                            return self._matched(p, negated)
                        c = at(p)
                        p += 1
            elif c == 0:
                return ("literal", 0)
            if kind != "done":
                if kind == "plain" and c == _LB and at(p) == _DOT:
                    startp = p
                    p, sym = self._collating_symbol(p)
                    if sym is None:
                        return ("nomatch", 0)
                    is_range = at(p) == _DASH and at(p + 1) != 0
                    if not is_range and n == sym:
                        return self._matched(p, negated)
                    cold = sym
                else:
                    if kind == "plain":
                        c = _fold(c, casefold)
                    is_range = at(p) == _DASH and at(p + 1) not in (0, _RB)
                    if not is_range and c == fn:
                        return self._matched(p, negated)
                    cold = c
                c = at(p)
                p += 1
                if c == _DASH and at(p) != _RB:
                    cend = at(p)
                    p += 1
                    if cend == _LB and at(p) == _DOT:
                        p, sym = self._collating_symbol(p)
                        if sym is None:
                            return ("nomatch", 0)
                        cend = sym
                    else:
                        if cend == _BS:
                            cend = at(p)
                            p += 1
                        if cend == 0:
                            return ("nomatch", 0)
                        cend = _fold(cend, casefold)
                    if cold <= fn <= cend:
                        return self._matched(p, negated)
                    c = at(p)
                    p += 1
            if c == _RB:
                break
        return ("match", p) if negated else ("nomatch", 0)

    def _collating_symbol(self, p: int) -> tuple[int, int | None]:
        """``[.c.]`` with ``p`` at the ``.``: (index after ``.]``, the byte), or None
        when unterminated or longer than one byte (the C locale knows no names)."""
        startp, length = p, 0
        while True:
            p += 1
            c = self.at(p)
            if c == _DOT and self.at(p + 1) == _RB:
                p += 2
                break
            if c == 0:
                return p, None
            length += 1
        return p, (self.at(startp + 1) if length == 1 else None)

    def _matched(self, p: int, negated: bool) -> tuple[str, int]:
        """glibc's ``matched:`` label: skip the rest of the expression."""
        at = self.at
        while True:
            c = at(p)
            p += 1
            if c == 0:  # unterminated after all: the '[' is an ordinary character
                return ("literal", 0)
            if c == _BS:
                if at(p) == 0:
                    return ("nomatch", 0)
                p += 1
            elif c == _LB and at(p) == _COLON:
                startp, count, restart = p, 0, False
                while True:
                    p += 1
                    c = at(p)
                    count += 1
                    if count == _CHARCLASS_NAME_MAX:
                        return ("nomatch", 0)
                    if at(p) == _COLON and at(p + 1) == _RB:
                        break
                    if c < ord("a") or c >= ord("z"):
                        p, restart = startp, True
                        break
                if restart:
                    continue  # "goto ignore_next": no end-of-expression test
                p += 2
                c = at(p)
                p += 1
            elif c == _LB and at(p) == _EQ:
                p += 1
                if at(p) == 0:
                    return ("nomatch", 0)
                p += 1
                if at(p) != _EQ or at(p + 1) != _RB:
                    return ("nomatch", 0)
                p += 2
                c = at(p)
                p += 1
            elif c == _LB and at(p) == _DOT:
                p += 1
                while True:
                    p += 1
                    c = at(p)
                    if c == 0:
                        return ("nomatch", 0)
                    if at(p) == _DOT and at(p + 1) == _RB:
                        break
                p += 2
                c = at(p)
                p += 1
            if c == _RB:
                break
        return ("nomatch", 0) if negated else ("match", p)


def _byte_class(members: set[int]) -> str:
    """A regex character class matching exactly these byte values (as latin-1 chars)."""
    if len(members) == 256:
        return "."
    return "[" + "".join(re.escape(chr(b)) for b in sorted(members)) + "]"


def _literal(byte: int, casefold: bool) -> str:
    low = _fold(byte, casefold)
    if casefold and 97 <= low <= 122:
        return f"[{chr(low)}{chr(low - 32)}]"
    return re.escape(chr(byte))


def _bracket_branches(pat: list[int], start: int, casefold: bool) -> list[tuple[set[int], int]]:
    """The bytes a bracket expression at ``start`` matches, grouped by where the pattern
    continues: [(bytes, next index)]. An unterminated ``[`` yields the literal byte ``[``
    continuing right after it."""
    bracket = _Bracket(pat, start, casefold)
    by_end: dict[int, set[int]] = {}
    for byte in range(256):
        outcome, end = bracket.evaluate(byte)
        if outcome == "match":
            by_end.setdefault(end, set()).add(byte)
        elif outcome == "literal" and _fold(byte, casefold) == _LB:
            by_end.setdefault(start, set()).add(byte)
    return [(members, end) for end, members in sorted(by_end.items())]


def _translate_from(pat: list[int], i: int, casefold: bool) -> str:
    out: list[str] = []
    n = len(pat)
    while i < n:
        c = pat[i]
        i += 1
        if c == ord("*"):
            while i < n and pat[i] == ord("*"):
                i += 1
            out.append(".*")
        elif c == ord("?"):
            out.append(".")
        elif c == _BS:
            if i >= n:  # trailing backslash loses
                out.append(_NEVER)
                return "".join(out)
            out.append(_literal(pat[i], casefold))
            i += 1
        elif c == _LB:
            branches = _bracket_branches(pat, i, casefold)
            if not branches:
                out.append(_NEVER)
                return "".join(out)
            if len(branches) == 1:
                members, i = branches[0]
                out.append(_byte_class(members))
                continue
            alts = [_byte_class(members) + _translate_from(pat, end, casefold)
                    for members, end in branches]
            out.append("(?:" + "|".join(alts) + ")")
            return "".join(out)
        else:
            out.append(_literal(c, casefold))
    return "".join(out)


def translate(pattern: str, casefold: bool) -> str:
    """The regex (over :func:`to_c_text` strings, to be used with ``fullmatch`` and
    ``re.DOTALL``) equivalent to ``fnmatch(pattern, value, FNM_CASEFOLD or 0)``."""
    return _translate_from([ord(ch) for ch in to_c_text(pattern)], 0, casefold)


@lru_cache(maxsize=4096)
def compile_pattern(pattern: str, casefold: bool) -> re.Pattern[str]:
    return re.compile(translate(pattern, casefold), _FLAGS)


def fnmatch(pattern: str, value: str, casefold: bool) -> bool:
    """``fnmatch(pattern, value, casefold ? FNM_CASEFOLD : 0) == 0`` as in OpenSIPS."""
    return compile_pattern(pattern, casefold).fullmatch(to_c_text(value)) is not None
