"""Output of ``tlsmgm match``: text lines, the ``--format json`` document and the JSON
lines of ``--batch``.

The functions take the plain result dicts of ``MatchResult.to_dict()`` (plus ``rule``,
``notes`` and ``explain`` when ``--explain`` asked for them; a batch line that could not
be answered is ``{"line": N, "error": ...}``); ``emit_*`` write them to stdout.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from json import dumps
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any

from tlsmgm_cli.render.safe import json_text


def _loc(d: dict[str, Any]) -> str:
    if d.get("file") is None:
        return "DB" if d.get("source") == "db" else "-"
    return f"{d['file']}:{d['line']}"


def _query(r: dict[str, Any]) -> str:
    if r["side"] == "server":
        sni = "no SNI" if r["sni"] is None else f"SNI {r['sni']!r}"
        return f"server {r['socket']}  {sni}"
    parts = [f"client -> {r['socket'] or '(any destination)'}"]
    if r["tls_domain"] is not None:
        parts.append(f"TLS-domain AVP {r['tls_domain']!r}")
    else:
        parts.append("no SIP-domain AVP" if r["sip_domain"] is None else f"SIP domain {r['sip_domain']!r}")
    return "  ".join(parts)


def result_line(r: dict[str, Any]) -> str:
    """One readable line: the query, then the outcome."""
    query = _query(r)
    initial = f"; initial {r['initial_domain']}" if r.get("initial_domain") else ""
    if r["outcome"] == "selected":
        how = f"{r['rank']} {r['pattern']!r}" if r["pattern"] is not None else (
            "forced by name" if r["side"] == "client" else "empty SNI: initial domain kept")
        where = f"{r['file']}:{r['line']}" if r["file"] else "DB"
        return f"{query}  ->  {r['domain']}  ({how}, {where}{initial})"
    if r["outcome"] == "dropped":
        return f"{query}  ->  dropped: no TLS server domain found (no TLS answer)"
    if r["side"] == "server":
        return f"{query}  ->  rejected: fatal alert 112 unrecognized_name{initial}"
    return f"{query}  ->  no TLS client domain found (send fails, 477)"


def explanation_lines(r: dict[str, Any]) -> list[str]:
    """The --explain block under a result line."""
    lines = [f"  rule: {r['rule']}"]
    lines += [f"  note: {n}" for n in r.get("notes", [])]
    ex = r.get("explain")
    if not ex:
        return lines
    if ex["key_used"] is not None:
        lines.append(f"  address key used: {ex['key_used']!r}"
                     + ("" if ex["key_used"] != "*" else " (no domain lists this exact address)"))
    if ex["candidates"]:
        lines.append("  candidates, in the order OpenSIPS tries them:")
        for i, c in enumerate(ex["candidates"], 1):
            mark = "=>" if c["chosen"] else ("ok" if c["matched"] else "  ")
            lines.append(f"    {mark} {i:>2}. {c['rank']:<8} {c['pattern']!r:<28} [{c['domain']}]  {_loc(c)}")
    if ex["unreachable"]:
        lines.append("  never selected on this address:")
        for u in ex["unreachable"]:
            lines.append(f"    [{u['domain']}] {u['pattern']!r} ({u['reason']}): {u['detail']}  {_loc(u)}")
    return lines


def text_lines(results: list[dict[str, Any]], *, explain: bool) -> list[str]:
    """The text rendering of ``results``, every line escaped (SNIs, names, rules and notes
    quote untrusted input)."""
    from tlsmgm_cli.render.safe import visible

    return [visible(line) for line in _text_lines(results, explain=explain)]


def _text_lines(results: list[dict[str, Any]], *, explain: bool) -> list[str]:
    out: list[str] = []
    for r in results:
        if "error" in r:
            out.append(f"line {r['line']}: error: {r['error']}")
            continue
        out.append(result_line(r))
        if explain:
            out.extend(explanation_lines(r))
        else:
            out.extend(f"  note: {n}" for n in r.get("notes", []))
    return out


def json_line(row: dict[str, Any]) -> str:
    """One ``--batch`` JSON line (no newline)."""
    from tlsmgm_cli.render.safe import json_text

    return json_text(dumps(row, ensure_ascii=False))


def emit_results(rows: list[dict[str, Any]], fmt: str, explain: bool) -> None:
    """Write result rows as ``text`` lines, one ``json`` document ``{"results": rows}``
    or ``jsonl`` (one JSON line per row)."""
    if fmt == "jsonl":
        if rows:
            sys.stdout.write("".join(json_line(r) + "\n" for r in rows))
            sys.stdout.flush()
    elif fmt == "json":
        from tlsmgm_cli.render import emit_json

        emit_json({"results": rows})
    else:
        from click import echo

        echo("\n".join(text_lines(rows, explain=explain)))


def resolved_text_lines(rows: list[dict[str, Any]], resolution: dict[str, Any], *, explain: bool,
                        error: str | None) -> list[str]:
    """A resolved ``--dest``: (--explain: the DNS steps), then per TLS destination its
    result line and where it came from, then the destinations that are not TLS."""
    from tlsmgm_cli.render.handshake import resolution_text
    from tlsmgm_cli.render.safe import visible

    out = resolution_text(resolution).splitlines() if explain else []
    for r in rows:
        d = r["destination"]
        out.append(result_line(r))
        out.append(f"  destination: {visible(d['host'])}" + (f" via {visible(d['via'])}" if d["via"] else "")
                   + (" (weighted: the order among equal-priority SRV records is drawn per request)"
                      if d["weighted"] else ""))
        out.extend(explanation_lines(r) if explain else [f"  note: {n}" for n in r.get("notes", [])])
    tls = {(r["destination"]["ip"], r["destination"]["port"]) for r in rows}
    for d in resolution["destinations"]:
        if (d["ip"], d["port"]) not in tls:
            ip = f"[{d['ip']}]" if ":" in d["ip"] else d["ip"]
            out.append(f"{visible(ip)}:{d['port']}  ->  OpenSIPS sends over {d['proto'].upper()}, not TLS: "
                       "no client TLS domain applies")
    if error:
        out.append(f"{visible(resolution['target'])}: {visible(error)}")
    elif not rows:
        out.append(f"{visible(resolution['target'])}: no TLS destination")
    return out


def emit_resolved(rows: list[dict[str, Any]], resolution: dict[str, Any], fmt: str, explain: bool, *,
                  error: str | None) -> None:
    """``match --client --dest URI``: text, or ``{"results": rows, "resolution": ...}`` (rows
    carry their "destination"; the resolution's steps only with --explain)."""
    if fmt == "json":
        from tlsmgm_cli.render import emit_json

        shown = dict(resolution) if explain else {k: v for k, v in resolution.items() if k != "steps"}
        emit_json({"results": rows, "resolution": shown, "error": error})
        return
    from click import echo

    echo("\n".join(resolved_text_lines(rows, resolution, explain=explain, error=error)))


_CACHE_MAX_ENTRIES = 4096


class JsonLinesEncoder:
    """Encodes ``--batch`` result lines exactly as ``json.dumps(dict(zip(query_fields +
    answer_fields, values)), ensure_ascii=False)`` would, but fast: the answer part and
    the (side, socket) pair are encoded once per distinct value (bounded caches); only the
    query texts (SNI, SIP domain, TLS domain) are encoded per line. The engine
    (``core.matching.batch.BatchEngine.encoded``) calls it."""

    def __init__(self, query_fields: Sequence[str], answer_fields: Sequence[str]):
        self._query_keys = [encode_basestring(f) + ": " for f in query_fields]
        self._answer_keys = [encode_basestring(f) + ": " for f in answer_fields]
        self._heads: dict[tuple[Any, ...], str] = {}
        self._answers: dict[tuple[Any, ...], str] = {}
        self._server_heads: dict[str, str] = {}
        # a server query: the SIP-domain and TLS-domain fields are null
        self._server_rest = "".join(", " + key + "null" for key in self._query_keys[3:]) + ", "

    @staticmethod
    def _value(v: Any) -> str:
        if v is None:
            return "null"
        if isinstance(v, str):
            return encode_basestring(v) if v.isascii() else json_text(encode_basestring(v))
        if isinstance(v, int) and not isinstance(v, bool):
            return str(v)
        return dumps(v, ensure_ascii=False)

    def answer(self, answer_values: tuple[Any, ...]) -> str:
        """The encoded answer fields, closing brace included."""
        text = self._answers.get(answer_values)
        if text is None:
            if len(self._answers) >= _CACHE_MAX_ENTRIES:
                self._answers.clear()
            keys, enc = self._answer_keys, self._value
            text = self._answers[answer_values] = ", ".join(
                keys[i] + enc(v) for i, v in enumerate(answer_values)) + "}"
        return text

    def line(self, query_values: Sequence[Any], answer: str) -> str:
        """One JSON object: the query values, then the encoded ``answer()``."""
        keys, enc = self._query_keys, self._value
        head = self._heads.get((query_values[0], query_values[1]))
        if head is None:
            if len(self._heads) >= _CACHE_MAX_ENTRIES:
                self._heads.clear()
            head = self._heads[(query_values[0], query_values[1])] = (
                "{" + keys[0] + enc(query_values[0]) + ", " + keys[1] + enc(query_values[1]))
        middle = "".join([", " + keys[i] + ("null" if query_values[i] is None else enc(query_values[i]))
                          for i in range(2, len(keys))])
        return head + middle + ", " + answer

    def server_line(self, socket: str, sni: str | None, answer: str) -> str:
        """``line(("server", socket, sni, None, None), answer)``, the common case, faster."""
        head = self._server_heads.get(socket)
        if head is None:
            if len(self._server_heads) >= _CACHE_MAX_ENTRIES:
                self._server_heads.clear()
            keys = self._query_keys
            head = self._server_heads[socket] = (
                "{" + keys[0] + '"server", ' + keys[1] + encode_basestring(socket) + ", " + keys[2])
        return head + ("null" if sni is None else encode_basestring(sni)) + self._server_rest + answer

    @staticmethod
    def error(error: Any) -> str:
        """The line of a batch line that could not be answered."""
        return json_line(error.to_dict())


class BatchWriter:
    """Writes ``--batch`` answers as they are produced, chunk by chunk, flushing each
    chunk (a reader at the other end of a pipe sees an answer before its next query is
    read): ``jsonl`` lines, the ``json`` document ``{"results": [...]}`` (byte-identical
    to :func:`emit_results`'s) or ``text`` lines."""

    def __init__(self, fmt: str, explain: bool):
        self.fmt = fmt
        self.explain = explain
        self._rows = 0

    def lines(self, lines: list[str]) -> None:
        """Already encoded JSON lines (``jsonl``)."""
        if lines:
            sys.stdout.write("\n".join(lines) + "\n")
            sys.stdout.flush()

    def rows(self, rows: list[dict[str, Any]]) -> None:
        """Result rows (``MatchResult.to_dict()`` plus rule/notes/explain, or an error
        row)."""
        if not rows:
            return
        if self.fmt == "jsonl":
            self.lines([json_line(r) for r in rows])
        elif self.fmt == "json":
            from tlsmgm_cli.render import to_json

            parts = []
            for row in rows:
                text = to_json(row, indent=2).replace("\n", "\n    ")
                parts.append(("{\n  \"results\": [\n    " if self._rows == 0 else ",\n    ") + text)
                self._rows += 1
            sys.stdout.write("".join(parts))
            sys.stdout.flush()
        else:
            from click import echo

            echo("\n".join(text_lines(rows, explain=self.explain)))
            sys.stdout.flush()

    def close(self) -> None:
        """End the output (the ``json`` document's closing brackets)."""
        if self.fmt == "json":
            sys.stdout.write("{\n  \"results\": []\n}\n" if self._rows == 0 else "\n  ]\n}\n")
            sys.stdout.flush()
