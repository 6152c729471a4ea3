"""``tlsmgm probe``: the config held against the live server."""

from __future__ import annotations

import click

from tlsmgm_cli import exitcodes
from tlsmgm_cli.cli.options import (
    FiniteFloatRange,
    NagiosUsageError,
    as_nagios,
    config_options,
    db_options,
    format_option,
    nagios_command,
    say_unknown,
    seconds_type,
)
from tlsmgm_cli.core.limits import PROBE_HANDSHAKE_TIMEOUT_S, PROBE_TOTAL_TIMEOUT_S

NAGIOS_UNKNOWN = NagiosUsageError.exit_code  # the plugin status "the check itself could not run"
PROBE_SERVICE = "TLSMGM PROBE"  # the nagios status line's service (render.probe)


def _as_nagios(err: click.UsageError) -> NagiosUsageError:
    return as_nagios(err, PROBE_SERVICE)


@click.command("probe", cls=nagios_command(PROBE_SERVICE))
@config_options
@db_options
@click.option("--socket", "sockets", multiple=True, metavar="IP:PORT",
              help="Probe this listener (the address key OpenSIPS selects on; IPv6: [addr]:port). "
                   "Repeatable. Default: every socket=tls:/listen=tls: listener of the config.")
@click.option("--connect", "connects", multiple=True, metavar="[LISTENER=]HOST:PORT",
              help="Connect here instead of to the listener's own address (a server behind NAT, "
                   "a test server). LISTENER= names the listener it stands for (needed when several "
                   "are probed). Repeatable.")
@click.option("--jobs", "-j", type=click.IntRange(min=1, max=256), default=8, show_default=True,
              help="Handshakes in flight at once.")
@click.option("--timeout", type=seconds_type(min_s=0.01), default=PROBE_TOTAL_TIMEOUT_S, show_default=True,
              help="Seconds for the whole run; handshakes not done by then count as no-answer.")
@click.option("--handshake-timeout", type=seconds_type(min_s=0.01), default=PROBE_HANDSHAKE_TIMEOUT_S,
              show_default=True, help="Seconds for one connect + handshake (a listener no domain "
                                      "covers takes this long: OpenSIPS never answers it).")
@format_option(["text", "json", "prometheus", "nagios"])
@click.option("--output", "-o", metavar="FILE", type=click.Path(dir_okay=False),
              help="Write the output to FILE atomically (a reader sees the old or the whole new file), "
                   "e.g. the node_exporter textfile directory's probe.prom.")
@click.option("--warn-days", type=FiniteFloatRange(min=0), default=30, show_default=True,
              help="--format nagios: WARNING when a certificate served expires within this many days.")
@click.option("--crit-days", type=FiniteFloatRange(min=0), default=7, show_default=True,
              help="--format nagios: CRITICAL when a certificate served expires within this many days.")
@click.pass_context
def probe_cmd(ctx: click.Context, config: str, preprocessor: str | None, cfg_dir: str, opensips_version: str,
              db_url: str | None, after_reload: bool, sockets: tuple[str, ...], connects: tuple[str, ...],
              jobs: int, timeout: float, handshake_timeout: float, fmt: str, output: str | None,
              warn_days: float, crit_days: float) -> None:
    """Check that the running server serves what the config says.

    For each TLS listener, the SNIs that matter are derived from the server domains
    that apply there: every exact pattern, one generated name inside each wildcard
    pattern, a name no pattern matches, and no SNI. Each is sent in a real TLS
    handshake (no verification during it), and what the server did is compared with
    what `tlsmgm match` predicts: the domain's certificate (SHA-256 of the leaf), a
    fatal alert 112 unrecognized_name when no pattern matches, or no TLS answer at all
    when no domain covers the listener. The chain served is verified against the
    predicted domain's CAs, and its notAfter shown.

    \b
    Verdicts:
      ok                 the server did what the config predicts
      wrong-certificate  a certificate other than the predicted domain's was served
      unexpected-reject  the handshake failed (an alert) where a domain should be chosen,
                         or failed with another alert than 112
      unexpected-accept  a certificate was served where a rejection or silence is predicted
      no-answer          no TLS answer (timeout, closed) where one is predicted, or no TCP
                         connection at all (refused: even a listener no domain covers
                         accepts TCP)
    An SNI that cannot be sent as given (empty, over 255 bytes...) is listed as skipped.

    \b
    JSON (--format json): {"results": [{"listener", "connect", "sni", "kind" (exact|wildcard|
      unmatched|unlisted|no-sni), "pattern", "pattern_domain", "expected" (selected|rejected|
      dropped), "expected_domain", "expected_sha256", "expected_subject", "outcome" (selected|
      rejected|no-answer|unreachable|failed), "verdict", "presented_subject",
      "presented_sha256", "not_after", "chain_length", "chain" {"checked", "ok", "code",
      "text", "depth", "against"}, "tls_version", "alert", "error", "compared", "rule",
      "notes", "seconds"}], "skipped": [...], "summary": {...}, "warnings": [...]}

    \b
    Examples:
      tlsmgm probe -c /etc/opensips/opensips.cfg
      tlsmgm probe -c opensips.cfg --socket 10.0.0.10:5061 --connect 203.0.113.7:5061
      tlsmgm probe -c opensips.cfg --format json | jq '.results[] | select(.verdict != "ok")'

    \b
    Monitoring:
      --format prometheus  node_exporter textfile format (prometheus-client's exposition):
                           tlsmgm_probe_certificate_expiry_seconds{listener,sni,domain,sha256},
                           tlsmgm_probe_as_predicted, tlsmgm_probe_chain_valid,
                           tlsmgm_probe_verdicts{verdict}, tlsmgm_probe_success,
                           tlsmgm_probe_duration_seconds, tlsmgm_probe_timestamp_seconds
      --format nagios      one status line with perfdata days_left per (listener, SNI);
                           exit 0 OK, 1 WARNING (--warn-days), 2 CRITICAL (--crit-days, or any
                           handshake not as predicted), 3 UNKNOWN (usage or config error)

    Exit status (text, json, prometheus): 0 every handshake as predicted, 1 any mismatch
    or no-answer (or a certificate that could not be compared), 2 usage errors or a
    config OpenSIPS would refuse to start with.
    """
    from tlsmgm_cli.core.errors import TlsmgmError

    nagios = fmt == "nagios"
    if crit_days > warn_days:
        _usage(ctx, nagios, f"--crit-days {crit_days:g} is more than --warn-days {warn_days:g}")
    try:
        _probe(ctx, config, preprocessor, cfg_dir, opensips_version, db_url, after_reload, sockets,
               connects, jobs, timeout, handshake_timeout, fmt, output, warn_days, crit_days)
    except click.UsageError as err:
        if nagios:
            raise _as_nagios(err) from None
        raise
    except TlsmgmError as err:
        if not nagios:
            raise
        say_unknown(PROBE_SERVICE, str(err))
        click.echo(f"tlsmgm: error: {err}", err=True)
        raise click.exceptions.Exit(NAGIOS_UNKNOWN) from None


def _usage(ctx: click.Context, nagios: bool, message: str) -> None:
    if nagios:
        raise NagiosUsageError(message, ctx=ctx, service=PROBE_SERVICE)
    raise click.UsageError(message, ctx=ctx)


def _probe(ctx: click.Context, config: str, preprocessor: str | None, cfg_dir: str, opensips_version: str,
           db_url: str | None, after_reload: bool, sockets: tuple[str, ...], connects: tuple[str, ...],
           jobs: int, timeout: float, handshake_timeout: float, fmt: str, output: str | None,
           warn_days: float, crit_days: float) -> None:
    from tlsmgm_cli.cli.common import load_domset_or_exit
    from tlsmgm_cli.core.errors import TlsmgmError
    from tlsmgm_cli.core.net.addresses import parse_hostport
    from tlsmgm_cli.core.tls.probe import Target, apply_connect, config_targets, plan_probe, run_probe
    from tlsmgm_cli.render import hint
    from tlsmgm_cli.render.probe import emit_probe, render_probe
    from tlsmgm_cli.render.progress import progress_bar

    targets: list[Target] = []
    try:
        for text in sockets:
            ip, port = parse_hostport(text, what="--socket")
            if all((t.ip, t.port) != (ip, port) for t in targets):
                targets.append(Target(ip, port, ip, port))
    except TlsmgmError as err:
        raise click.BadParameter(err.message, ctx=ctx, param_hint="--socket") from None
    try:
        domset = load_domset_or_exit(config, preprocessor=preprocessor, cfg_dir=cfg_dir,
                                     opensips_version=opensips_version, db_url=db_url, after_reload=after_reload)
    except click.exceptions.Exit as done:
        if fmt == "nagios" and done.exit_code == exitcodes.USAGE:  # a config OpenSIPS would refuse
            say_unknown(PROBE_SERVICE, f"{config}: a config OpenSIPS would refuse")
            raise click.exceptions.Exit(NAGIOS_UNKNOWN) from None
        raise
    warnings: list[str] = []
    if not targets:
        targets, warnings = config_targets(domset)
        for warning in warnings:
            hint(f"tlsmgm: warning: {warning}")
        if not targets:
            raise click.UsageError(f"{config} has no TLS listener with an IP address: give --socket IP:PORT")
    try:
        apply_connect(targets, list(connects))
        plan = plan_probe(domset, targets)
    except TlsmgmError as err:
        raise click.UsageError(err.message) from None
    plan.warnings[:0] = warnings
    for warning in plan.warnings[len(warnings):]:
        hint(f"tlsmgm: warning: {warning}")
    with progress_bar("probing", len(plan.cases), human=fmt == "text" or output is not None,
                      min_items=20) as advance:
        report = run_probe(plan, jobs=jobs, handshake_timeout=handshake_timeout, total_timeout=timeout,
                           progress=advance)
    status = exitcodes.OK if report.all_as_predicted else exitcodes.PROBLEMS
    data, nagios_status = render_probe(report.to_dict(), fmt, warn_days=warn_days, crit_days=crit_days)
    if nagios_status is not None:
        status = nagios_status
    exitcodes.reached(status)
    if output is None:
        emit_probe(data)
    else:
        from tlsmgm_cli.core.util.atomicio import atomic_write

        try:
            atomic_write(output, data, force=True, make_dirs=False)
        except TlsmgmError as err:
            click.echo(f"tlsmgm: error: {err}", err=True)
            ctx.exit(NAGIOS_UNKNOWN if fmt == "nagios" else exitcodes.PROBLEMS)
    ctx.exit(status)
