"""Read an opensips.cfg into a ``ParsedConfig`` (top-level statements + diagnostics).

Reading happens in three steps, as in OpenSIPS:

1. **Include pre-pass** (``cfg_pp.c``): ``include_file "x"`` / ``import_file "x"`` lines
   are replaced by the file's text, recursively (depth 50, loops and missing files are
   errors at the include line). A ``_LineMap`` remembers which file and line every line
   of the flattened text came from.
2. Optional **preprocessor** (``opensips -p CMD``): the flattened text, with cpp-style
   ``# <line> "<file>"`` location markers inserted at safe line starts, is piped through
   the program CMD (split into words like a shell would, but run without a shell, as
   OpenSIPS does); the markers that come back (m4 copies ``#`` comments, cpp rewrites
   them) map the output to the original files. Its output is capped at
   ``limits.CONFIG_MAX_BYTES`` and its run at ``limits.PREPROCESSOR_TIMEOUT_S``.
3. **Statement parse**: ``modparam``, ``loadmodule``, ``socket``/``listen`` and any other
   ``name = value`` are kept; route blocks are skipped; junk becomes a ``syntax``
   diagnostic and parsing resumes on the next line. Unexpanded templates (m4, ``${VAR}``,
   ``{{...}}``) are read best-effort with warnings.

Every file is read through ``safeio`` (regular files only, ``limits.CONFIG_MAX_BYTES``
each and for the whole flattened text). A file that holds a PEM private key is never
parsed, so no diagnostic can quote a byte of it.

Only an unreadable main file raises (``TlsmgmError``: ``safeio.UnsafeInput``); everything else is a ``Diagnostic``.
"""

from __future__ import annotations

import os
import re
import selectors
import shlex
import signal
import socket
import subprocess
import threading
import time
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO

from tlsmgm_cli.core.cfg.lex import (
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
from tlsmgm_cli.core.cfg.model import Assign, Loadmodule, Modparam, ParsedConfig, Socket, Statement
from tlsmgm_cli.core.errors import Diagnostic, Loc, UsageError
from tlsmgm_cli.core.limits import CONFIG_MAX_BYTES, INCLUDES_MAX, PREPROCESSOR_TIMEOUT_S, RESOLVE_TIMEOUT_S
from tlsmgm_cli.core.util.safeio import UnsafeInput, limit_text, read_bytes_limited

MAX_INCLUDE_DEPTH = 50
PREPROCESSOR_TIMEOUT = PREPROCESSOR_TIMEOUT_S
MAX_SYNTAX_DIAGNOSTICS = 50
M4_HINT = "this looks like an m4 template; read it through m4 with --pp m4"
TEMPLATE_HINT = "render the template (or pass --pp) before checking the result"

# ---------------------------------------------------------------------------------------
# Reading and decoding files

_CONTROL_RE = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")


def _looks_binary(text: str) -> bool:
    """NUL bytes, or more than 10% control characters in the first 4 KiB."""
    if "\x00" in text:
        return True
    sample = text[:4096]
    return bool(sample) and len(_CONTROL_RE.findall(sample)) * 10 > len(sample)


def _decode(data: bytes, name: str, diags: list[Diagnostic]) -> str:
    """UTF-8; a BOM is dropped. Bytes that are not UTF-8 are kept as they are (lone
    surrogates, ``surrogateescape``), with a warning: OpenSIPS reads the config as bytes,
    so a path opens the same file and a filter matches the same SNI bytes; text output
    shows each such byte as ``\\xNN``."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        text = data.decode("utf-8", errors="surrogateescape")
        if not _looks_binary(text):  # binary files get their own single error later
            line = data.count(b"\n", 0, err.start) + 1
            diags.append(Diagnostic("warning", "invalid-utf8", "file is not valid UTF-8: bytes that are not UTF-8 "
                                    "are kept as they are and shown as \\xNN", Loc(name, line)))
    return text[1:] if text.startswith("\ufeff") else text


_PRIVATE_KEY_RE = re.compile(rb"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")
PRIVATE_KEY_TEXT = "this is a private key, not an opensips.cfg; nothing of it is read or shown"


def holds_private_key(data: bytes | str) -> bool:
    """Whether ``data`` holds a PEM private key (``-----BEGIN ... PRIVATE KEY-----``)."""
    raw = data.encode("utf-8", errors="replace") if isinstance(data, str) else data
    return b"PRIVATE KEY-----" in raw and _PRIVATE_KEY_RE.search(raw) is not None


_BASE64_LINE = re.compile(rb"[A-Za-z0-9+/]{40,}={0,2}")
_BASE64_WORD = re.compile(r"(?=[A-Za-z0-9+/=]*[0-9+/])[A-Za-z0-9+/=]{16,}")
BASE64_TEXT = ("this looks like base64 key or certificate material (PEM without its BEGIN/END lines), "
               "not an opensips.cfg; nothing of it is read or shown")


def looks_like_base64(data: bytes | str) -> bool:
    """Whether ``data`` starts like the body of a PEM block: its first three non-empty
    lines are long base64 runs (a key whose BEGIN/END lines were cut off)."""
    raw = data[:4096].encode("utf-8", errors="replace") if isinstance(data, str) else data[:4096]
    lines = [line.strip() for line in raw.splitlines() if line.strip()][:3]
    return len(lines) >= 2 and all(_BASE64_LINE.fullmatch(line) for line in lines)


def secret_looking(data: bytes | str) -> str | None:
    """Why nothing of ``data`` may be quoted (a private key, or base64 material), or None."""
    if holds_private_key(data):
        return PRIVATE_KEY_TEXT
    if looks_like_base64(data):
        return BASE64_TEXT
    return None


def _read_bytes(path: str, what: str = "config") -> bytes:
    """A config or include file: a regular file of at most CONFIG_MAX_BYTES that holds no
    private key nor bare base64 material (raises ``UnsafeInput`` saying which)."""
    data = read_bytes_limited(path, limit=CONFIG_MAX_BYTES, what=what)
    why = secret_looking(data)
    if why:
        raise UnsafeInput(what, path, why)
    return data


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


_DQ_EDGE_RE = re.compile(r'(?<!\\)"')


def _first_m4_call(text: str) -> re.Match[str] | None:
    """The first m4 builtin call that is not inside a double-quoted string on its line
    (``modparam("m", "p", "divert(")`` is not a template)."""
    for m in _M4_RE.finditer(text):
        line_start = text.rfind("\n", 0, m.start()) + 1
        if len(_DQ_EDGE_RE.findall(text, line_start, m.end())) % 2 == 0:
            return m
    return None


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
        self.size = 0  # characters emitted so far (capped at CONFIG_MAX_BYTES)
        self.too_big = False
        self.followed = 0  # include directives followed so far (capped at INCLUDES_MAX)

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
        m = _first_m4_call(text) if any(word in text for word in _M4_WORDS) else None
        if m:
            self.m4_files.append(Loc(name, text.count("\n", 0, m.start()) + 1))
        elif ".m4" in os.path.basename(name):
            self.m4_files.append(Loc(name, 1))

    def _emit(self, chunk: str, name: str, line: int) -> None:
        if not chunk or self.too_big:
            return
        self.size += len(chunk)
        if self.size > CONFIG_MAX_BYTES:  # includes repeated many times over
            self.too_big = True
            self.diags.append(Diagnostic(
                "error", "include-too-large",
                f"the config with its includes is over the {limit_text(CONFIG_MAX_BYTES)} limit tlsmgm reads; "
                "the rest was not read", Loc(name, line)))
            return
        self.lines.add(self.flat_line, name, line)
        self.parts.append(chunk)
        self.flat_line += chunk.count("\n")

    def _include(self, target: str, at: Loc, base_dir: str, stack: list[str]) -> None:
        if self.too_big or self.followed > INCLUDES_MAX:
            return
        self.followed += 1
        if self.followed > INCLUDES_MAX:  # fan-out: files that include the next one twice
            self.diags.append(Diagnostic(
                "error", "include-too-many",
                f"more than {INCLUDES_MAX:,} include_file/import_file directives followed (a file included "
                f"again and again); the rest were not read", at))
            return
        if len(stack) > MAX_INCLUDE_DEPTH:
            self.diags.append(Diagnostic("error", "include-depth", f"include nesting deeper than {MAX_INCLUDE_DEPTH} files at \"{target}\"", at))
            return
        candidates = [target] if os.path.isabs(target) else [os.path.join(base_dir, target), os.path.join(os.getcwd(), target)]
        path = next((c for c in candidates if os.path.lexists(c)), None)  # a symlink loop is not "missing"
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
            data = _read_bytes(path, "included file")
        except UnsafeInput as err:
            self.diags.append(Diagnostic("error", "include-unreadable", err.message, at))
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
        number = m.group(1)
        lines.add(flat_line, file, int(number) if len(number) < 10 else 1 << 31)  # a hostile marker: far away
    return lines


def preprocessor_argv(cmd: str) -> list[str]:
    """The argv a ``--pp`` command runs as (split like a shell line; no shell is run).
    Raises ValueError saying why it cannot be split."""
    argv = shlex.split(cmd)
    if not argv:
        raise ValueError("the command is empty")
    return argv


def _feed(pipe: IO[bytes], data: bytes) -> None:
    try:
        pipe.write(data)
    except OSError:  # the program stopped reading (or was stopped): nothing more to say
        pass
    finally:
        try:
            pipe.close()
        except OSError:
            pass


def _run_preprocessor(cmd: str, text: str, timeout: float, limit: int = CONFIG_MAX_BYTES) -> tuple[str | None, str]:
    """Run the program ``cmd`` (argv, no shell) with ``text`` on stdin: (stdout, "") or
    (None, why it failed). Its output is read in chunks and the program is killed once
    the output passes ``limit`` bytes or the run passes ``timeout`` seconds."""
    try:
        argv = preprocessor_argv(cmd)
    except ValueError as err:
        return None, f"cannot read the preprocessor command '{cmd}': {err}"
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)
    except OSError as err:
        from tlsmgm_cli.core.util.safeio import describe_os_error

        return None, f"cannot run preprocessor '{cmd}': {argv[0]}: {describe_os_error(err)}"
    writer = threading.Thread(target=_feed, args=(proc.stdin, text.encode("utf-8", errors="replace")), daemon=True)
    writer.start()
    out, err_out = bytearray(), bytearray()
    why = ""
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None and proc.stderr is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        sel.register(proc.stderr, selectors.EVENT_READ)
        while sel.get_map() and not why:
            left = deadline - time.monotonic()
            if left <= 0:
                why = f"preprocessor '{cmd}' timed out after {timeout:g} s"
                break
            for key, _ in sel.select(left):
                chunk = os.read(key.fd, 1 << 16)
                if not chunk:
                    sel.unregister(key.fileobj)
                elif key.fileobj is proc.stdout:
                    out += chunk
                    if len(out) > limit:
                        why = f"preprocessor '{cmd}' wrote more than the {limit_text(limit)} limit tlsmgm reads; stopped it"
                        break
                elif len(err_out) < 1 << 16:
                    err_out += chunk
    if not why:
        try:
            proc.wait(max(0.05, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            why = f"preprocessor '{cmd}' timed out after {timeout:g} s"
    if why:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
    proc.wait()
    for pipe in (proc.stdout, proc.stderr):
        pipe.close()
    writer.join(1.0)
    if why:
        return None, why
    if proc.returncode != 0:
        lines = [ln for ln in err_out.decode("utf-8", errors="replace").splitlines() if ln.strip()]
        last = f": {lines[-1].strip()}" if lines else ""
        return None, f"preprocessor '{cmd}' failed (exit status {proc.returncode}){last}"
    if not out:  # cfg_pp.c exec_preprocessor: OpenSIPS does not start
        return None, (f"preprocessor '{cmd}': no output from the preprocessor!  Make sure it prints to "
                      "standard output!")
    secret = secret_looking(bytes(out))
    if secret:
        return None, f"preprocessor '{cmd}' output: {secret}"
    return out.decode("utf-8", errors="surrogateescape"), ""


# ---------------------------------------------------------------------------------------
# Statement parser

#: Blanks and ``#`` comments, then the common ``modparam("m", "p", "v" | int)`` form.
_FAST_MODPARAM_RE = re.compile(
    r'(?:[ \t\r\n]++|#[^\n]*+)*+(?P<kw>modparam)[ \t]*\([ \t]*"([^"\\\n]*)"[ \t]*,[ \t]*"([^"\\\n]*)"[ \t]*,[ \t]*'
    r'(?:"([^"\\\n]*)"|(-?(?:[1-9][0-9]*|0)|0[xX][0-9a-fA-F]+))[ \t]*\)'
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
        self.scanner = Scanner(text, self._lex_report, lambda pos: self.loc(pos).line)
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

    def column(self, pos: int) -> int:
        """The 1-based column of ``pos`` (a tab counts one, as in cfg.lex)."""
        return pos - self.text.rfind("\n", 0, pos)

    def opensips_syntax(self, pos: int, width: int, hint: str) -> None:
        """A syntax error in OpenSIPS's own words: ``parse error in FILE:LINE:COL-COL:
        syntax error`` (cfg.y ``yyerror``; the columns span the offending token)."""
        loc = self.loc(pos)
        col = self.column(pos)
        self.syntax(pos, f"parse error in {loc.file}:{loc.line}:{col}-{col + width}: syntax error", hint=hint)

    def stray_semicolon(self, pos: int) -> None:
        self.opensips_syntax(pos, 1, "remove the ';': the top level of opensips.cfg has no statement "
                                     "separator, and OpenSIPS does not start with one there")

    def syntax(self, pos: int, message: str, hint: str | None = None) -> None:
        self.syntax_count += 1
        if self.syntax_count > MAX_SYNTAX_DIAGNOSTICS:
            return
        if self.syntax_count == MAX_SYNTAX_DIAGNOSTICS:
            message += " (further syntax errors are not reported)"
        severity = "warning" if self.m4 else "error"
        hint = M4_HINT if self.m4 else hint
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
            return _M4_JUNK_RE.match(text, pos).end()  # type: ignore[union-attr]  # always matches
        tok = self.scanner.token(pos)
        if tok.kind == "ph":
            self.note_placeholders(str(tok.value), pos)
            return tok.end
        if tok.kind == "punct" and tok.value == ";":
            self.stray_semicolon(tok.start)
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
        line_start = self.text.rfind("\n", 0, tok.start) + 1
        line_end = self.text.find("\n", tok.start)
        line = self.text[line_start:len(self.text) if line_end < 0 else line_end].strip()
        if _BASE64_WORD.fullmatch(shown) or _BASE64_WORD.fullmatch(line):  # maybe key material: never quoted
            return _SyntaxError(tok.start, f"syntax error: unexpected text ({len(shown)}+ characters of "
                                           f"base64, not shown), expected {expected}")
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
                paren = m.end() - 1
                close = (loc.line, paren - text.rfind("\n", 0, paren))
                append(Modparam(module, param, sval, "str", loc, f'"{sval}"', close))
                if "{" in sval or "{" in module:
                    self.note_placeholders(module + sval, kw)
            else:
                paren = m.end() - 1
                close = (loc.line, paren - text.rfind("\n", 0, paren))
                append(Modparam(module, param, parse_number(ival) or 0, "int", loc, ival, close))
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
        where = self.loc(kw.start)
        close_at = (self.loc(close.start).line, self.column(close.start))
        self.statements.append(Modparam(str(module.value), str(param.value), value, kind, where, raw, close_at))
        return close.end

    def loadmodule(self, kw: Token) -> int:
        path = self.expect_string(kw.end, "the module path (a quoted string)")
        name = os.path.basename(str(path.value))
        name = name[:-3] if name.endswith(".so") else name
        self.note_placeholders(str(path.value), kw.start)
        self.statements.append(Loadmodule(str(path.value), name, self.loc(kw.start)))
        return path.end

    def unexpanded_include(self, kw: Token) -> int:
        if self.follow_includes:  # the pre-pass only leaves malformed directives behind
            raise _SyntaxError(kw.start, f"{kw.value} needs a quoted file path of at least 2 characters")
        self.diags.append(Diagnostic("note", "include-skipped", f"{kw.value} not followed (includes are turned off)", self.loc(kw.start)))
        return end_of_line(self.text, kw.start)

    def rest_of_line(self, pos: int) -> tuple[str, int]:
        """The value text from ``pos`` to a comment or the end of the line (strings
        may span lines), and the offset after it. A trailing ';' is a syntax error in
        OpenSIPS: it is reported and left out of the value."""
        end = self._rest_re.match(self.text, pos).end()  # type: ignore[union-attr]  # always matches
        value = self.text[pos:end].strip()
        if value.endswith(";"):
            self.stray_semicolon(self.text.rindex(";", pos, end))
            value = value[:-1].rstrip()
        return value, end

    def assign(self, name: Token, pos: int) -> int:
        raw, end = self.rest_of_line(pos)
        if not raw:
            raise _SyntaxError(pos, f"missing value after '{name.value} ='")
        value: str | int | None
        if _STRINGS_RE.fullmatch(raw):
            first = self.text.index(raw, pos)
            value, kind = _join_strings(raw, lambda off: self.loc(first + off).line), "str"
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
        except UnbracketedIPv6 as err:
            colon = self.text.find(":", pos, end)
            self.opensips_syntax(colon if colon >= 0 else kw.start, 2, str(err))
            return end
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


def _join_strings(raw: str, line_at: Callable[[int], int] | None = None) -> str:
    """The value of adjacent quoted strings (escapes processed in double quotes);
    ``line_at(offset in raw)`` gives file lines for backslash-newlines."""
    parts = []
    for m in _STRING_PART_RE.finditer(raw):
        dq, sq = m.groups()
        if dq and "\\\n" in dq and line_at is not None:
            parts.append(unescape_dq(dq[1:-1], line_at(m.start())))
        elif dq:
            parts.append(unescape_dq(dq[1:-1]))
        else:
            parts.append(sq[1:-1])
    return "".join(parts)


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


class UnbracketedIPv6(ValueError):
    """``proto:::1:5061``: cfg.lex reads ``::`` right after the proto as an IPv6 address,
    so the listener is a syntax error (behaviour §1.6)."""


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
    lexer reads ``fe80::1:5060`` as one address); use ``[fe80::1]:5060``. A bare IPv6
    address that starts with ``:`` right after the proto (``tls:::1:5061``) is a syntax
    error (``UnbracketedIPv6``): the lexer reads the ``::`` as an address.
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
        if addr.startswith(":"):
            raise UnbracketedIPv6(f"an IPv6 listener needs brackets: {proto}:[ADDRESS]:PORT, "
                                  f"e.g. {proto}:[::1]:5061")
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

    Raises ``TlsmgmError`` only when ``path`` itself cannot be read: not a regular
    file, over ``limits.CONFIG_MAX_BYTES``, or a PEM private key (exit status USAGE, as
    for any config that cannot be read).
    """
    try:
        data = _read_bytes(path)
    except UnsafeInput as err:
        raise UsageError(err.message) from None
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
    why = secret_looking(text)
    if why:  # one error, and nothing of the text in it
        return ParsedConfig(path=name, files=[name], diagnostics=[
            Diagnostic("error", "private-key-file", f"config '{name}': {why}")])
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
    if not m4:  # in an unexpanded m4 template the host names are macros
        resolve_listeners(result)
    return result


# ---------------------------------------------------------------------------------------
# Host names of TLS listeners

_HOSTNAME_RE = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?")
#: listener protocols whose host names are resolved (those ``matcher.tls_listeners`` keys)
TLS_PROTOS = ("tls",)


def _needs_resolving(host: str) -> bool:
    from tlsmgm_cli.core.net.addresses import canonical_ip

    return host != "*" and _HOSTNAME_RE.fullmatch(host) is not None and canonical_ip(host) is None


def resolve_host(name: str, *, try_ipv6: bool = False, timeout: float = RESOLVE_TIMEOUT_S) -> tuple[str | None, str]:
    """OpenSIPS's ``resolvehost`` (resolve.c): with ``dns_try_ipv6`` the first IPv6
    address, else (or when there is none) the first IPv4 address. (ip, "") or
    (None, why). The lookup runs in a thread and is given up after ``timeout`` s."""
    families = (socket.AF_INET6, socket.AF_INET) if try_ipv6 else (socket.AF_INET,)
    box: dict[str, object] = {}

    def lookup() -> None:
        why = "no address"
        for family in families:
            try:
                infos = socket.getaddrinfo(name, None, family, socket.SOCK_STREAM)
            except (OSError, UnicodeError) as err:
                why = getattr(err, "strerror", None) or str(err)
                continue
            if infos:
                box["ip"] = str(infos[0][4][0])
                return
        box["why"] = why

    thread = threading.Thread(target=lookup, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        return None, f"no answer within {timeout:g} s"
    if "ip" in box:
        return str(box["ip"]), ""
    return None, str(box.get("why", "no address"))


def resolve_listeners(parsed: ParsedConfig) -> None:
    """Give every TLS listener written with a host name the address OpenSIPS listens on
    (behaviour §1.6: ``socket=tls:localhost:5061`` serves domains of ``127.0.0.1:5061``).
    ``host`` becomes the IP and ``hostname`` keeps the name; a name that does not resolve
    here is a warning: OpenSIPS first tries the name as one of its network interfaces,
    then resolves it, and does not start when that fails ("could not resolve NAME"),
    but the server may resolve what this machine cannot."""
    todo = [s for s in parsed.sockets if s.proto in TLS_PROTOS and _needs_resolving(s.host)]
    if not todo:
        return
    try_ipv6 = any(isinstance(st, Assign) and st.name == "dns_try_ipv6" and st.value not in (0, None)
                   for st in parsed.statements)
    names = list(dict.fromkeys(s.host for s in todo))
    answers: dict[str, tuple[str | None, str]] = {}
    threads = [threading.Thread(target=lambda n=n: answers.__setitem__(n, resolve_host(n, try_ipv6=try_ipv6)),
                                daemon=True) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(RESOLVE_TIMEOUT_S + 1)
    for sock in todo:
        ip, why = answers.get(sock.host, (None, f"no answer within {RESOLVE_TIMEOUT_S:g} s"))
        if ip is not None:
            sock.hostname, sock.host = sock.host, ip
            continue
        parsed.diagnostics.append(Diagnostic(
            "warning", "socket-unresolved",
            f"could not resolve {sock.host} here ({why}): the listener '{sock.text}' is left out of the "
            f"listener checks; where the name does not resolve either, OpenSIPS does not start "
            f"(\"could not resolve {sock.host}\", then \"failed to initialize list addresses\") unless "
            f"'{sock.host}' names one of the server's network interfaces",
            sock.loc, hint="write the listener's IP address, or run tlsmgm where the name resolves as on "
                           "the server"))
