"""tlsmgm match."""

from __future__ import annotations

import json
import json.scanner
import os
import sys
from typing import Any

import click

from tlsmgm_cli.cli.common import load_domset_or_exit
from tlsmgm_cli.cli.options import config_options, db_options, format_option
from tlsmgm_cli.core.domain import CLIENT, SERVER
from tlsmgm_cli.core.errors import TlsmgmError

# one C-level JSON scanner for every batch line (json.loads adds ~1 us of Python per call)
_scan_json = json.scanner.make_scanner(json.JSONDecoder())


@click.command("match")
@config_options
@db_options
@click.option("--socket", "socket_", metavar="IP:PORT",
              help="Server side: the TLS listener the client connected to (IPv6: [addr]:port). "
                   "Default: every socket=tls:/listen=tls: listener of the config.")
@click.option("--sni", metavar="NAME",
              help="Server side: the SNI the client sent (omit for a client without SNI; "
                   "--sni '' for an empty SNI).")
@click.option("--client", is_flag=True, help="Client side: an outgoing connection OpenSIPS opens.")
@click.option("--dest", metavar="IP:PORT", help="Client side: the destination IP:PORT.")
@click.option("--sip-domain", metavar="X",
              help="Client side: the value of the AVP named by client_sip_domain_avp (omit: unset).")
@click.option("--tls-domain", metavar="NAME",
              help="Client side: the value of the AVP named by client_tls_domain_avp (omit: unset).")
@click.option("--explain", is_flag=True,
              help="Also show the ranked candidates, the deciding rule and the domains no input "
                   "can select on that address (with file:line).")
@click.option("--batch", metavar="FILE|-",
              help="Read one JSON query per line (- = stdin) and write one JSON result per line, "
                   "in the same order.")
@format_option(["text", "json"])
@click.pass_context
def match_cmd(ctx: click.Context, config, preprocessor, cfg_dir, opensips_version, db_url,
              after_reload, socket_, sni, client, dest, sip_domain, tls_domain, explain, batch, fmt):
    """Show which TLS domain OpenSIPS picks, and why.

    Answers from the config (and the tls_mgm DB table) exactly as OpenSIPS 3.6.8 selects:
    the exact 'ip:port' address key if any domain lists it, else the '*' key (an exact key
    hides '*'-address domains completely); inside the key, exact-text patterns, then
    patterns containing '*', then '*' itself; ties go to the domain inserted first (at
    startup: DB rows, then the LAST-declared script domain; --after-reload: script domains
    first); an identical (address, pattern) pair belongs to the domain that inserted it
    first. Matching is fnmatch(3), case-insensitive from 3.6.8 on, '*' spans dots.

    \b
    Server side (incoming connection):
      selected   the domain whose certificate is sent; the INITIAL domain (first entry of
                 the address key) is also reported: its tls_method governs the protocol
                 version even when the SNI switches to another domain
      rejected   no pattern matches the SNI (no SNI is matched as the text 'none'):
                 fatal alert 112 unrecognized_name
      dropped    no domain for that address: OpenSIPS logs "no TLS server domain found"
                 and the client gets no TLS answer at all
    Client side (new outgoing connection; an open connection is reused whatever the AVPs):
      selected   the client domain used
      rejected   "no TLS client domain found": OpenSIPS opens TCP, closes it without a
                 ClientHello, the request fails with 477. A --tls-domain name that no
                 client domain has exactly gives this too (no fallback to the filters).
      No --sip-domain is matched as the text '*'.

    \b
    Batch (--batch FILE or -), one JSON object per line:
      {"socket": "10.0.0.10:5061", "sni": "a.example.com"}     (no "sni" = no SNI)
      {"client": true, "dest": "1.2.3.4:5061", "sip_domain": "x", "tls_domain": null}
    Output is one JSON result per line (a malformed line gives {"line": N, "error": ...}
    and the rest still runs); --format text prints text lines instead.

    \b
    JSON (--format json): {"results": [{"side", "socket", "sni", "sip_domain",
      "tls_domain", "domain", "outcome", "initial_domain", "rank", "pattern", "file",
      "line"}]} - rank is exact|wildcard|any (null when no pattern decided), file/line
      locate the chosen domain's declaration. --explain adds "rule", "notes", "explain".

    \b
    Examples:
      tlsmgm match -c opensips.cfg --socket 10.0.0.10:5061 --sni atlanta.com --explain
      tlsmgm match -c opensips.cfg                      (every TLS listener, no SNI)
      tlsmgm match -c opensips.cfg --client --dest 1.2.3.4:5061 --sip-domain biloxi.com
      tlsmgm match -c opensips.cfg --batch queries.jsonl > results.jsonl

    Exit status: 0 every query selected a domain, 1 any did not (or a batch line was
    malformed), 2 usage errors or a config OpenSIPS would refuse to start with.
    """
    _check_usage(socket_, sni, client, dest, sip_domain, tls_domain, batch)
    domset = load_domset_or_exit(config, preprocessor=preprocessor, cfg_dir=cfg_dir,
                                 opensips_version=opensips_version, db_url=db_url,
                                 after_reload=after_reload)
    from tlsmgm_cli.core.matcher import DomainMatcher

    matcher = DomainMatcher(domset)
    if batch is not None:
        batch_fmt = fmt if ctx.get_parameter_source("fmt") == click.core.ParameterSource.COMMANDLINE \
            else "jsonl"
        ctx.exit(_run_batch(matcher, batch, batch_fmt, explain))
    try:
        if client:
            results = [_client_query(matcher, dest, sip_domain, tls_domain)]
        elif socket_ is not None:
            results = [_server_query(matcher, socket_, sni)]
        else:
            results = _every_listener(matcher, domset, config, sni)
    except TlsmgmError as err:
        raise click.UsageError(err.message) from None
    from tlsmgm_cli.render.match import emit_results

    rows = [_result_dict(matcher, r, explain, notes=explain or fmt == "text") for r in results]
    emit_results(rows, fmt, explain)
    ctx.exit(0 if all(r.selected for r in results) else 1)


def _check_usage(socket_, sni, client, dest, sip_domain, tls_domain, batch) -> None:
    server_opts = [n for n, v in (("--socket", socket_), ("--sni", sni)) if v is not None]
    client_opts = [n for n, v in (("--dest", dest), ("--sip-domain", sip_domain),
                                  ("--tls-domain", tls_domain)) if v is not None]
    if batch is not None:
        if server_opts or client_opts or client:
            raise click.UsageError("--batch takes the queries from its input: drop "
                                   + ", ".join(server_opts + client_opts + (["--client"] if client else [])))
        return
    if client:
        if server_opts:
            raise click.UsageError(f"{', '.join(server_opts)}: server-side options cannot be used "
                                   "with --client (use --dest)")
        if dest is None and tls_domain is None:
            raise click.UsageError("--client needs --dest IP:PORT (or --tls-domain NAME, which "
                                   "works on any destination)")
    elif client_opts:
        raise click.UsageError(f"{', '.join(client_opts)}: client-side options need --client")


def _server_query(matcher, socket_text: str, sni: str | None):
    from tlsmgm_cli.core.addresses import parse_hostport

    ip, port = parse_hostport(socket_text, what="--socket")
    return matcher.match_server(ip, port, sni)


def _client_query(matcher, dest: str | None, sip_domain: str | None, tls_domain: str | None):
    from tlsmgm_cli.core.addresses import parse_hostport

    ip, port = parse_hostport(dest, what="--dest") if dest is not None else (None, None)
    return matcher.match_client(ip, port, sip_domain, tls_domain)


def _every_listener(matcher, domset, config: str, sni: str | None) -> list:
    from tlsmgm_cli.core.matcher import tls_listeners
    from tlsmgm_cli.render import hint

    listeners = tls_listeners(domset.config)
    results = []
    for lst in listeners:
        if lst.skip:
            hint(f"{lst.loc}: warning: skipping '{lst.text}': {lst.skip}")
            continue
        result = matcher.match_server(lst.ip, lst.port, sni)
        if lst.note:
            result.notes.append(lst.note)
        results.append(result)
    if not results:
        why = "no socket=tls:/listen=tls: listener" if not listeners else \
            "no TLS listener with an IP address"
        raise click.UsageError(f"{config} has {why}: give --socket IP:PORT")
    return results


def _result_dict(matcher, result, explain: bool, *, notes: bool) -> dict[str, Any]:
    """The JSON-contract fields; ``rule``/``notes`` (and ``explain``) only on request so
    that plain JSON output is exactly the contract."""
    row = result.to_dict()
    if notes:
        row["rule"] = result.rule
        row["notes"] = list(result.notes)
    if explain:
        row["explain"] = matcher.explain(result).to_dict()
    return row


# ---------------------------------------------------------------------------------------
# Batch


def _run_batch(matcher, source: str, fmt: str, explain: bool) -> int:
    """Answer every line; return the exit code."""
    try:
        if source == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(source, "rb") as fh:
                data = fh.read()
    except OSError as err:
        raise click.UsageError(f"cannot read --batch {source}: {err.strerror or err}") from None
    from tlsmgm_cli.render.match import emit_batch_lines, emit_results

    runner = _BatchRunner(matcher)
    notes = explain or fmt == "text"
    if fmt == "jsonl" and not notes:
        lines = data.splitlines()
        if len(lines) >= _PARALLEL_MIN_LINES and hasattr(os, "fork") and sys.platform != "darwin" \
                and (os.cpu_count() or 1) > 1:
            out, code = _json_lines_in_two_processes(matcher, lines)
            emit_batch_lines(out)
            return code
        emit_batch_lines(runner.json_lines(lines))
    else:
        emit_results([a.to_dict() if isinstance(a, _BatchError) else
                      _result_dict(matcher, a, explain, notes=notes)
                      for a in runner.run(data.splitlines())], fmt, explain)
    return runner.exit_code


_PARALLEL_MIN_LINES = 20_000


def _json_lines_in_two_processes(matcher, lines: list[bytes]) -> tuple[list[str], int]:
    """Answer a big batch on two cores: a forked child (sharing the loaded config and
    matcher copy-on-write) answers the second half while this process answers the first;
    the output order is the input order. Any failure of the child falls back to answering
    its half here, so the result never depends on the fork."""
    mid = len(lines) // 2
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: answer the second half, send it, exit without cleanup
        status = 1
        try:
            os.close(read_fd)
            child = _BatchRunner(matcher)
            payload = "\n".join(child.json_lines(lines[mid:], first_number=mid + 1)).encode()
            with os.fdopen(write_fd, "wb") as pipe:
                pipe.write(bytes([child.exit_code]) + payload)
            status = 0
        finally:
            os._exit(status)
    os.close(write_fd)
    runner = _BatchRunner(matcher)
    first = runner.json_lines(lines[:mid])
    with os.fdopen(read_fd, "rb") as pipe:
        received = pipe.read()
    _, status = os.waitpid(pid, 0)
    if status != 0 or not received:
        second_runner = _BatchRunner(matcher)
        second = second_runner.json_lines(lines[mid:], first_number=mid + 1)
        return first + second, max(runner.exit_code, second_runner.exit_code)
    second = received[1:].decode().split("\n") if len(received) > 1 else []
    return first + second, max(runner.exit_code, received[0])


class _BatchError:
    """A batch line that could not be answered."""

    __slots__ = ("number", "message")

    def __init__(self, number: int, message: str):
        self.number = number
        self.message = message

    @classmethod
    def of(cls, number: int, err: Exception) -> _BatchError:
        if isinstance(err, TlsmgmError):
            return cls(number, err.message)
        if isinstance(err, UnicodeDecodeError):
            return cls(number, "not UTF-8 text")
        return cls(number, f"not JSON: {err}")

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.number, "error": self.message}


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


_SERVER_KEYS = frozenset({"client", "socket", "sni"})
_CLIENT_KEYS = frozenset({"client", "dest", "sip_domain", "tls_domain"})


def _unknown_keys(query: dict[str, Any], allowed: frozenset[str], side: str) -> TlsmgmError:
    """The error for keys a ``side`` query does not take (quoted: a key is any text)."""
    return TlsmgmError(f"unknown key(s) in a {side} query: "
                       + ", ".join(repr(k) for k in sorted(query.keys() - allowed)))


class _BatchRunner:
    """Parses and answers batch lines, caching address parsing per distinct text."""

    def __init__(self, matcher):
        self.matcher = matcher
        self.exit_code = 0
        self._addresses: dict[str, tuple[str, int]] = {}

    def _address(self, text: Any, what: str) -> tuple[str, int]:
        hit = self._addresses.get(text) if isinstance(text, str) else None
        if hit is None:
            from tlsmgm_cli.core.addresses import parse_hostport

            if not isinstance(text, str):
                raise TlsmgmError(f'"{what}" must be a string like "10.0.0.10:5061"')
            hit = self._addresses[text] = parse_hostport(text, what=f'"{what}"')
        return hit

    def json_lines(self, lines: list[bytes], first_number: int = 1) -> list[str]:
        """The contract JSON line of every non-blank line, in order. An answer depends
        only on the line's text, so a repeated line reuses its first answer; a server
        query's result fields depend only on (address key, chosen entry, empty SNI), so
        they are encoded once per such decision (server_choice is the same lookup
        match_server makes)."""
        from tlsmgm_cli.core.matcher import CONTRACT_FIELDS, socket_text
        from tlsmgm_cli.render.match import JsonLines, json_line

        writer = JsonLines(CONTRACT_FIELDS, query_fields=5)
        seen: dict[bytes, str] = {}
        decided: dict[tuple[Any, ...], tuple[str, bool]] = {}
        out: list[str] = []
        matcher = self.matcher
        for number, raw in enumerate(lines, first_number):
            line = seen.get(raw)
            if line is not None:
                out.append(line)
                continue
            try:
                query = self._parse(raw)
            except (ValueError, UnicodeDecodeError, TlsmgmError) as err:
                self.exit_code = 1
                out.append(json_line(_BatchError.of(number, err).to_dict()))
                continue
            if query is None:
                continue
            if query[0] == SERVER:
                _, ip, port, sni = query
                try:
                    key_used, index = matcher.server_choice(ip, port, sni)
                except TlsmgmError as err:
                    self.exit_code = 1
                    out.append(json_line(_BatchError.of(number, err).to_dict()))
                    continue
                cache_key = (key_used, index, sni == "")
                known = decided.get(cache_key)
                if known is None:
                    result = matcher.match_server(ip, port, sni)
                    known = decided[cache_key] = (writer.tail(result.contract_values()[5:]),
                                                  result.selected)
                values = (SERVER, socket_text(ip, port), sni, None, None)
                line = writer.line(values, known[0])
                if not known[1]:
                    self.exit_code = 1
            else:
                answer = self._client(number, query)
                if isinstance(answer, _BatchError):
                    out.append(json_line(answer.to_dict()))
                    continue
                line = writer.line(answer.contract_values())
            seen[raw] = line
            out.append(line)
        return out

    def run(self, lines: list[bytes]) -> list:
        """A MatchResult or a _BatchError per non-blank line, in order (sets the exit
        code)."""
        answers: list = []
        for number, raw in enumerate(lines, 1):
            try:
                query = self._parse(raw)
                if query is None:
                    continue
                answer = self.matcher.match_server(*query[1:]) if query[0] == SERVER \
                    else self._client(number, query)
            except (ValueError, UnicodeDecodeError, TlsmgmError) as err:
                answer = _BatchError.of(number, err)
            if isinstance(answer, _BatchError) or not answer.selected:
                self.exit_code = 1
            answers.append(answer)
        return answers

    def _client(self, number: int, query: tuple):
        try:
            result = self.matcher.match_client(*query[1:])
        except TlsmgmError as err:
            self.exit_code = 1
            return _BatchError.of(number, err)
        if not result.selected:
            self.exit_code = 1
        return result

    def _parse(self, raw: bytes) -> tuple | None:
        """One line -> ("server", ip, port, sni) | ("client", ip, port, sip_domain,
        tls_domain) | None (blank line). Raises ValueError/UnicodeDecodeError (not JSON)
        or TlsmgmError (a JSON query tlsmgm cannot answer)."""
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
            ip, port = self._address(query["socket"], "socket")
            return (SERVER, ip, port, sni)
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
        ip, port = self._address(query["dest"], "dest")
        return (CLIENT, ip, port, sip_domain, tls_domain)
