"""Lexical rules of opensips.cfg (``cfg.lex``), as compiled regexes and small helpers.

Everything here works on the whole config text with positions, never char by char in
Python for the common case, so that a 60,000-line config reads in a fraction of a second.
The statement parser (``cfgparse``) builds on:

* ``Scanner``: skips blanks and comments (``#`` to end of line, nested ``/* */``) and
  returns the next ``Token``; lexical problems are handed to a ``report`` callback.
* ``unescape_dq`` / ``quote_cfg_string``: double-quoted string escapes both ways.
* ``parse_number``: decimal, hex ``0x..``, octal ``0[0-7]+``, signed; ``BOOL_WORDS``.
* ``skip_braces``: skips a ``{ ... }`` route body knowing strings, comments and m4 quotes.
* ``neutral_lines``: lines starting outside any string, comment, m4 quote or parenthesis
  (where a preprocessor location marker can safely be inserted).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

#: ``yes/true/on/enable`` and ``no/false/off/disable`` lex as the numbers 1 and 0.
BOOL_WORDS: dict[str, int] = {
    "yes": 1, "true": 1, "on": 1, "enable": 1,
    "no": 0, "false": 0, "off": 0, "disable": 0,
}

DQ_STRING = r'"[^"\\]*(?:\\.[^"\\]*)*"'
SQ_STRING = r"'[^']*'"
#: ``${VAR}`` (envsubst), ``{{{var}}}`` (Mustache) and ``{{ .Values.x }}`` (Go/Helm) on one line.
PLACEHOLDER = r"\$\{[^}\n]*\}|\{\{\{[^\n]*?\}\}\}|\{\{[^\n]*?\}\}"
NUMBER = r"[+-]?(?:0[xX][0-9a-fA-F]+|[0-9]+)(?![A-Za-z0-9_])"

PLACEHOLDER_RE = re.compile(PLACEHOLDER)
DQ_STRING_RE = re.compile(DQ_STRING, re.S)
SQ_STRING_RE = re.compile(SQ_STRING)
_BLANKS_RE = re.compile(r"(?:[ \t\r\n\f\v]++|#[^\n]*+)*+")
_TOKEN_RE = re.compile(
    rf"""(?P<dq>{DQ_STRING})
      |(?P<sq>{SQ_STRING})
      |(?P<ph>{PLACEHOLDER})
      |(?P<num>{NUMBER})
      |(?P<id>[A-Za-z_][A-Za-z0-9_]*)
      |(?P<baddq>")
      |(?P<badsq>')
      |(?P<punct>.)""",
    re.X | re.S,
)
_COMMENT_EDGE_RE = re.compile(r"/\*|\*/")
_ESCAPE_RE = re.compile(r"\\(x[0-9a-fA-F]{1,2}|[0-7]{2,3}|\r?\n|.)", re.S)
#: the include pre-pass's line marker (cfg_pp.c ``cfgtok_line``) and its other markers
LINE_MARKER = "__OSSPP_LINE__"
_PP_TOKENS = (LINE_MARKER, "__OSSPP_FILEBEGIN__", "__OSSPP_FILEEND__")
#: the rules of cfg.lex's STRING1 state that matter around backslash-newlines
_DQ_LEX_RE = re.compile(r"\\\n|\\(?:x[0-9a-fA-F]{1,2}|[0-7]{2,3}|[nrat\"\\])|\n|[^\\\n]+|\\")
_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "a": "\a", "t": "\t", '"': '"', "\\": "\\"}
_DEC_RE = re.compile(r"[+-]?(?:0|[1-9][0-9]*)")
_HEX_RE = re.compile(r"[+-]?0[xX][0-9a-fA-F]+")
_OCT_RE = re.compile(r"[+-]?0[0-7]+")


class Token(NamedTuple):
    """One lexical token: ``kind`` is dq, sq, ph, num, id, punct, bad (unterminated
    string, already reported) or eof; ``value`` is the unescaped string, the int, or
    the text; ``start``/``end`` are offsets in the scanned text."""

    kind: str
    value: str | int
    start: int
    end: int


Report = Callable[[str, int, str], None]  # (code, position, message)


def unescape_dq(body: str, line: int = 1) -> str:
    """Process the escapes of a double-quoted string body (quotes removed), per cfg.lex.

    ``\\n \\r \\a \\t \\" \\\\``, ``\\xH``/``\\xHH`` and ``\\OO``/``\\OOO`` are escapes;
    any other backslash sequence is kept as written.

    A backslash-newline is *not* a continuation (behaviour §1.3): OpenSIPS's include pre-pass
    puts a ``__OSSPP_LINE__ N`` line before every line, and the lexer drops only the
    backslash and the newline, so the marker of the next line and a newline end up in
    the value. ``line`` is the line on which ``body`` starts (N is counted from it).
    """
    if "\n" in body and "__OSSPP_" in body:  # marker-like text after a newline is eaten back too
        return _with_line_markers(body, line)
    if "\\" not in body:
        return body
    if "\\\n" in body:
        fast = _markers_fast(body, line)
        return fast if fast is not None else _with_line_markers(body, line)
    return _ESCAPE_RE.sub(_unescape_one, body)


_NEWLINE_ESCAPE_RE = re.compile(r"\\(?:n|x0?[aA]|0?12)")  # may give a newline (false hits are fine)
_BACKSLASHES_BEFORE_NL_RE = re.compile(r"(\\*)\n")


def _markers_fast(body: str, line: int) -> str | None:
    """``_with_line_markers`` in one pass of str operations for the usual body, where every
    newline follows an odd run of backslashes (is a backslash-newline) and no escape can
    give a newline; None otherwise. Piece 0 then gets the marker of line+1 and a newline;
    a later piece that is empty or starts with a marker word vanishes with its marker
    (the lexer eats both back), any other gets its marker and a newline."""
    if _NEWLINE_ESCAPE_RE.search(body):
        return None
    if any(len(m.group(1)) % 2 == 0 for m in _BACKSLASHES_BEFORE_NL_RE.finditer(body)):
        return None
    pieces = [_ESCAPE_RE.sub(_unescape_one, p) if "\\" in p else p for p in body.split("\\\n")]
    out = [pieces[0], f"{LINE_MARKER} {line + 1}\n"]
    for i in range(1, len(pieces) - 1):
        piece = pieces[i]
        if piece and not piece.startswith(_PP_TOKENS):
            out.append(piece)
            out.append(f"{LINE_MARKER} {line + i + 1}\n")
    out.append(pieces[-1])
    return "".join(out)


def _with_line_markers(body: str, line: int) -> str:
    """``unescape_dq`` of a body holding backslash-newlines: cfg.lex's STRING1 rules run
    on the text as the include pre-pass annotates it (a marker line after every newline).

    The value is kept as ``done`` (up to and including its last newline) and ``tail``
    (the text after it), so that eating back a marker line (cfg_pp.c ``eatback_pp_tok``:
    when the text after the value's last newline is a marker line, it is removed) only
    looks at the current line: linear in the size of the string."""
    annotated = []
    for i, piece in enumerate(body.split("\n")):
        if i:
            annotated.append(f"\n{LINE_MARKER} {line + i}\n")
        annotated.append(piece)
    done: list[str] = []
    tail: list[str] = []
    has_newline = False

    def eat_back() -> bool:
        nonlocal tail
        if has_newline and "".join(tail).startswith(_PP_TOKENS):
            tail = []
            return True
        return False

    for m in _DQ_LEX_RE.finditer("".join(annotated)):
        tok = m.group()
        if tok == "\\\n":  # <STRING1>\\{CR}: eat back a marker line, drop the newline
            eat_back()
            continue
        if tok == "\n":  # <STRING1>{CR}: a marker line is eaten back, else the newline kept
            if eat_back():
                continue
            char = tok
        elif tok[0] == "\\" and len(tok) > 1:  # an escape (\n, \x0a and \012 give a newline too)
            char = _unescape_one(_ESCAPE_RE.match(tok))  # type: ignore[arg-type]  # '\\' + any char matches
        else:
            tail.append(tok)
            continue
        if char == "\n":
            done.extend(tail)
            done.append(char)
            tail = []
            has_newline = True
        else:
            tail.append(char)
    return "".join(done) + "".join(tail)


def _unescape_one(m: re.Match[str]) -> str:
    seq = m.group(1)
    if seq in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[seq]
    if seq[0] == "x" and len(seq) > 1:
        return chr(int(seq[1:], 16))
    if len(seq) >= 2 and seq.isdigit() and seq[0] in "01234567":
        return chr(int(seq, 8) & 0xFF)
    return m.group(0)  # any other sequence (a CRLF after a backslash included) is kept


def quote_cfg_string(value: str) -> str:
    """Return ``value`` as a double-quoted cfg string that ``unescape_dq`` reads back.

    Backslash, quote, newline, CR and tab use their short escapes; other control
    characters use ``\\xHH``. Other characters are written as they are.
    """
    out = []
    for ch in value:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def parse_number(text: str) -> int | None:
    """The int value of a cfg number (``5060``, ``-1``, ``0x1F``, ``0666`` octal) or a
    yes/no-style word; None when ``text`` is not a valid cfg number."""
    if text in BOOL_WORDS:
        return BOOL_WORDS[text]
    for pattern, base in ((_DEC_RE, 10), (_HEX_RE, 16), (_OCT_RE, 8)):
        if pattern.fullmatch(text):
            return _strtol(text, base)
    return None


LONG_MAX = (1 << 63) - 1
_LONG_DIGITS = {10: 19, 16: 16, 8: 21}  # more digits than these can only overflow a long


def _strtol(text: str, base: int) -> int:
    """``strtol`` as the cfg lexer calls it: a value beyond a 64-bit long saturates to
    LONG_MAX / LONG_MIN (and a 5,000-digit literal costs nothing to read)."""
    negative = text.startswith("-")
    digits = text.lstrip("+-")
    if base == 16:
        digits = digits[2:]
    digits = digits.lstrip("0") or "0"
    value = LONG_MAX + 1 if len(digits) > _LONG_DIGITS[base] else int(digits, base)
    if negative:
        return max(-value, -LONG_MAX - 1)
    return min(value, LONG_MAX)


def skip_block_comment(text: str, pos: int) -> int | None:
    """``pos`` is at ``/*``: return the offset after the matching ``*/`` (comments nest),
    or None when the comment never closes."""
    depth = 0
    for m in _COMMENT_EDGE_RE.finditer(text, pos):
        depth += 1 if m.group() == "/*" else -1
        if depth == 0:
            return m.end()
    return None


def end_of_line(text: str, pos: int) -> int:
    """Offset just after the newline ending the line that holds ``pos`` (or the end)."""
    nl = text.find("\n", pos)
    return len(text) if nl < 0 else nl + 1


class Scanner:
    """Tokenizer over a whole config text; lexical errors go to ``report``."""

    def __init__(self, text: str, report: Report, line_at: Callable[[int], int] | None = None):
        self.text = text
        self.report = report
        #: the file line of an offset (the N of ``__OSSPP_LINE__ N`` in strings)
        self.line_at = line_at or (lambda pos: text.count("\n", 0, pos) + 1)

    def skip(self, pos: int) -> int:
        """Offset of the next token at or after ``pos`` (blanks and comments skipped)."""
        text = self.text
        while True:
            pos = _BLANKS_RE.match(text, pos).end()  # type: ignore[union-attr]  # always matches
            if not text.startswith("/*", pos):
                return pos
            end = skip_block_comment(text, pos)
            if end is None:
                self.report("unterminated-comment", pos, "unterminated '/*' comment (reaches the end of the file)")
                return len(text)
            pos = end

    def token(self, pos: int) -> Token:
        """The next token at or after ``pos``."""
        pos = self.skip(pos)
        if pos >= len(self.text):
            return Token("eof", "", pos, pos)
        m = _TOKEN_RE.match(self.text, pos)
        assert m is not None  # the last alternative matches any character
        kind = m.lastgroup or "punct"
        raw = m.group()
        if kind == "dq":
            if "\\\n" in raw:
                return Token("dq", unescape_dq(raw[1:-1], self.line_at(pos)), pos, m.end())
            return Token("dq", unescape_dq(raw[1:-1]), pos, m.end())
        if kind == "sq":
            return Token("sq", raw[1:-1], pos, m.end())
        if kind in ("baddq", "badsq"):
            self.report("unterminated-string", pos, "unterminated string (missing closing quote)")
            return Token("bad", raw, pos, end_of_line(self.text, pos))
        if kind == "num":
            value = parse_number(raw)
            return Token("num", value, pos, m.end()) if value is not None else Token("punct", raw, pos, m.end())
        if kind == "id" and raw in BOOL_WORDS:
            return Token("num", BOOL_WORDS[raw], pos, m.end())
        return Token(kind, raw, pos, m.end())


_BRACE_EDGE_RE = re.compile(r"""[{}"'#`]|/\*""")
_BRACE_EDGE_NO_M4_RE = re.compile(r"""[{}"'#]|/\*""")


def skip_braces(text: str, pos: int, *, m4: bool, report: Report) -> int | None:
    """``pos`` is at ``{``: return the offset after the matching ``}``, or None.

    Strings, ``#`` and nested ``/* */`` comments are skipped. With ``m4``, backquote
    opens an m4 quote and ``'`` closes one (a ``'`` outside m4 quotes starts a
    single-quoted string), so ``ifelse(X,`yes',`...')`` bodies do not unbalance it.
    """
    edge = _BRACE_EDGE_RE if m4 else _BRACE_EDGE_NO_M4_RE
    depth = 0
    m4_quotes = 0
    while True:
        m = edge.search(text, pos)
        if m is None:
            return None
        ch = m.group()
        pos = m.end()
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return pos
        elif ch == "#":
            pos = end_of_line(text, pos)
        elif ch == "/*":
            end = skip_block_comment(text, m.start())
            if end is None:
                report("unterminated-comment", m.start(), "unterminated '/*' comment (reaches the end of the file)")
                return None
            pos = end
        elif ch == "`":
            m4_quotes += 1
        elif ch == "'" and m4_quotes:
            m4_quotes -= 1
        else:
            pos = _skip_string(text, m.start(), report)


def _skip_string(text: str, pos: int, report: Report) -> int:
    """``pos`` is at a quote: the offset after the string (after the line if unterminated)."""
    m = (DQ_STRING_RE if text[pos] == '"' else SQ_STRING_RE).match(text, pos)
    if m is not None:
        return m.end()
    report("unterminated-string", pos, "unterminated string (missing closing quote)")
    return end_of_line(text, pos)


_NEUTRAL_EDGE_RE = re.compile(r"""[\n"'#`()]|/\*""")


def neutral_lines(text: str) -> list[bool]:
    """For each line of ``text`` (index 0 = line 1): does it start outside any string,
    comment, m4 quote and parenthesis? Used to place location markers safely before a
    preprocessor run (a marker inside a string or an m4 argument would change it)."""
    result = [True] * (text.count("\n") + 1)
    line = 0  # 0-based line of ``pos``
    depth = m4_quotes = 0
    pos = 0
    while True:
        m = _NEUTRAL_EDGE_RE.search(text, pos)
        if m is None:
            return result
        ch = m.group()
        start = m.start()
        pos = m.end()
        if ch == "\n":
            line += 1
            result[line] = depth == 0 and m4_quotes == 0
            continue
        if m4_quotes:
            m4_quotes += 1 if ch == "`" else -1 if ch == "'" else 0
            continue
        if ch == "`":
            m4_quotes = 1
            continue
        if ch == "(":
            depth += 1
            continue
        if ch == ")":
            depth = max(0, depth - 1)
            continue
        if ch == "#":
            newline_at = text.find("\n", pos)
            pos = len(text) if newline_at < 0 else newline_at
            continue
        if ch == "/*":
            end = skip_block_comment(text, start)
        else:
            sm = (DQ_STRING_RE if ch == '"' else SQ_STRING_RE).match(text, start)
            end = sm.end() if sm else None
        if end is None:  # unterminated: nothing after this is safe
            for i in range(line + 1, len(result)):
                result[i] = False
            return result
        for i in range(line + 1, line + 1 + text.count("\n", start, end)):
            result[i] = False
        line += text.count("\n", start, end)
        pos = end
