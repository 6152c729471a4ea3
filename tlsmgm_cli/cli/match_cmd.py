"""tlsmgm match."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from tlsmgm_cli import exitcodes
from tlsmgm_cli.cli.common import load_domset_or_exit
from tlsmgm_cli.cli.options import (
    config_options,
    db_options,
    dns_options,
    format_option,
    resolution_failure,
    resolve_destination,
)
from tlsmgm_cli.core.errors import TlsmgmError


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
@click.option("--dest", metavar="DEST",
              help="Client side: the destination: IP:PORT, a sip:/sips: URI or HOST[:PORT], resolved as "
                   "OpenSIPS does for TLS (NAPTR, SRV _sips._tcp, A/AAAA); every resulting IP:PORT is matched.")
@dns_options
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
              after_reload, socket_, sni, client, dest, dns_server, dns_try_ipv6, sip_domain, tls_domain,
              explain, batch, fmt):
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
      --dest may be a SIP URI or host name (sips:example.com, sip:bob@example.com;
      transport=tls, example.com:5061): it is resolved as OpenSIPS 3.6.8 resolves it
      for sending (RFC 3263; --dns-server, --dns-try-ipv6) and each IP:PORT of the
      failover order gets its own result, with the "destination" it came from (ip,
      port, proto, host, via); --explain shows each DNS step ("resolution" in JSON).
      Destinations OpenSIPS reaches over UDP/TCP use no client domain and are only
      listed; a name that resolves to no TLS destination exits 1.

    \b
    Batch (--batch FILE or -), one JSON object per line:
      {"socket": "10.0.0.10:5061", "sni": "a.example.com"}     (no "sni" = no SNI)
      {"client": true, "dest": "1.2.3.4:5061", "sip_domain": "x", "tls_domain": null}
    Output is one JSON result per line (a malformed line gives {"line": N, "error": ...}
    and the rest still runs); --format text prints text lines instead. The input is a
    stream: each line is answered as it arrives (a pipe gets its answer before it sends
    the next query), in constant memory; a line over 64 KiB is answered with an error.

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
      tlsmgm match -c opensips.cfg --client --dest sips:biloxi.com --explain
      tlsmgm match -c opensips.cfg --batch queries.jsonl > results.jsonl

    Exit status: 0 every query selected a domain, 1 any did not (or a batch line was
    malformed), 2 usage errors or a config OpenSIPS would refuse to start with.
    """
    _check_usage(socket_, sni, client, dest, sip_domain, tls_domain, batch)
    if (dns_server is not None or dns_try_ipv6) and dest is None:
        raise click.UsageError("--dns-server and --dns-try-ipv6 resolve --dest: give --client --dest DEST")
    resolution = None
    if dest is not None and not _is_ip_port(dest):
        resolution = resolve_destination(ctx, dest, dns_server=dns_server, dns_try_ipv6=dns_try_ipv6,
                                         param_hint="--dest")
    domset = load_domset_or_exit(config, preprocessor=preprocessor, cfg_dir=cfg_dir,
                                 opensips_version=opensips_version, db_url=db_url,
                                 after_reload=after_reload)
    from tlsmgm_cli.core.matching.matcher import DomainMatcher, match_every_listener
    from tlsmgm_cli.render import hint

    matcher = DomainMatcher(domset)
    if batch is not None:
        batch_fmt = fmt if ctx.get_parameter_source("fmt") == click.core.ParameterSource.COMMANDLINE \
            else "jsonl"
        ctx.exit(_run_batch(matcher, batch, batch_fmt, explain))
    if resolution is not None:
        ctx.exit(_resolved_client(matcher, resolution, sip_domain, tls_domain, explain, fmt))
    try:
        if client:
            results = [_client_query(matcher, dest, sip_domain, tls_domain)]
        elif socket_ is not None:
            results = [_server_query(matcher, socket_, sni)]
        else:
            results, skipped = match_every_listener(matcher, domset.config, sni)
            for lst in skipped:
                hint(f"{lst.loc}: warning: skipping '{lst.text}': {lst.skip}")
    except TlsmgmError as err:
        raise click.UsageError(err.message) from None
    from tlsmgm_cli.render.match import emit_results

    rows = [_result_dict(matcher, r, explain, notes=explain or fmt == "text") for r in results]
    status = exitcodes.OK if all(r.selected for r in results) else exitcodes.PROBLEMS
    exitcodes.reached(status)  # before the output: a closed pipe keeps it
    emit_results(rows, fmt, explain)
    ctx.exit(status)


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


def _is_ip_port(text: str) -> bool:
    """Whether --dest is a plain IP:PORT (matched as it is, no resolution)."""
    from tlsmgm_cli.core.net.addresses import parse_hostport

    try:
        parse_hostport(text, what="--dest")
    except TlsmgmError:
        return False
    return True


def _resolved_client(matcher, resolution, sip_domain: str | None, tls_domain: str | None, explain: bool,
                     fmt: str) -> int:
    """Match every TLS destination a resolved --dest gives; render; the exit status."""
    from tlsmgm_cli.render.match import emit_resolved

    rows = []
    for dest in resolution.tls_destinations:
        row = _result_dict(matcher, matcher.match_client(dest.ip, dest.port, sip_domain, tls_domain),
                           explain, notes=explain or fmt == "text")
        row["destination"] = dest.as_dict()
        rows.append(row)
    error = None if resolution.ok else resolution_failure(resolution, explained=explain)
    ok = bool(rows) and all(r["outcome"] == "selected" for r in rows)
    status = exitcodes.OK if ok else exitcodes.PROBLEMS
    exitcodes.reached(status)
    emit_resolved(rows, resolution.as_dict(), fmt, explain, error=error)
    return status


def _server_query(matcher, socket_text: str, sni: str | None):
    from tlsmgm_cli.core.net.addresses import parse_hostport

    ip, port = parse_hostport(socket_text, what="--socket")
    return matcher.match_server(ip, port, sni)


def _client_query(matcher, dest: str | None, sip_domain: str | None, tls_domain: str | None):
    from tlsmgm_cli.core.net.addresses import parse_hostport

    ip, port = parse_hostport(dest, what="--dest") if dest is not None else (None, None)
    return matcher.match_client(ip, port, sip_domain, tls_domain)


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
# Batch: the engine is core.matching.batch; here the input is opened and the answers rendered


def _open_batch(source: str):
    """The binary stream of ``--batch``: stdin, a regular file, a FIFO or a terminal (a
    stream is answered as it arrives, so a pipe never needs to end). A directory or a
    device such as /dev/zero (endless data that is no query) is a usage error."""
    import stat

    if source == "-":
        return sys.stdin.buffer, False
    try:
        stream = open(source, "rb")  # noqa: SIM115 - closed by the caller
    except OSError as err:
        from tlsmgm_cli.core.util.safeio import describe_os_error

        raise click.UsageError(f"cannot read --batch {source}: {describe_os_error(err)}") from None
    try:
        mode = os.fstat(stream.fileno()).st_mode
    except OSError:  # pragma: no cover - fstat of an open file
        mode = stat.S_IFREG
    if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stream.isatty()):
        from tlsmgm_cli.core.util.safeio import file_kind

        stream.close()
        raise click.UsageError(f"--batch {source} is {file_kind(mode)}: give a file of JSON lines, "
                               "a FIFO or - (stdin)")
    return stream, True


def _run_batch(matcher, source: str, fmt: str, explain: bool) -> int:
    """Answer every line as it arrives (one read at a time); return the exit status."""
    from tlsmgm_cli.core.matching.batch import BatchEngine, BatchError, read_line_chunks
    from tlsmgm_cli.core.matching.matcher import ANSWER_FIELDS, QUERY_FIELDS
    from tlsmgm_cli.render.match import BatchWriter, JsonLinesEncoder

    stream, owned = _open_batch(source)
    engine = BatchEngine(matcher)
    writer = BatchWriter(fmt, explain)
    notes = explain or fmt == "text"
    fast = fmt == "jsonl" and not notes
    encoder = JsonLinesEncoder(QUERY_FIELDS, ANSWER_FIELDS)
    read = getattr(stream, "read1", stream.read)
    try:
        for lines in read_line_chunks(read):
            if fast:
                encoded = engine.encoded(lines, encoder)
                if engine.failed:  # before the answers are written: a closed pipe keeps it
                    exitcodes.reached(exitcodes.PROBLEMS)
                writer.lines(encoded)
                continue
            rows = [a.to_dict() if isinstance(a, BatchError) else
                    _result_dict(matcher, a, explain, notes=notes) for a in engine.answers(lines)]
            if engine.failed:
                exitcodes.reached(exitcodes.PROBLEMS)
            writer.rows(rows)
    except OSError as err:
        if isinstance(err, BrokenPipeError):
            raise
        writer.close()
        from tlsmgm_cli.core.util.safeio import describe_os_error

        raise TlsmgmError(f"cannot read --batch {source} after line {engine.number}: "
                          f"{describe_os_error(err)}") from None
    finally:
        if owned:
            stream.close()
    writer.close()
    return exitcodes.PROBLEMS if engine.failed else exitcodes.OK
