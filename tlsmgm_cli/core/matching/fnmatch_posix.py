"""POSIX ``fnmatch(3)`` exactly as OpenSIPS calls it: glibc, C locale, flags ``0`` or
``FNM_CASEFOLD`` (no ``FNM_PATHNAME``/``FNM_PERIOD``/``FNM_NOESCAPE``), behaviour §4.7.

Python's ``fnmatch`` module differs (no backslash escapes, ``[^...]`` not negated,
unicode case folding), so patterns are translated here to compiled regular expressions:

* both pattern and value are handled as **bytes** (UTF-8, one regex character per byte,
  via latin-1), like glibc in the C locale: ``?`` matches one byte, only ``A``-``Z``
  fold to lower case, and a C string ends at the first NUL;
* ``*`` matches any byte sequence (dots and a leading dot included), ``?`` one byte,
  ``\\x`` the byte ``x``; a trailing lone backslash never matches;
* matching takes polynomial time whatever the pattern (``[a]*a*a*a*a*b`` against 250
  bytes: microseconds; glibc itself backtracks exponentially there): see
  :func:`linear_regex`;
* a bracket expression is evaluated by an emulation of glibc 2.36's bracket loop for
  each of the 256 possible bytes, so ``[!...]``/``[^...]``, ``]`` first, ranges (folded
  on both ends), ``[:class:]``, ``[=c=]``, ``[.c.]``, escapes and the treatment of an
  unterminated ``[`` as a literal all behave like the C code.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

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
                startp = p
                name: list[str] = []
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


# A parsed pattern is a list of tokens, in order:
#   _STAR                       '*' (a run of stars is one)
#   (regex, bytes)              one byte out of a set: a literal, '?' or a bracket expression
#   _NEVER_TOKEN                nothing can match from here (a trailing lone backslash, a
#                               bracket expression no byte satisfies)
#   (None, [(bytes, index)])    a bracket expression whose end depends on the byte (glibc's
#                               bracket loop can stop at different places): the pattern
#                               continues at ``index`` - always the last token
_STAR = "*"
_NEVER_TOKEN = "never"
_ALL_BYTES = frozenset(range(256))


def _literal_bytes(byte: int, casefold: bool) -> frozenset[int]:
    low = _fold(byte, casefold)
    return frozenset((low, low - 32)) if casefold and 97 <= low <= 122 else frozenset((byte,))


def _parse_from(pat: list[int], i: int, casefold: bool) -> list[Any]:
    out: list[Any] = []
    n = len(pat)
    while i < n:
        c = pat[i]
        i += 1
        if c == ord("*"):
            while i < n and pat[i] == ord("*"):
                i += 1
            out.append(_STAR)
        elif c == ord("?"):
            out.append((".", _ALL_BYTES))
        elif c == _BS:
            if i >= n:  # trailing backslash loses
                out.append(_NEVER_TOKEN)
                return out
            out.append((_literal(pat[i], casefold), _literal_bytes(pat[i], casefold)))
            i += 1
        elif c == _LB:
            branches = _bracket_branches(pat, i, casefold)
            if not branches:
                out.append(_NEVER_TOKEN)
                return out
            if len(branches) == 1:
                members, i = branches[0]
                out.append((_byte_class(members), frozenset(members)))
                continue
            out.append((None, [(frozenset(members), end) for members, end in branches]))
            return out
        else:
            out.append((_literal(c, casefold), _literal_bytes(c, casefold)))
    return out


def _pattern_bytes(pattern: str) -> list[int]:
    return [ord(ch) for ch in to_c_text(pattern)]


def linear_regex(pattern: str, casefold: bool) -> str | None:
    """A regex (over :func:`to_c_text` strings, for ``fullmatch`` with ``re.DOTALL``)
    equivalent to ``fnmatch(pattern, value, FNM_CASEFOLD or 0)`` that cannot backtrack
    catastrophically; None for the rare pattern whose bracket expression ends at a place
    that depends on the byte (see :class:`_Nfa`).

    Without FNM_PATHNAME/FNM_PERIOD (OpenSIPS passes neither) a ``*`` matches any byte
    sequence, and every other token matches exactly one byte, so the pattern is
    ``S0*S1*...*Sk`` with fixed-length segments ``Si``. Such a pattern matches iff S0 is
    a prefix, Sk a suffix, and S1..Sk-1 occur in order in between, and placing each
    middle segment at its leftmost occurrence is never worse than any other placement.
    So each middle segment is an atomic ``(?>.*?Si)`` (found leftmost, never retried) and
    the last one ``.*Sk``: O(len(value) * len(pattern)) steps, where the plain translation
    ``.*S1.*S2...`` backtracks through O(len(value) ** stars) splits."""
    tokens = _parse_from(_pattern_bytes(pattern), 0, casefold)
    if _NEVER_TOKEN in tokens:
        return _NEVER
    segments: list[list[str]] = [[]]
    for tok in tokens:
        if tok is _STAR:
            segments.append([])
        elif tok[0] is None:
            return None
        else:
            segments[-1].append(tok[0])
    texts = ["".join(seg) for seg in segments]
    if len(texts) == 1:
        return texts[0]
    middle = "".join(f"(?>.*?{t})" for t in texts[1:-1])
    return texts[0] + middle + ".*" + texts[-1]


class _Nfa:
    """The pattern as a nondeterministic automaton, simulated one byte at a time over the
    set of live states: O(len(value) * len(pattern)) whatever the pattern. Used for the
    patterns :func:`linear_regex` cannot express (branching bracket expressions)."""

    __slots__ = ("_nodes", "_start")

    _ACCEPT = 0

    def __init__(self, pattern: str, casefold: bool):
        pat = _pattern_bytes(pattern)
        # node: ("accept",) | ("star", next) | ("byte", members, next) | ("split", [nodes])
        # | ("never",)
        self._nodes: list[tuple[Any, ...]] = [("accept",)]
        built: dict[int, int] = {}

        def build(index: int) -> int:
            if index in built:
                return built[index]
            nxt = self._ACCEPT
            for tok in reversed(_parse_from(pat, index, casefold)):
                if tok is _STAR:
                    node: tuple[Any, ...] = ("star", nxt)
                elif tok is _NEVER_TOKEN:
                    node = ("never",)
                elif tok[0] is None:
                    targets = []
                    for members, end in tok[1]:
                        self._nodes.append(("byte", members, build(end)))
                        targets.append(len(self._nodes) - 1)
                    node = ("split", targets)
                else:
                    node = ("byte", tok[1], nxt)
                self._nodes.append(node)
                nxt = len(self._nodes) - 1
            built[index] = nxt
            return nxt

        self._start = build(0)

    def _closure(self, states: set[int]) -> set[int]:
        nodes, todo, out = self._nodes, list(states), set()
        while todo:
            s = todo.pop()
            if s in out:
                continue
            out.add(s)
            node = nodes[s]
            if node[0] == "star":
                todo.append(node[1])
            elif node[0] == "split":
                todo.extend(node[1])
        return out

    def fullmatch(self, text: str) -> bool | None:
        """True when the pattern matches all of ``text`` (a :func:`to_c_text` string),
        else None (like ``re.Pattern.fullmatch``)."""
        nodes = self._nodes
        states = self._closure({self._start})
        for ch in text:
            byte = ord(ch)
            nxt = set()
            for s in states:
                node = nodes[s]
                if node[0] == "star":
                    nxt.add(s)
                elif node[0] == "byte" and byte in node[1]:
                    nxt.add(node[2])
            if not nxt:
                return None
            states = self._closure(nxt)
        return True if self._ACCEPT in states else None


@lru_cache(maxsize=4096)
def compile_pattern(pattern: str, casefold: bool) -> re.Pattern[str] | _Nfa:
    """An object whose ``fullmatch(to_c_text(value))`` is truthy exactly when
    ``fnmatch(pattern, value, casefold ? FNM_CASEFOLD : 0) == 0``, in polynomial time."""
    regex = linear_regex(pattern, casefold)
    return _Nfa(pattern, casefold) if regex is None else re.compile(regex, _FLAGS)


def fnmatch(pattern: str, value: str, casefold: bool) -> bool:
    """``fnmatch(pattern, value, casefold ? FNM_CASEFOLD : 0) == 0`` as in OpenSIPS."""
    return bool(compile_pattern(pattern, casefold).fullmatch(to_c_text(value)))
