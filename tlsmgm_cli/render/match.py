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
    return dumps(row, ensure_ascii=False)


def emit_batch_lines(lines: list[str]) -> None:
    """Write already encoded JSON lines, one per line (nothing at all for none)."""
    if lines:
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()


def emit_results(rows: list[dict[str, Any]], fmt: str, explain: bool) -> None:
    """Write result rows as ``text`` lines, one ``json`` document ``{"results": rows}``
    or ``jsonl`` (one JSON line per row)."""
    if fmt == "jsonl":
        emit_batch_lines([json_line(r) for r in rows])
    elif fmt == "json":
        from tlsmgm_cli.render import emit_json

        emit_json({"results": rows})
    else:
        from click import echo

        echo("\n".join(text_lines(rows, explain=explain)))


class JsonLines:
    """Serialises contract tuples for ``--batch`` exactly as ``json.dumps(dict(zip(fields,
    values)), ensure_ascii=False)`` would, but fast: the first two values (side, socket)
    and the values after the query fields (domain, outcome, ... line) are encoded once
    per distinct tuple; only the query texts (SNI, SIP domain, TLS domain) are encoded
    per line."""

    def __init__(self, fields: Sequence[str], query_fields: int):
        self._keys = [encode_basestring(f) + ": " for f in fields]
        self._n = query_fields
        self._heads: dict[tuple[Any, ...], str] = {}
        self._tails: dict[tuple[Any, ...], str] = {}

    @staticmethod
    def _value(v: Any) -> str:
        if v is None:
            return "null"
        if isinstance(v, str):
            return encode_basestring(v)
        if isinstance(v, int) and not isinstance(v, bool):
            return str(v)
        return dumps(v, ensure_ascii=False)

    def tail(self, tail_values: tuple[Any, ...]) -> str:
        """The encoded fields after the query fields, closing brace included."""
        tail = self._tails.get(tail_values)
        if tail is None:
            keys, n, enc = self._keys, self._n, self._value
            tail = self._tails[tail_values] = ", ".join(
                keys[n + i] + enc(v) for i, v in enumerate(tail_values)) + "}"
        return tail

    def line(self, values: Sequence[Any], tail: str | None = None) -> str:
        """One JSON object; ``tail`` may give the already encoded ``tail()`` of
        ``values[query_fields:]`` (those values are then not read)."""
        keys, n, enc = self._keys, self._n, self._value
        head = self._heads.get((values[0], values[1]))
        if head is None:
            head = self._heads[(values[0], values[1])] = (
                "{" + keys[0] + enc(values[0]) + ", " + keys[1] + enc(values[1]))
        middle = "".join([", " + keys[i] + ("null" if values[i] is None else enc(values[i]))
                          for i in range(2, n)])
        return head + middle + ", " + (tail or self.tail(tuple(values[n:])))
