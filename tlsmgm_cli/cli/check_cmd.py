"""tlsmgm check."""

from __future__ import annotations

import datetime as dt
import os
import time
from typing import Any

import click

from tlsmgm_cli import exitcodes
from tlsmgm_cli.cli.options import (
    NagiosUsageError,
    as_nagios,
    config_options,
    db_options,
    parse_version,
    say_unknown,
    settings_command,
    settings_option,
)
from tlsmgm_cli.core.errors import TlsmgmError
from tlsmgm_cli.render.monitoring import NAGIOS_UNKNOWN  # a check that could not run

FORMATS = ["text", "json", "sarif", "github", "prometheus", "nagios"]
# formats that are one document per run (not several configs at once)
SINGLE_DOCUMENT = ("json", "sarif", "prometheus", "nagios")
SEVERITIES = ["error", "warning", "note"]
# settings-file key -> click parameter name (read into click's default_map: options.settings_command)
_YAML_KEYS = {
    "format": "fmt", "fail-on": "fail_on", "warn-days": "warn_days", "now": "now_text",
    "select": "select", "ignore": "ignore", "root": "root", "cfg-dir": "cfg_dir",
    "opensips-version": "opensips_version", "pp": "preprocessor", "db": "db_url", "no-db": "no_db",
    "crit-days": "crit_days",
}


def _parse_now(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a date/time like 2025-06-01 or 2025-06-01T12:00:00Z",
                                 param_hint="--now") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


CHECK_SERVICE = "TLSMGM CHECK"  # render.check.CHECK_SERVICE, the nagios status line's service


def _say_unknown(message: str) -> None:
    say_unknown(CHECK_SERVICE, message)


def _as_nagios(err: click.UsageError) -> NagiosUsageError:
    return as_nagios(err, CHECK_SERVICE)


@click.command("check", cls=settings_command(_YAML_KEYS, nagios_service=CHECK_SERVICE))
@config_options
@db_options
@settings_option
@click.option("--format", "-f", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="Output format: text (grouped by domain), json, sarif (2.1.0, for code scanning), "
                   "github (workflow annotations), prometheus (node_exporter textfile) or nagios "
                   "(monitoring-plugin status line).")
@click.option("--output", "-o", metavar="FILE", type=click.Path(dir_okay=False),
              help="Write the output (any format but text) to FILE atomically: a reader sees the old "
                   "or the whole new file, e.g. the node_exporter textfile directory's tlsmgm.prom.")
@click.option("--fail-on", type=click.Choice(SEVERITIES), default="error", show_default=True,
              help="Exit 1 when a finding of this severity or worse exists.")
@click.option("--warn-days", type=click.IntRange(min=0), default=30, show_default=True, metavar="DAYS",
              help="Warn about certificates expiring within DAYS days (--format nagios: WARNING).")
@click.option("--crit-days", type=click.IntRange(min=0), default=7, show_default=True, metavar="DAYS",
              help="--format nagios: CRITICAL when a certificate expires within DAYS days.")
@click.option("--now", "now_text", metavar="DATETIME",
              help="Check validity as of this time (ISO 8601, UTC unless an offset is given) for "
                   "reproducible runs.")
@click.option("--select", multiple=True, metavar="RULES",
              help="Only these rules (ids or prefixes, comma-separated or repeated), e.g. TLS2,TLS301.")
@click.option("--ignore", multiple=True, metavar="RULES", help="Skip these rules (ids or prefixes).")
@click.option("--root", metavar="DIR", type=click.Path(file_okay=False, exists=True),
              help="Look up the files a domain names under DIR (a copy of the server's file tree).")
@click.option("--jobs", type=click.IntRange(min=1), envvar="TLSMGM_JOBS", metavar="N",
              help="Processes to check a big config (2000+ domains) with: 2 splits it in two, 1 never forks "
                   "[env TLSMGM_JOBS; default: 2 where fork is available].")
@click.option("--list-rules", is_flag=True, help="Print the rule catalogue and exit.")
@click.argument("configs", nargs=-1, metavar="[CFG]...")
@click.pass_context
def check_cmd(ctx: click.Context, config, preprocessor, cfg_dir, opensips_version, db_url, after_reload,
              fmt, output, fail_on, warn_days, crit_days, now_text, select, ignore, root, jobs, list_rules, configs):
    """Validate every TLS domain (a CI linter with stable rules).

    Finds, in one run, what makes OpenSIPS refuse to start (bad modparams,
    missing or mismatched certificate and key files, bad tls_method, cipher list, curve
    or DH parameters) and what makes it start but fail clients (listeners no domain
    covers, shadowed domains, expired certificates, names the certificate does not
    cover...). Every finding has a stable rule id (--list-rules) and a file:line.

    Like OpenSIPS at startup, the DB-defined domains of the config's db_url are read and
    checked too (--db URL reads another copy of the table; --no-db keeps the run offline
    and checks the script domains only). A DB that cannot be reached (connect timeout
    5 s) is a TLS047 warning (TLS048, an error, for a URL given with --db) that names it:
    the DB domains were then not checked.

    Findings that stop OpenSIPS at startup are marked (text: "[stops OpenSIPS at
    startup]"; JSON: "stops_start" on each finding and "opensips_would_start", null when
    the config could not be read), and the text summary ends with whether OpenSIPS would
    start with this config.

    Options can also come from a settings file: --settings FILE, else a .tlsmgm.yaml
    next to the config or in the working directory (keys: format, fail-on, warn-days,
    crit-days, now, select, ignore, root, cfg-dir, opensips-version, pp, db, no-db). The
    command line (and TLSMGM_CONFIG/TLSMGM_DB) wins over the file, the file over the
    built-in defaults; a bad value in the file is a usage error naming the file. Several
    CFG arguments share the settings file found for the first. pp runs a program, so it is taken only from a file named with --settings: a
    .tlsmgm.yaml that is merely found has its pp ignored, with a warning.

    \b
    Examples:
      tlsmgm check -c /etc/opensips/opensips.cfg
      tlsmgm check -c opensips.cfg --format sarif > tlsmgm.sarif
      tlsmgm check -c opensips.cfg --fail-on warning --ignore TLS033
      tlsmgm check -c opensips.cfg --no-db
      tlsmgm check -c opensips.cfg -f prometheus -o /var/lib/textfile/tlsmgm.prom
      tlsmgm check -c opensips.cfg -f nagios --warn-days 21 --crit-days 7
      tlsmgm check --list-rules

    Configs may also be given as arguments (several at once with the text and github
    formats, as pre-commit does); each is checked as a whole config.

    \b
    Monitoring:
      -f prometheus  node_exporter textfile format (prometheus-client), every
                     series labelled config=CFG:
        tlsmgm_check_certificate_expiry_seconds{domain,side,file}
          (seconds to notAfter; file: the path, or db:<row id> for a
          certificate held in the DB)
        tlsmgm_check_certificate_not_after_timestamp_seconds{domain,side,file}
        tlsmgm_check_findings{severity}
        tlsmgm_check_rule_findings{rule,severity}
        tlsmgm_check_opensips_would_start, tlsmgm_check_domains,
        tlsmgm_check_timestamp_seconds, tlsmgm_check_duration_seconds
      -f nagios      one status line, perfdata 'days_left_<domain>_<side>' per
                     certificate and the finding counts. Exit 0 OK; 1 WARNING:
                     a warning, or a certificate expiring within --warn-days;
                     2 CRITICAL: an error (stopping OpenSIPS or not), or a
                     certificate expiring within --crit-days; 3 UNKNOWN: a
                     usage error or a config that cannot be read. --fail-on
                     does not apply.
      -o FILE        writes any format but text atomically (a reader, such as
                     the textfile collector, never sees half a file)

    Exit status (every format but nagios): 0 when no finding reaches --fail-on, 1 when one
    does (the output is written all the same), 2 for usage errors (a --root that is not a directory...) or a config that cannot be read.
    """
    from tlsmgm_cli.render.check import render_rules

    if list_rules:
        render_rules(fmt)
        return
    opts = {"fmt": fmt, "fail_on": fail_on, "warn_days": warn_days, "crit_days": crit_days,
            "select": list(select), "ignore": list(ignore), "root": root, "cfg_dir": cfg_dir,
            "opensips_version": opensips_version, "preprocessor": preprocessor, "db_url": db_url,
            "output": output, "jobs": jobs}
    paths = list(configs) or [config]
    status = exitcodes.OK
    try:
        _usage_checks(ctx, opts, several=len(paths) > 1)
        now = _parse_now(now_text)
        for path in paths:
            status = max(status, _run(ctx, path, opts, now, after_reload))
    except click.UsageError as err:
        if fmt == "nagios":
            raise _as_nagios(err) from None
        raise
    except TlsmgmError as err:  # the config (or the DB URL...) cannot be read
        if fmt != "nagios":
            raise
        from tlsmgm_cli.render.safe import visible_lines

        _say_unknown(str(err))
        click.echo(f"tlsmgm: error: {visible_lines(str(err))}", err=True)
        raise click.exceptions.Exit(NAGIOS_UNKNOWN) from None
    if status != exitcodes.OK:
        raise click.exceptions.Exit(status)


def _usage_checks(ctx: click.Context, opts: dict[str, Any], several: bool) -> None:
    """Option combinations that make no sense (settings file values included)."""
    if several and opts["fmt"] in SINGLE_DOCUMENT:
        raise click.UsageError(f"several configs need --format text or github (--format {opts['fmt']} "
                               "writes one document per run)")
    if several and opts["output"]:
        raise click.UsageError("--output takes one config")
    if opts["output"] and opts["fmt"] == "text":
        raise click.UsageError("--output writes the machine formats (json, sarif, github, prometheus, nagios)",
                               ctx=ctx)
    if opts["crit_days"] > opts["warn_days"] and opts["fmt"] == "nagios":
        raise click.UsageError(f"--crit-days {opts['crit_days']} is more than --warn-days {opts['warn_days']}",
                               ctx=ctx)


def _run(ctx: click.Context, config: str, opts: dict[str, Any], now: dt.datetime | None,
         after_reload: bool) -> int:
    from tlsmgm_cli.cli.common import load_domset, verbose
    from tlsmgm_cli.core.checks import fails, run_checks
    from tlsmgm_cli.render.check import render_report
    from tlsmgm_cli.render.progress import progress_bar
    from tlsmgm_cli.render.safe import visible

    root = opts["root"]
    if root is not None and not os.path.isdir(str(root)):
        why = "does not exist" if not os.path.exists(str(root)) else "is not a directory"
        raise click.BadParameter(f"{visible(str(root))!r} {why} (give the directory that holds a copy "
                                 "of the server's files)", param_hint="--root")
    domset = load_domset(config, preprocessor=opts["preprocessor"], cfg_dir=str(opts["cfg_dir"]),
                         opensips_version=parse_version(str(opts["opensips_version"])),
                         db_url=opts["db_url"] or None, after_reload=after_reload)
    started = time.perf_counter()
    now = now or dt.datetime.now(dt.timezone.utc)  # one time for the rules and the expiry metrics
    try:
        with progress_bar("checking domains", len(domset.all), human=opts["fmt"] == "text") as progress:
            report = run_checks(domset, now=now, warn_days=int(opts["warn_days"]), select=opts["select"],
                                ignore=opts["ignore"], progress=progress, root=opts["root"],
                                jobs=opts["jobs"])
    except TlsmgmError as err:
        raise click.UsageError(str(err)) from None
    took = time.perf_counter() - started
    verbose(f"{config}: checked {len(domset.all)} domains in {took:.2f} s")
    status = exitcodes.PROBLEMS if fails(report, opts["fail_on"]) else exitcodes.OK
    fmt = opts["fmt"]
    if fmt not in ("prometheus", "nagios") and not opts["output"]:
        exitcodes.reached(status)  # before the output: a closed pipe keeps it
        render_report(report, fmt, config)
        return status
    data, status = _machine_output(report, domset, opts, config, now, took, status)
    exitcodes.reached(status)
    if not opts["output"]:
        click.echo(data.decode(), nl=False)
        return status
    from tlsmgm_cli.core.util.atomicio import atomic_write

    try:
        atomic_write(opts["output"], data, force=True, make_dirs=False)
    except TlsmgmError as err:
        if fmt == "nagios":
            _say_unknown(str(err))
        click.echo(f"tlsmgm: error: {err}", err=True)
        ctx.exit(NAGIOS_UNKNOWN if fmt == "nagios" else exitcodes.PROBLEMS)
    return status


def _machine_output(report: Any, domset: Any, opts: dict[str, Any], config: str, now: dt.datetime,
                    took: float, status: int) -> tuple[bytes, int]:
    """The bytes of a machine format, and the exit status (the plugin status for nagios)."""
    from tlsmgm_cli.render import check as render

    fmt = opts["fmt"]
    if fmt not in ("prometheus", "nagios"):
        return render.report_bytes(report, fmt, config), status
    from tlsmgm_cli.core.checks.expiry import certificate_expiries

    expiries = certificate_expiries(domset, now, root=opts["root"])
    if fmt == "prometheus":
        return render.prometheus_check(report, expiries, config, now, took), status
    line, plugin_status = render.nagios_check(report, expiries, opts["warn_days"], opts["crit_days"])
    return (line + "\n").encode(), plugin_status

