"""The ``tlsmgm match --batch`` engine: JSON query lines in, answers out, as a stream.

* :func:`read_line_chunks` cuts an input stream into lines as it arrives (one read at a
  time, so a line written to a pipe is answered before the writer sends the next one).
  Memory stays flat in the input size: one read buffer plus at most one partial line,
  and a line over :data:`~tlsmgm_cli.core.limits.BATCH_LINE_MAX_BYTES` is skipped (not
  kept) and answered with an error. Lines end at ``\\n``, ``\\r\\n`` or ``\\r``, like
  ``bytes.splitlines``; line numbers count blank lines too.
* :class:`BatchEngine` parses each line into a query and answers it with the one matcher
  (``core.matching.matcher``): a :class:`~tlsmgm_cli.core.matching.matcher.MatchResult` or a
  :class:`BatchError` per non-blank line, in order. :meth:`BatchEngine.encoded` is the
  fast path of the default JSON-lines output: it asks an injected encoder (the renderer's)
  to write each answer, and caches, per server-side decision (address key, chosen entry,
  empty SNI), the encoded answer fields (``ANSWER_FIELDS``) so that only the query texts
  (``QUERY_FIELDS``) are encoded per line. Every cache is bounded.

The engine never writes anything; ``failed`` turns true at the first query that did not
select a domain or could not be answered (the caller records the exit status before it
writes that answer).
"""

from __future__ import annotations

import json
import json.scanner
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from tlsmgm_cli.core.domain import CLIENT, SERVER
from tlsmgm_cli.core.errors import TlsmgmError
from tlsmgm_cli.core.limits import BATCH_LINE_MAX_BYTES
from tlsmgm_cli.core.matching.matcher import DomainMatcher, MatchResult
from tlsmgm_cli.core.net.addresses import parse_hostport, socket_text

#: bytes asked for per read: a pipe read returns what is there, at most this much
READ_CHUNK_BYTES = 64 * 1024
#: entries kept per cache (answers of repeated lines, parsed addresses) before it restarts
CACHE_MAX_ENTRIES = 4096

# one C-level JSON scanner for every batch line (json.loads adds ~1 us of Python per call)
_scan_json = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]  # typeshed: a private context type
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")
_SERVER_KEYS = frozenset({"client", "socket", "sni"})
_CLIENT_KEYS = frozenset({"client", "dest", "sip_domain", "tls_domain"})

#: a line longer than the limit, in the lists :func:`read_line_chunks` yields
TOO_LONG = None


def read_line_chunks(read: Callable[[int], bytes], *, limit: int = BATCH_LINE_MAX_BYTES,
                     chunk_bytes: int = READ_CHUNK_BYTES) -> Iterator[list[bytes | None]]:
    """The complete lines of the stream ``read`` (a ``read1``-like function: returns what
    is available, ``b""`` at the end), one list per read; a line over ``limit`` bytes is
    :data:`TOO_LONG` (None) and its bytes are dropped as they arrive."""
    partial = b""  # the start of a line whose end has not arrived yet
    overlong = False  # the current partial line is over the limit (its bytes dropped)
    after_cr = False  # the last chunk ended with '\r': a '\n' starting the next one ends nothing
    while True:
        data = read(chunk_bytes)
        if not data:
            break
        if after_cr and data[:1] == b"\n":
            data = data[1:]
            if not data:
                after_cr = False  # that '\n' completed the CRLF; the next one is a line break
                continue
        after_cr = data[-1:] == b"\r"
        parts = _LINE_BREAK.split(data) if b"\r" in data else data.split(b"\n")
        tail = parts.pop()  # after the last line break (b"" when the data ends with one)
        lines: list[bytes | None] = []
        if parts:
            first = partial + parts[0] if partial else parts[0]
            lines.append(TOO_LONG if overlong or len(first) > limit else first)
            partial, overlong = b"", False
            lines.extend(parts[1:])
            if len(lines) > 1 and max(map(len, parts[1:])) > limit:
                lines = [line if line is None or len(line) <= limit else TOO_LONG for line in lines]
        if not overlong:
            partial += tail
            if len(partial) > limit:
                partial, overlong = b"", True
        if lines:
            yield lines
    if overlong:
        yield [TOO_LONG]
    elif partial:
        yield [partial]


class BatchError:
    """A batch line that could not be answered: its number and why."""

    __slots__ = ("number", "message")

    def __init__(self, number: int, message: str):
        self.number = number
        self.message = message

    @classmethod
    def of(cls, number: int, err: Exception) -> BatchError:
        if isinstance(err, TlsmgmError):
            return cls(number, err.message)
        if isinstance(err, UnicodeDecodeError):
            return cls(number, "not UTF-8 text")
        return cls(number, f"not JSON: {err}")

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.number, "error": self.message}


class Encoder(Protocol):
    """What :meth:`BatchEngine.encoded` needs from the renderer."""

    def answer(self, answer_values: tuple[Any, ...]) -> str:
        """The encoded ``ANSWER_FIELDS`` part of a result line."""
        ...  # pragma: no cover

    def line(self, query_values: Sequence[Any], answer: str) -> str:
        """One result line: the query values encoded, then ``answer``."""
        ...  # pragma: no cover

    def server_line(self, socket: str, sni: str | None, answer: str) -> str:
        """``line(("server", socket, sni, None, None), answer)``."""
        ...  # pragma: no cover

    def error(self, error: BatchError) -> str:
        """One error line."""
        ...  # pragma: no cover


def _too_long_error(limit: int) -> TlsmgmError:
    size = f"{limit // 1024} KiB" if limit % 1024 == 0 else f"{limit} bytes"
    return TlsmgmError(f"line longer than {size} (the limit of one --batch line); skipped")


def _reject_lone_surrogates(value: Any) -> None:
    """Raise TlsmgmError if a string anywhere in the decoded JSON ``value`` (keys included)
    holds a lone surrogate (an unpaired \\uD800-\\uDFFF escape): such text is not
    Unicode, cannot be written as UTF-8 and is no SNI/domain a client can send. Walks with
    an explicit stack, as ``value`` may be nested up to the JSON reader's limit."""
    pending = [value]
    while pending:
        item = pending.pop()
        if type(item) is str:
            if item.isascii():
                continue
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as err:
                raise TlsmgmError(f"not valid Unicode: lone surrogate \\u{ord(item[err.start]):04x} "
                                  "(an unpaired \\u escape)") from None
        elif type(item) is dict:
            pending.extend(item)
            pending.extend(item.values())
        elif type(item) is list:
            pending.extend(item)


def _unknown_keys(query: dict[str, Any], allowed: frozenset[str], side: str) -> TlsmgmError:
    """The error for keys a ``side`` query does not take (quoted: a key is any text)."""
    return TlsmgmError(f"unknown key(s) in a {side} query: "
                       + ", ".join(repr(k) for k in sorted(query.keys() - allowed)))


class BatchEngine:
    """Parses and answers batch lines in order; line numbers run on across calls."""

    def __init__(self, matcher: DomainMatcher, *, line_limit: int = BATCH_LINE_MAX_BYTES):
        self.matcher = matcher
        self.failed = False
        self.number = 0  # the number of the last line seen
        self._too_long = _too_long_error(line_limit)
        self._addresses: dict[str, tuple[str, int, str]] = {}  # text -> (ip, port, socket_text)
        self._seen: dict[bytes, str] = {}  # line -> its encoded answer (repeated lines)
        self._decided: dict[tuple[Any, ...], tuple[str, bool]] = {}

    # -- the fast path: encoded lines --------------------------------------------------
    def encoded(self, lines: Sequence[bytes | None], encoder: Encoder) -> list[str]:
        """The encoded answer of every non-blank line, in order. An answer depends only
        on the line's text, so a repeated line reuses its earlier answer; a server
        query's answer fields depend only on (address key, chosen entry, empty SNI), so
        they are encoded once per such decision (``server_choice`` is the lookup
        ``match_server`` makes)."""
        out: list[str] = []
        seen, decided, matcher = self._seen, self._decided, self.matcher
        number = self.number
        for raw in lines:
            number += 1
            if raw is None:
                self.failed = True
                out.append(encoder.error(BatchError(number, self._too_long.message)))
                continue
            line = seen.get(raw)
            if line is not None:
                if line[0] == "!":  # a query that did not select a domain
                    self.failed = True
                    line = line[1:]
                out.append(line)
                continue
            try:
                query = self.parse(raw)
                if query is None:
                    continue
                if query[0] == SERVER:
                    _, ip, port, sni, sock = query
                    key_used, index = matcher.server_choice(ip, port, sni)
                    cache_key = (key_used, index, sni == "")
                    known = decided.get(cache_key)
                    if known is None:
                        result = matcher.match_server(ip, port, sni)
                        known = decided[cache_key] = (encoder.answer(result.answer_values()),
                                                      result.selected)
                    line = encoder.server_line(sock, sni, known[0])
                    selected = known[1]
                else:
                    result = matcher.match_client(*query[1:])
                    line = encoder.line(result.query_values(), encoder.answer(result.answer_values()))
                    selected = result.selected
            except (ValueError, UnicodeDecodeError, TlsmgmError) as err:
                self.failed = True
                out.append(encoder.error(BatchError.of(number, err)))
                continue
            if len(seen) >= CACHE_MAX_ENTRIES:
                seen.clear()
            if selected:
                seen[raw] = line
            else:
                self.failed = True
                seen[raw] = "!" + line
            out.append(line)
        self.number = number
        return out

    # -- the general path: results -----------------------------------------------------
    def answers(self, lines: Sequence[bytes | None]) -> list[MatchResult | BatchError]:
        """A MatchResult or a BatchError per non-blank line, in order."""
        out: list[MatchResult | BatchError] = []
        for raw in lines:
            self.number += 1
            answer: MatchResult | BatchError
            try:
                if raw is None:
                    raise TlsmgmError(self._too_long.message)
                query = self.parse(raw)
                if query is None:
                    continue
                if query[0] == SERVER:
                    answer = self.matcher.match_server(*query[1:4])
                else:
                    answer = self.matcher.match_client(*query[1:])
            except (ValueError, UnicodeDecodeError, TlsmgmError) as err:
                answer = BatchError.of(self.number, err)
            if isinstance(answer, BatchError) or not answer.selected:
                self.failed = True
            out.append(answer)
        return out

    # -- parsing -------------------------------------------------------------------------
    def _address(self, text: Any, what: str) -> tuple[str, int, str]:
        hit = self._addresses.get(text) if isinstance(text, str) else None
        if hit is None:
            if not isinstance(text, str):
                raise TlsmgmError(f'"{what}" must be a string like "10.0.0.10:5061"')
            ip, port = parse_hostport(text, what=f'"{what}"')
            if len(self._addresses) >= CACHE_MAX_ENTRIES:
                self._addresses.clear()
            hit = self._addresses[text] = (ip, port, socket_text(ip, port))
        return hit

    def parse(self, raw: bytes) -> tuple[Any, ...] | None:
        """One line -> ("server", ip, port, sni, socket text) | ("client", ip, port,
        sip_domain, tls_domain) | None (blank line). Raises ValueError/UnicodeDecodeError
        (not JSON) or TlsmgmError (a JSON query tlsmgm cannot answer)."""
        text = raw.decode("utf-8").strip()
        if not text:
            return None
        try:
            query, end = _scan_json(text, 0)
        except StopIteration as err:
            raise ValueError(f"Expecting value: column {err.value + 1}") from None
        except RecursionError:
            raise TlsmgmError("nesting too deep (a query is one flat JSON object)") from None
        if end != len(text):
            raise ValueError(f"Extra data: column {end + 1}")
        if "\\u" in text:  # only a \u escape can put a lone surrogate into a decoded str
            _reject_lone_surrogates(query)
        if type(query) is not dict:
            raise TlsmgmError("a query must be a JSON object")
        if not query.get("client"):  # the common case first: a server query
            if not query.keys() <= _SERVER_KEYS:
                raise _unknown_keys(query, _SERVER_KEYS, SERVER)
            sni = query.get("sni")
            if sni is not None and type(sni) is not str:
                raise TlsmgmError('"sni" must be a string or null')
            if "socket" not in query:
                raise TlsmgmError('a server query needs "socket" (or "client": true)')
            ip, port, sock = self._address(query["socket"], "socket")
            return (SERVER, ip, port, sni, sock)
        if not query.keys() <= _CLIENT_KEYS:
            raise _unknown_keys(query, _CLIENT_KEYS, CLIENT)
        sip_domain, tls_domain = query.get("sip_domain"), query.get("tls_domain")
        for key, value in (("sip_domain", sip_domain), ("tls_domain", tls_domain)):
            if value is not None and type(value) is not str:
                raise TlsmgmError(f'"{key}" must be a string or null')
        if query.get("dest") is None:
            if tls_domain is None:
                raise TlsmgmError('a client query needs "dest" (or "tls_domain")')
            return (CLIENT, None, None, sip_domain, tls_domain)
        ip, port, _ = self._address(query["dest"], "dest")
        return (CLIENT, ip, port, sip_domain, tls_domain)
