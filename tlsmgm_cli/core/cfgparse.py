"""Read an opensips.cfg into a ``ParsedConfig`` (top-level statements + diagnostics).

Reading happens in three steps, as in OpenSIPS:

1. **Include pre-pass** (``cfg_pp.c``): ``include_file "x"`` / ``import_file "x"`` lines
   are replaced by the file's text, recursively (depth 50, loops and missing files are
   errors at the include line). A ``_LineMap`` remembers which file and line every line
   of the flattened text came from.
2. Optional **preprocessor** (``opensips -p CMD``): the flattened text, with cpp-style
   ``# <line> "<file>"`` location markers inserted at safe line starts, is piped through
   ``sh -c CMD``; the markers that come back (m4 copies ``#`` comments, cpp rewrites
   them) map the output to the original files.
3. **Statement parse**: ``modparam``, ``loadmodule``, ``socket``/``listen`` and any other
   ``name = value`` are kept; route blocks are skipped; junk becomes a ``syntax``
   diagnostic and parsing resumes on the next line. Unexpanded templates (m4, ``${VAR}``,
   ``{{...}}``) are read best-effort with warnings.

Only an unreadable main file raises (``TlsmgmError``); everything else is a ``Diagnostic``.
"""

from __future__ import annotations

import codecs
import os
import re
import signal
import subprocess
from bisect import bisect_right
from dataclasses import dataclass, field

from tlsmgm_cli.core.cfglex import (
    DQ_STRING,
    NUMBER,
    PLACEHOLDER_RE,
    SQ_STRING,
    Scanner,
    Token,
    end_of_line,
    neutral_lines,
    parse_number,
    skip_braces,
    unescape_dq,
)
from tlsmgm_cli.core.cfgmodel import Assign, Loadmodule, Modparam, ParsedConfig, Socket, Statement
from tlsmgm_cli.core.errors import Diagnostic, Loc, TlsmgmError

MAX_INCLUDE_DEPTH = 50
PREPROCESSOR_TIMEOUT = 30.0
MAX_SYNTAX_DIAGNOSTICS = 50
M4_HINT = "this looks like an m4 template; read it through m4 with --pp m4"
TEMPLATE_HINT = "render the template (or pass --pp) before checking the result"

# ---------------------------------------------------------------------------------------
# Reading and decoding files

_LATIN1_FALLBACK = "tlsmgm-latin1-fallback"


def _latin1_fallback(err: UnicodeError) -> tuple[str, int]:
    """Decode the bytes that are not UTF-8 one by one as latin-1 (always printable)."""
    assert isinstance(err, UnicodeDecodeError)
    return err.object[err.start:err.end].decode("latin-1"), err.end


codecs.register_error(_LATIN1_FALLBACK, _latin1_fallback)

_CONTROL_RE = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")


def _looks_binary(text: str) -> bool:
    """NUL bytes, or more than 10% control characters in the first 4 KiB."""
    if "\x00" in text:
        return True
    sample = text[:4096]
    return bool(sample) and len(_CONTROL_RE.findall(sample)) * 10 > len(sample)


def _decode(data: bytes, name: str, diags: list[Diagnostic]) -> str:
    """UTF-8, with invalid bytes read as latin-1 (and a warning); a BOM is dropped."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        text = data.decode("utf-8", errors=_LATIN1_FALLBACK)
        if not _looks_binary(text):  # binary files get their own single error later
            line = data.count(b"\n", 0, err.start) + 1
            diags.append(Diagnostic("warning", "invalid-utf8", "file is not valid UTF-8; invalid bytes were read as latin-1", Loc(name, line)))
    return text[1:] if text.startswith("\ufeff") else text


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


# ---------------------------------------------------------------------------------------
# Line map: flattened-text line -> (file, line)


@dataclass
class _LineMap:
    """Segments of the flattened text: segment i starts at flat line ``starts[i]``,
    which is line ``origins[i][1]`` of file ``origins[i][0]``."""

    starts: list[int] = field(default_factory=list)
    origins: list[tuple[str, int]] = field(default_factory=list)

    def add(self, flat_line: int, file: str, line: int) -> None:
        if self.starts and self.starts[-1] == flat_line:
            self.origins[-1] = (file, line)
        else:
            self.starts.append(flat_line)
            self.origins.append((file, line))

    def loc(self, flat_line: int) -> Loc:
        i = max(0, bisect_right(self.starts, flat_line) - 1)
        file, line = self.origins[i]
        return Loc(file, line + flat_line - self.starts[i])

    def segment(self, flat_line: int) -> tuple[int, int, str, int]:
        """(first flat line, first flat line after it, file, offset) of the segment
        holding ``flat_line``; its file line is ``flat_line + offset``."""
        i = max(0, bisect_right(self.starts, flat_line) - 1)
        file, line = self.origins[i]
        end = self.starts[i + 1] if i + 1 < len(self.starts) else 1 << 62
        return self.starts[i], end, file, line - self.starts[i]


# ---------------------------------------------------------------------------------------
# Include pre-pass

_INCLUDE_RE = re.compile(r"""^[ \t]*(?:include_file|import_file)[ \t]*(["'])([^\n]*?)\1[^\n]*(?:\n|\Z)""", re.M)
_KAMAILIO_RE = re.compile(r"^[ \t]*#!(?!/)[^\n]*", re.M)
_M4_WORDS = ("define(`", "ifelse(", "divert(", "ifdef(`", "dnl")  # cheap pre-check for _M4_RE
_M4_RE = re.compile(r"^[^#\n]*?(?:define\(`|ifelse\(|divert\(|ifdef\(`)|^[ \t]*dnl\b", re.M)


@dataclass
class _Flattened:
    """The include-expanded text, where its lines came from, and per-file findings."""

    text: str
    lines: _LineMap
    files: list[str]
    m4_files: list[Loc]


class _Flattener:
    """Splices included files into one text (the ``cfg_pp.c`` pre-pass)."""

    def __init__(self, diags: list[Diagnostic], follow_includes: bool):
        self.diags = diags
        self.follow = follow_includes
        self.parts: list[str] = []
        self.lines = _LineMap()
        self.flat_line = 1
        self.files: list[str] = []
        self.m4_files: list[Loc] = []

    def result(self) -> _Flattened:
        if not self.lines.starts:
            self.lines.add(1, self.files[0] if self.files else "<string>", 1)
        return _Flattened("".join(self.parts), self.lines, self.files, self.m4_files)

    def add_file(self, name: str, text: str, base_dir: str, stack: list[str]) -> None:
        """Add ``text`` (the content of ``name``) with its includes expanded."""
        if name not in self.files:
            self.files.append(name)
        if _looks_binary(text):
            self.diags.append(Diagnostic("error", "binary-file", "not a text file (binary content); nothing read from it", Loc(name, 1)))
            return
        self._scan_file_features(name, text)
        pos, line = 0, 1
        if self.follow and "_file" in text:
            for m in _INCLUDE_RE.finditer(text):
                target = m.group(2)
                if len(target) < 2:  # cfg_pp.c ignores it; the parser reports it
                    continue
                self._emit(text[pos:m.start()], name, line)
                line += text.count("\n", pos, m.start())
                self._include(target, Loc(name, line), base_dir, stack)
                pos = m.end()
                line += 1
        self._emit(text[pos:], name, line)

    def _scan_file_features(self, name: str, text: str) -> None:
        """Kamailio ``#!`` directives and m4 templates (by content or a ``.m4`` name)."""
        m = _KAMAILIO_RE.search(text) if "#!" in text else None
        if m:
            loc = Loc(name, text.count("\n", 0, m.start()) + 1)
            self.diags.append(Diagnostic(
                "warning", "kamailio-directive",
                f"Kamailio-style directive ignored by OpenSIPS (a plain '#' comment): {m.group().strip()[:60]}",
                loc, hint="OpenSIPS has no '#!' preprocessor; use --pp with m4 or cpp instead",
            ))
        m = _M4_RE.search(text) if any(word in text for word in _M4_WORDS) else None
        if m:
            self.m4_files.append(Loc(name, text.count("\n", 0, m.start()) + 1))
        elif ".m4" in os.path.basename(name):
            self.m4_files.append(Loc(name, 1))

    def _emit(self, chunk: str, name: str, line: int) -> None:
        if not chunk:
            return
        self.lines.add(self.flat_line, name, line)
        self.parts.append(chunk)
        self.flat_line += chunk.count("\n")

    def _include(self, target: str, at: Loc, base_dir: str, stack: list[str]) -> None:
        if len(stack) > MAX_INCLUDE_DEPTH:
            self.diags.append(Diagnostic("error", "include-depth", f"include nesting deeper than {MAX_INCLUDE_DEPTH} files at \"{target}\"", at))
            return
        candidates = [target] if os.path.isabs(target) else [os.path.join(base_dir, target), os.path.join(os.getcwd(), target)]
        path = next((c for c in candidates if os.path.exists(c)), None)
        if path is None:
            tried = ", ".join(dict.fromkeys(candidates))
            self.diags.append(Diagnostic("error", "include-missing", f"included file \"{target}\" not found (tried {tried})", at))
            return
        real = os.path.realpath(path)
        if real in stack:
            chain = " -> ".join([*stack[stack.index(real):], real])
            self.diags.append(Diagnostic("error", "include-loop", f"include loop: {chain}", at))
            return
        try:
            data = _read_bytes(path)
        except OSError as err:
            self.diags.append(Diagnostic("error", "include-unreadable", f"cannot read included file \"{path}\": {err.strerror or err}", at))
            return
        text = _decode(data, path, self.diags)
        if text and not text.endswith("\n"):
            text += "\n"
        self.add_file(path, text, os.path.dirname(path), [*stack, real])


# ---------------------------------------------------------------------------------------
# Preprocessor


_MARKER_RE = re.compile(r'^#(?:line)?[ \t]*(\d+)[ \t]+"((?:[^"\\\n]|\\.)*)"[^\n]*\n', re.M)


def _with_markers(flat: _Flattened) -> str:
    """The flattened text with a ``# <line> "<file>"`` marker before each safe line."""
    out = []
    safe = neutral_lines(flat.text)
    lines = flat.text.split("\n")
    for i, line in enumerate(lines):
        if safe[i]:
            loc = flat.lines.loc(i + 1)
            file = loc.file.replace("\\", "\\\\").replace('"', '\\"')
            out.append(f'# {loc.line} "{file}"\n')
        out.append(line if i == len(lines) - 1 else line + "\n")
    return "".join(out)


def _lines_from_markers(text: str, main: str) -> _LineMap:
    """Map preprocessor output back to the original files through the markers it kept;
    without markers, output line N is reported as line N of the main file."""
    lines = _LineMap()
    lines.add(1, main, 1)
    flat_line, last = 1, 0
    for m in _MARKER_RE.finditer(text):
        flat_line += text.count("\n", last, m.end())
        last = m.end()
        file = re.sub(r"\\(.)", r"\1", m.group(2))
        lines.add(flat_line, file, int(m.group(1)))
    return lines


def _run_preprocessor(cmd: str, text: str, timeout: float) -> tuple[str | None, str]:
    """Run ``sh -c cmd`` with ``text`` on stdin: (stdout, "") or (None, why it failed)."""
    try:
        proc = subprocess.Popen(
            ["sh", "-c", cmd], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, start_new_session=True,
        )
    except OSError as err:
        return None, f"cannot run preprocessor '{cmd}': {err.strerror or err}"
    try:
        out, err_out = proc.communicate(text.encode("utf-8", errors="replace"), timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return None, f"preprocessor '{cmd}' timed out after {timeout:g} s"
    if proc.returncode != 0:
        lines = [ln for ln in err_out.decode("utf-8", errors="replace").splitlines() if ln.strip()]
        why = f": {lines[-1].strip()}" if lines else ""
        return None, f"preprocessor '{cmd}' failed (exit status {proc.returncode}){why}"
    return out.decode("utf-8", errors=_LATIN1_FALLBACK), ""


# ---------------------------------------------------------------------------------------
# Statement parser

#: Blanks and ``#`` comments, then the common ``modparam("m", "p", "v" | int)`` form.
_FAST_MODPARAM_RE = re.compile(
    r'(?:[ \t\r\n]++|#[^\n]*+)*+(?P<kw>modparam)[ \t]*\([ \t]*"([^"\\\n]*)"[ \t]*,[ \t]*"([^"\\\n]*)"[ \t]*,[ \t]*'
    r'(?:"([^"\\\n]*)"|(-?(?:[1-9][0-9]*|0)|0[xX][0-9a-fA-F]+))[ \t]*\)[ \t]*;?'
)
_ROUTE_NAME_RE = re.compile(r"[a-z_]*route")
_ROUTE_ARG_RE = re.compile(r"\[[^\]\n]*\]")
_M4_SKIPPED_CALLS = frozenset({
    "define", "undefine", "divert", "include", "sinclude", "changequote", "changecom",
    "pushdef", "popdef", "syscmd", "esyscmd", "errprint", "m4exit", "undivert",
})
_M4_CONDITIONALS = {"ifelse": 2, "ifdef": 1}  # arguments before the first body
_M4_ARG = r"(?:[A-Za-z_$][\w${}]*|`[^`'\n]*')"
#: Closing quotes of an ifelse() body, the separators after them, and the condition pairs
#: of a multi-branch ifelse (``',B,`yes',`...``), up to an optional ``dnl``.
_M4_JUNK_RE = re.compile(
    rf"(?:[`']++[ \t]*+(?:[,)]\s*+(?:{_M4_ARG}\s*,\s*{_M4_ARG}\s*,\s*)?)*+)++(?:dnl\b[^\n]*\n?)?"
)
_TOP_LEVEL_CLOSE_RE = re.compile(r"^\}", re.M)
_SCALING_LINES_RE = re.compile(r"(?:\s+scale\b[^\n#]*)+")
_M4_CALL_EDGE_RE = re.compile(r"[`'(),#]")
_DNL_RE = re.compile(r"dnl\b[^\n]*\n?")
_STRINGS_RE = re.compile(rf"(?:{DQ_STRING}|{SQ_STRING})(?:\s*(?:{DQ_STRING}|{SQ_STRING}))*", re.S)
_STRING_PART_RE = re.compile(rf"({DQ_STRING})|({SQ_STRING})", re.S)
_REST_RE = re.compile(rf"""(?:{DQ_STRING}|{SQ_STRING}|[^#\n"'/]|/(?!\*))*""", re.S)
_REST_M4_RE = re.compile(rf"""(?:{DQ_STRING}|[^#\n"'`/]|/(?!\*))*""", re.S)
_NUMBER_RE = re.compile(NUMBER)
_ID_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _SyntaxError(Exception):
    """Raised inside a statement; the parser reports it and resumes on the next line."""

    def __init__(self, pos: int, message: str, reported: bool = False):
        super().__init__(message)
        self.pos = pos
        self.message = message
        self.reported = reported


class _Parser:
    """Top-level statements of a flattened config text."""

    def __init__(self, text: str, lines: _LineMap, diags: list[Diagnostic], *, m4: bool, follow_includes: bool):
        self.text = text
        self.lines = lines
        self.diags = diags
        self.m4 = m4
        self.follow_includes = follow_includes
        self.scanner = Scanner(text, self._lex_report)
        self.statements: list[Statement] = []
        self.placeholders: dict[str, Loc] = {}
        self.syntax_count = 0
        self._line_pos = 0
        self._line_no = 1
        self._rest_re = _REST_M4_RE if m4 else _REST_RE

    # -- locations and diagnostics ------------------------------------------------------

    def loc(self, pos: int) -> Loc:
        if pos < self._line_pos:
            self._line_no -= self.text.count("\n", pos, self._line_pos)
        else:
            self._line_no += self.text.count("\n", self._line_pos, pos)
        self._line_pos = pos
        return self.lines.loc(self._line_no)

    def _lex_report(self, code: str, pos: int, message: str) -> None:
        self.diags.append(Diagnostic("error", code, message, self.loc(pos)))

    def syntax(self, pos: int, message: str) -> None:
        self.syntax_count += 1
        if self.syntax_count > MAX_SYNTAX_DIAGNOSTICS:
            return
        if self.syntax_count == MAX_SYNTAX_DIAGNOSTICS:
            message += " (further syntax errors are not reported)"
        severity = "warning" if self.m4 else "error"
        hint = M4_HINT if self.m4 else None
        self.diags.append(Diagnostic(severity, "syntax", message, self.loc(pos), hint=hint))

    def note_placeholders(self, value: str, pos: int) -> None:
        if "{" not in value:
            return
        for m in PLACEHOLDER_RE.finditer(value):
            if m.group() not in self.placeholders:
                self.placeholders[m.group()] = self.loc(pos)

    # -- main loop ----------------------------------------------------------------------

    def run(self) -> list[Statement]:
        text, n = self.text, len(self.text)
        pos = 0
        while True:
            pos = self.fast_modparams(pos)
            pos = self.scanner.skip(pos)
            if pos >= n:
                break
            try:
                pos = self.statement(pos)
            except _SyntaxError as err:
                if not err.reported:
                    self.syntax(err.pos, err.message)
                pos = end_of_line(text, err.pos)
        for ph, loc in self.placeholders.items():
            self.diags.append(Diagnostic("warning", "template-placeholder", f"unexpanded template placeholder {ph}", loc, hint=TEMPLATE_HINT))
        return self.statements

    def statement(self, pos: int) -> int:
        """Parse the statement at ``pos`` (blanks skipped); return the offset after it."""
        text = self.text
        if self.m4 and text[pos] in "`'":
            return _M4_JUNK_RE.match(text, pos).end()  # type: ignore[union-attr]
        tok = self.scanner.token(pos)
        if tok.kind == "ph":
            self.note_placeholders(str(tok.value), pos)
            return tok.end
        if tok.kind != "id":
            raise self._unexpected(tok, "a statement")
        word = str(tok.value)
        if word == "modparam":
            return self.modparam(tok)
        if word == "loadmodule":
            return self.loadmodule(tok)
        if word in ("include_file", "import_file"):
            return self.unexpanded_include(tok)
        if self.m4 and (word == "dnl" or word in _M4_SKIPPED_CALLS or word in _M4_CONDITIONALS):
            return self.m4_builtin(tok)
        nxt = self.scanner.token(tok.end)
        if nxt.value == "=" and nxt.kind == "punct":
            if word in ("socket", "listen"):
                return self.socket(tok, nxt.end)
            return self.assign(tok, nxt.end)
        if _ROUTE_NAME_RE.fullmatch(word):
            return self.route(tok)
        raise self._unexpected(tok, "a statement")

    def _unexpected(self, tok: Token, expected: str) -> _SyntaxError:
        if tok.kind == "bad":
            return _SyntaxError(tok.start, "", reported=True)
        if tok.kind == "eof":
            return _SyntaxError(tok.start, f"unexpected end of file, expected {expected}")
        shown = self.text[tok.start:tok.end].split("\n", 1)[0][:40]
        return _SyntaxError(tok.start, f"syntax error: unexpected '{shown}', expected {expected}")

    def expect(self, pos: int, value: str, what: str | None = None) -> Token:
        tok = self.scanner.token(pos)
        if tok.kind != "punct" or tok.value != value:
            raise self._unexpected(tok, what or f"'{value}'")
        return tok

    def expect_string(self, pos: int, what: str) -> Token:
        tok = self.scanner.token(pos)
        if tok.kind not in ("dq", "sq"):
            raise self._unexpected(tok, what)
        return tok

    # -- statements ---------------------------------------------------------------------

    def fast_modparams(self, pos: int) -> int:
        """Read the run of simple ``modparam`` lines starting at ``pos`` (the hot path of
        big generated configs) with one regex match each; return where the run stops."""
        text, match, append = self.text, _FAST_MODPARAM_RE.match, self.statements.append
        line_pos, line_no = self._line_pos, self._line_no
        seg_start, seg_end, seg_file, seg_offset = 0, 0, "", 0
        while (m := match(text, pos)) is not None:
            kw = m.start("kw")
            line_no += text.count("\n", line_pos, kw)
            line_pos = kw
            if not seg_start <= line_no < seg_end:
                seg_start, seg_end, seg_file, seg_offset = self.lines.segment(line_no)
            loc = Loc(seg_file, line_no + seg_offset)
            _, module, param, sval, ival = m.groups()
            if sval is not None:
                append(Modparam(module, param, sval, "str", loc, f'"{sval}"'))
                if "{" in sval or "{" in module:
                    self.note_placeholders(module + sval, kw)
            else:
                append(Modparam(module, param, int(ival, 0), "int", loc, ival))
            pos = m.end()
        self._line_pos, self._line_no = line_pos, line_no
        return pos

    def modparam(self, kw: Token) -> int:
        open_ = self.expect(kw.end, "(")
        module = self.expect_string(open_.end, "the module name (a quoted string)")
        comma = self.expect(module.end, ",")
        param = self.expect_string(comma.end, "the parameter name (a quoted string)")
        comma = self.expect(param.end, ",")
        first = self.scanner.token(comma.end)
        end = first.end
        value: str | int
        if first.kind in ("dq", "sq"):
            parts = [str(first.value)]
            nxt = self.scanner.token(end)
            while nxt.kind in ("dq", "sq"):  # folded_string: "a" "b" -> "ab"
                parts.append(str(nxt.value))
                end = nxt.end
                nxt = self.scanner.token(end)
            value, kind = "".join(parts), "str"
        elif first.kind == "num":
            value, kind = int(first.value), "int"
        elif first.kind in ("id", "ph"):
            value, kind = str(first.value), "id"
            if first.kind == "id":
                self.syntax(first.start, f"modparam value {first.value} is neither a quoted string nor a number")
        else:
            raise self._unexpected(first, "the value (a quoted string or a number)")
        raw = self.text[first.start:end]
        close = self.expect(end, ")")
        self.note_placeholders(str(module.value), kw.start)
        self.note_placeholders(raw, kw.start)
        self.statements.append(Modparam(str(module.value), str(param.value), value, kind, self.loc(kw.start), raw))
        return self._optional_semicolon(close.end)

    def _optional_semicolon(self, pos: int) -> int:
        tok = self.scanner.token(pos)
        return tok.end if tok.kind == "punct" and tok.value == ";" else pos

    def loadmodule(self, kw: Token) -> int:
        path = self.expect_string(kw.end, "the module path (a quoted string)")
        name = os.path.basename(str(path.value))
        name = name[:-3] if name.endswith(".so") else name
        self.note_placeholders(str(path.value), kw.start)
        self.statements.append(Loadmodule(str(path.value), name, self.loc(kw.start)))
        return self._optional_semicolon(path.end)

    def unexpanded_include(self, kw: Token) -> int:
        if self.follow_includes:  # the pre-pass only leaves malformed directives behind
            raise _SyntaxError(kw.start, f"{kw.value} needs a quoted file path of at least 2 characters")
        self.diags.append(Diagnostic("note", "include-skipped", f"{kw.value} not followed (includes are turned off)", self.loc(kw.start)))
        return end_of_line(self.text, kw.start)

    def rest_of_line(self, pos: int) -> tuple[str, int]:
        """The value text from ``pos`` to a comment or the end of the line (strings
        may span lines), without a trailing ';'; and the offset after it."""
        end = self._rest_re.match(self.text, pos).end()  # type: ignore[union-attr]
        value = self.text[pos:end].strip()
        if value.endswith(";"):
            value = value[:-1].rstrip()
        return value, end

    def assign(self, name: Token, pos: int) -> int:
        raw, end = self.rest_of_line(pos)
        if not raw:
            raise _SyntaxError(pos, f"missing value after '{name.value} ='")
        value: str | int | None
        if _STRINGS_RE.fullmatch(raw):
            value, kind = _join_strings(raw), "str"
        elif (num := parse_number(raw)) is not None:
            value, kind = num, "int"
        elif _ID_RE.fullmatch(raw):
            value, kind = raw, "id"
        else:
            value, kind = raw, "other"
        if name.value == "auto_scaling_profile":  # "NAME scale up to ... scale down to ..." lines
            m = _SCALING_LINES_RE.match(self.text, end)
            if m:
                raw, end = raw + m.group(), m.end()
                value, kind = raw, "other"
        self.note_placeholders(raw, name.start)
        self.statements.append(Assign(str(name.value), value, kind, self.loc(name.start), raw))
        return end

    def socket(self, kw: Token, pos: int) -> int:
        raw, end = self.rest_of_line(pos)
        start_loc = self.loc(kw.start)
        if kw.value == "listen":
            self.diags.append(Diagnostic("warning", "listen-deprecated", "'listen' is deprecated, use 'socket' instead", start_loc, hint="rename 'listen' to 'socket'"))
        if raw.lower().startswith("bond:"):
            brace = self.text.find("{", pos, end)
            block_end = skip_braces(self.text, brace, m4=self.m4, report=self._lex_report) if brace >= 0 else None
            self.diags.append(Diagnostic("warning", "socket-bond", f"bond socket '{raw.split('{')[0].strip()}' is not analysed", start_loc))
            return block_end if block_end is not None else end
        if not raw:
            raise _SyntaxError(pos, f"missing socket definition after '{kw.value} ='")
        self.note_placeholders(raw, kw.start)
        try:
            sock = parse_socket(raw)
        except ValueError as err:
            raise _SyntaxError(kw.start, f"bad socket definition '{raw}': {err}") from None
        self.statements.append(Socket(str(kw.value), sock.proto, sock.host, sock.port, start_loc, sock.port_end, sock.attrs, raw))
        return end

    def route(self, kw: Token) -> int:
        pos = self.scanner.skip(kw.end)
        arg = _ROUTE_ARG_RE.match(self.text, pos)
        brace = self.expect(arg.end() if arg else pos, "{", f"'{{' opening the {kw.value} block")
        end = skip_braces(self.text, brace.start, m4=self.m4, report=self._lex_report)
        if self.m4:
            end = self._m4_route_end(brace.start, end)
        if end is None:
            self.syntax(kw.start, f"unclosed '{{' of {kw.value} block (reaches the end of the file)")
            return len(self.text)
        return end

    def _m4_route_end(self, brace: int, end: int | None) -> int | None:
        """In an m4 template both ifelse() branches are read, so braces may not balance
        (``ifelse(X,`yes',`if (a) {',`if (b) {')``): end the block at the first ``}`` in
        column 0 unless the block closed on its own first line."""
        col0 = _TOP_LEVEL_CLOSE_RE.search(self.text, brace)
        if col0 is None or (end is not None and "\n" not in self.text[brace:end]):
            return end
        return col0.end()

    def m4_builtin(self, kw: Token) -> int:
        """Best effort over an unexpanded m4 template: skip ``dnl`` and definitions;
        for ``ifelse``/``ifdef`` skip the condition and read the bodies as statements
        (their closing quotes are skipped as m4 junk by ``statement``)."""
        if kw.value == "dnl":
            return end_of_line(self.text, kw.start)
        if not self.text.startswith("(", kw.end):
            raise _SyntaxError(kw.start, f"m4 macro {kw.value} without arguments")
        skip_args = _M4_CONDITIONALS.get(str(kw.value))
        end = _skip_m4_call(self.text, kw.end, stop_after_commas=skip_args)
        if end is None:
            raise _SyntaxError(kw.start, f"unbalanced m4 call {kw.value}(")
        if skip_args is not None:
            return end + 1 if self.text.startswith("`", end) else end
        m = _DNL_RE.match(self.text, end)
        return m.end() if m else end


def _join_strings(raw: str) -> str:
    """The value of adjacent quoted strings (escapes processed in double quotes)."""
    return "".join(unescape_dq(dq[1:-1]) if dq else sq[1:-1] for dq, sq in _STRING_PART_RE.findall(raw))


def _skip_m4_call(text: str, pos: int, *, stop_after_commas: int | None) -> int | None:
    """``pos`` is at ``(``: the offset after the matching ``)`` (m4 quotes and comments
    respected), or, with ``stop_after_commas=k``, the offset of the first non-blank after
    the k-th top-level comma. None when the call does not close."""
    depth = quotes = commas = 0
    for m in _M4_CALL_EDGE_RE.finditer(text, pos):
        ch = m.group()
        if ch == "`":
            quotes += 1
        elif ch == "'":
            quotes = max(0, quotes - 1)
        elif quotes:
            continue
        elif ch == "#":
            continue  # m4 comments inside arguments are rare; treated as text
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return m.end()
        elif ch == "," and depth == 1:
            commas += 1
            if commas == stop_after_commas:
                end = m.end()
                while end < len(text) and text[end] in " \t\r\n":
                    end += 1
                return end
    return None


# ---------------------------------------------------------------------------------------
# socket= definitions

SOCKET_FLAGS = frozenset({
    "anycast", "frag", "reuse_port", "accept_subdomain",
    "allow_proxy_protocol", "send_proxy_protocol", "proxy_protocol",
})
SOCKET_INT_ATTRS = frozenset({"use_workers", "tos"})
SOCKET_STR_ATTRS = frozenset({"as", "tag", "use_auto_scaling_profile"})
_SOCKET_WORD_RE = re.compile(r"""(?:"[^"]*"|'[^']*'|[^\s"'])+""")
_PROTO_RE = re.compile(r"([A-Za-z][A-Za-z0-9_]*):(?![0-9]+(?:-[0-9]+)?$)")
_PORT_RE = re.compile(r"([0-9]+)(?:-([0-9]+))?")
_IPV6_CHARS = frozenset("0123456789abcdefABCDEF:.")
_HOST_RE = re.compile(rf"(?:[A-Za-z0-9_.*-]|{PLACEHOLDER_RE.pattern})+")


@dataclass
class SocketAddress:
    """A parsed ``socket=`` value (see ``Socket``)."""

    proto: str
    host: str
    port: int | None
    port_end: int | None
    attrs: dict[str, str | int | bool]


def parse_socket(definition: str) -> SocketAddress:
    """Parse ``proto:host[:port[-end]] [attributes]``; raise ValueError saying what is wrong.

    Without a proto, OpenSIPS listens on UDP. A bare IPv6 address takes no port (the
    lexer reads ``fe80::1:5060`` as one address); use ``[fe80::1]:5060``.
    """
    words = _SOCKET_WORD_RE.findall(_join_colons(definition))
    if not words:
        raise ValueError("empty definition")
    proto, host, port, port_end = _parse_address(words[0])
    attrs: dict[str, str | int | bool] = {}
    i = 1
    while i < len(words):
        key = words[i].lower()
        if key in SOCKET_FLAGS:
            attrs[key] = True
            i += 1
            continue
        if key not in SOCKET_INT_ATTRS and key not in SOCKET_STR_ATTRS:
            raise ValueError(f"unknown socket attribute '{words[i]}'")
        if i + 1 >= len(words):
            raise ValueError(f"'{words[i]}' needs a value")
        arg = words[i + 1].strip("\"'")
        if key in SOCKET_INT_ATTRS and (num := parse_number(arg)) is not None:
            attrs[key] = num
        elif key == "use_workers":
            raise ValueError(f"use_workers needs a number, not '{arg}'")
        else:
            attrs[key] = arg
        i += 2
    return SocketAddress(proto, host, port, port_end, attrs)


def _join_colons(definition: str) -> str:
    """Remove blanks around ':' outside quotes (``udp : 1.2.3.4 : 5060`` is legal)."""
    return re.sub(r"""("[^"]*"|'[^']*')|\s*:\s*""", lambda m: m.group(1) or ":", definition)


def _is_bare_ipv6(addr: str) -> bool:
    """Hex digits, dots and at least two colons (``::1``, ``fe80::1:5060``)."""
    return addr.count(":") >= 2 and set(addr) <= _IPV6_CHARS


def _parse_address(addr: str) -> tuple[str, str, int | None, int | None]:
    proto = "udp"
    m = _PROTO_RE.match(addr)
    if m and not _is_bare_ipv6(addr):
        proto, addr = m.group(1).lower(), addr[m.end():]
    if not addr:
        raise ValueError("empty host")
    if addr.startswith("["):
        close = addr.find("]")
        if close < 0:
            raise ValueError("missing ']' after the IPv6 address")
        host, rest = addr[1:close], addr[close + 1:]
    elif addr[:1] in "\"'":
        close = addr.find(addr[0], 1)
        if close < 0:
            raise ValueError("unterminated quoted host")
        host, rest = addr[1:close], addr[close + 1:]
    elif _is_bare_ipv6(addr):
        return proto, addr, None, None
    else:
        hm = _HOST_RE.match(addr)
        if not hm:
            raise ValueError(f"bad host '{addr}'")
        host, rest = hm.group(), addr[hm.end():]
    if not host:
        raise ValueError("empty host")
    if not rest:
        return proto, host, None, None
    pm = _PORT_RE.fullmatch(rest[1:]) if rest[0] == ":" else None
    if pm:
        return proto, host, int(pm.group(1)), int(pm.group(2)) if pm.group(2) else None
    if rest[0] == ":" and PLACEHOLDER_RE.fullmatch(rest[1:]):
        return proto, host, None, None
    raise ValueError(f"bad port '{rest.lstrip(':')}'" if rest[0] == ":" else f"unexpected '{rest}' after the host")


# ---------------------------------------------------------------------------------------
# Public API


def read_config(path: str, *, preprocessor: str | None = None, follow_includes: bool = True) -> ParsedConfig:
    """Read the config file ``path`` (see the module docstring).

    Raises ``TlsmgmError`` only when ``path`` itself cannot be read.
    """
    try:
        data = _read_bytes(path)
    except IsADirectoryError:
        raise TlsmgmError(f"cannot read config {path}: it is a directory") from None
    except OSError as err:
        raise TlsmgmError(f"cannot read config {path}: {err.strerror or err}") from None
    diags: list[Diagnostic] = []
    text = _decode(data, path, diags)
    base_dir = os.path.dirname(os.path.abspath(path))
    return _read(text, path, base_dir, os.path.realpath(path), preprocessor, follow_includes, diags, PREPROCESSOR_TIMEOUT)


def read_config_text(
    text: str,
    name: str = "<string>",
    *,
    base_dir: str | None = None,
    preprocessor: str | None = None,
    follow_includes: bool = True,
    preprocessor_timeout: float = PREPROCESSOR_TIMEOUT,
) -> ParsedConfig:
    """Read config ``text`` as if it were the file ``name``; relative includes are looked
    up in ``base_dir`` (default: the current directory), then the current directory."""
    base_dir = base_dir or os.getcwd()
    main_real = os.path.realpath(os.path.join(base_dir, name))
    return _read(text, name, base_dir, main_real, preprocessor, follow_includes, [], preprocessor_timeout)


def _read(text: str, name: str, base_dir: str, main_real: str, preprocessor: str | None,
          follow_includes: bool, diags: list[Diagnostic], timeout: float) -> ParsedConfig:
    flattener = _Flattener(diags, follow_includes)
    flattener.add_file(name, text, base_dir, [main_real])
    flat = flattener.result()
    result = ParsedConfig(path=name, files=flat.files, diagnostics=diags, preprocessor=preprocessor)
    m4 = False
    if preprocessor:
        out, why = _run_preprocessor(preprocessor, _with_markers(flat), timeout)
        if out is None:
            diags.append(Diagnostic("error", "preprocessor-failed", why, Loc(name, 1)))
            return result
        parse_text, lines = out, _lines_from_markers(out, name)
    else:
        parse_text, lines = flat.text, flat.lines
        for loc in flat.m4_files:
            diags.append(Diagnostic("warning", "m4-template", "unexpanded m4 template: read best-effort, both branches of every ifelse() are kept", loc, hint=M4_HINT))
        m4 = bool(flat.m4_files)
    parser = _Parser(parse_text, lines, diags, m4=m4, follow_includes=follow_includes)
    result.statements = parser.run()
    return result
