"""tlsmgm check."""

from __future__ import annotations

import datetime as dt
import os
import time
from typing import Any

import click
from click.core import ParameterSource

from tlsmgm_cli import exitcodes
from tlsmgm_cli.cli.options import config_options, db_options, parse_version, read_settings, settings_option
from tlsmgm_cli.core.errors import TlsmgmError
from tlsmgm_cli.render.monitoring import NAGIOS_UNKNOWN  # a check that could not run

FORMATS = ["text", "json", "sarif", "github", "prometheus", "nagios"]
# formats that are one document per run (not several configs at once)
SINGLE_DOCUMENT = ("json", "sarif", "prometheus", "nagios")
SEVERITIES = ["error", "warning", "note"]
PROJECT_FILE = ".tlsmgm.yaml"
# .tlsmgm.yaml key -> click parameter name
_YAML_KEYS = {
    "format": "fmt", "fail-on": "fail_on", "warn-days": "warn_days", "now": "now_text",
    "select": "select", "ignore": "ignore", "root": "root", "cfg-dir": "cfg_dir",
    "opensips-version": "opensips_version", "pp": "preprocessor", "db": "db_url", "no-db": "no_db",
    "crit-days": "crit_days",
}
_DEFAULTS = {"fmt": "text", "fail_on": "error", "warn_days": 30, "crit_days": 7}


def _project_settings(config: str) -> tuple[dict[str, Any], str | None]:
    """The options of --settings FILE, else of the first .tlsmgm.yaml next to the config or
    in the CWD (whose pp is ignored: see ``options.read_settings``)."""
    return read_settings(config, _YAML_KEYS)


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [str(value)]


def _parse_now(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a date/time like 2025-06-01 or 2025-06-01T12:00:00Z",
                                 param_hint="--now") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _validated(name: str, value: Any, where: str) -> Any:
    if name == "fmt" and value not in FORMATS:
        raise click.UsageError(f"{where}: format must be one of {', '.join(FORMATS)}")
    if name == "fail_on" and value not in SEVERITIES:
        raise click.UsageError(f"{where}: fail-on must be one of {', '.join(SEVERITIES)}")
    if name in ("warn_days", "crit_days") and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        raise click.UsageError(f"{where}: {name.replace('_', '-')} must be a whole number of days")
    if name == "no_db" and not isinstance(value, bool):
        raise click.UsageError(f"{where}: no-db must be true or false")
    return value


def _wants_nagios(args: list[str]) -> bool:
    """Whether the command line asks for --format nagios (before it is parsed)."""
    for i, arg in enumerate(args):
        if arg in ("--format", "-f") and i + 1 < len(args) and args[i + 1] == "nagios":
            return True
        if arg in ("--format=nagios", "-fnagios"):
            return True
    return False


def _say_unknown(message: str) -> None:
    """The UNKNOWN status line on stdout (what Nagios shows), never raising."""
    from tlsmgm_cli.render.check import nagios_unknown

    exitcodes.reached(NAGIOS_UNKNOWN)
    try:
        click.echo(nagios_unknown(message))
    except (OSError, ValueError):
        pass


class _NagiosUsageError(click.UsageError):
    """A usage error under --format nagios: an UNKNOWN status line, exit 3 (a monitoring
    system reads 2 as CRITICAL)."""

    exit_code = NAGIOS_UNKNOWN

    def show(self, file: Any = None) -> None:
        _say_unknown(f"usage: {self.format_message()}")
        super().show(file)


def _as_nagios(err: click.UsageError) -> _NagiosUsageError:
    return _NagiosUsageError(err.format_message(), ctx=err.ctx)


class _CheckCommand(click.Command):
    """With --format nagios, usage errors exit UNKNOWN (3), also those click finds while
    parsing the command line."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        nagios = _wants_nagios(args)
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as err:
            if nagios and not isinstance(err, _NagiosUsageError):
                raise _as_nagios(err) from None
            raise


@click.command("check", cls=_CheckCommand)
@config_options
@db_options
@settings_option
@click.option("--format", "-f", "fmt", type=click.Choice(FORMATS), default=None,
              help="Output format: text (grouped by domain), json, sarif (2.1.0, for code scanning), "
                   "github (workflow annotations), prometheus (node_exporter textfile) or nagios "
                   "(monitoring-plugin status line).  [default: text]")
@click.option("--output", "-o", metavar="FILE", type=click.Path(dir_okay=False),
              help="Write the output (any format but text) to FILE atomically: a reader sees the old "
                   "or the whole new file, e.g. the node_exporter textfile directory's tlsmgm.prom.")
@click.option("--fail-on", type=click.Choice(SEVERITIES), default=None,
              help="Exit 1 when a finding of this severity or worse exists.  [default: error]")
@click.option("--warn-days", type=click.IntRange(min=0), default=None, metavar="DAYS",
              help="Warn about certificates expiring within DAYS days (--format nagios: WARNING).  "
                   "[default: 30]")
@click.option("--crit-days", type=click.IntRange(min=0), default=None, metavar="DAYS",
              help="--format nagios: CRITICAL when a certificate expires within DAYS days.  [default: 7]")
@click.option("--now", "now_text", metavar="DATETIME",
              help="Check validity as of this time (ISO 8601, UTC unless an offset is given) for "
                   "reproducible runs.")
@click.option("--select", multiple=True, metavar="RULES",
              help="Only these rules (ids or prefixes, comma-separated or repeated), e.g. TLS2,TLS301.")
@click.option("--ignore", multiple=True, metavar="RULES", help="Skip these rules (ids or prefixes).")
@click.option("--root", metavar="DIR", type=click.Path(file_okay=False, exists=True),
              help="Look up the files a domain names under DIR (a copy of the server's file tree).")
@click.option("--list-rules", is_flag=True, help="Print the rule catalogue and exit.")
@click.argument("configs", nargs=-1, metavar="[CFG]...")
@click.pass_context
def check_cmd(ctx: click.Context, config, preprocessor, cfg_dir, opensips_version, db_url, after_reload,
              fmt, output, fail_on, warn_days, crit_days, now_text, select, ignore, root, list_rules, configs):
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
    startup]"; JSON: "stops_start" on each finding and "opensips_would_start"), and the
    text summary ends with whether OpenSIPS would start with this config.

    Options can also come from a settings file: --settings FILE, else a .tlsmgm.yaml
    next to the config or in the working directory (keys: format, fail-on, warn-days,
    crit-days, now, select, ignore, root, cfg-dir, opensips-version, pp, db, no-db); command-line flags
    win. pp runs a program, so it is taken only from a file named with --settings: a
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
        render_rules(fmt or "text")
        return
    given = {"fmt": fmt, "fail_on": fail_on, "warn_days": warn_days, "crit_days": crit_days,
             "now_text": now_text, "select": list(select), "ignore": list(ignore), "root": root,
             "cfg_dir": cfg_dir, "opensips_version": opensips_version, "preprocessor": preprocessor,
             "db_url": db_url, "output": output}
    paths = list(configs) or [config]
    status = exitcodes.OK
    seen: dict[str, Any] = {"fmt": fmt}  # the format in force, once a settings file is read
    try:
        for path in paths:
            status = max(status, _check_one(ctx, path, dict(given), after_reload, several=len(paths) > 1,
                                            seen=seen))
    except click.UsageError as err:
        if seen["fmt"] == "nagios" and not isinstance(err, _NagiosUsageError):
            raise _as_nagios(err) from None
        raise
    except TlsmgmError as err:  # the config (or the DB URL...) cannot be read
        if seen["fmt"] != "nagios":
            raise
        from tlsmgm_cli.render.safe import visible_lines

        _say_unknown(str(err))
        click.echo(f"tlsmgm: error: {visible_lines(str(err))}", err=True)
        raise click.exceptions.Exit(NAGIOS_UNKNOWN) from None
    if status != exitcodes.OK:
        raise click.exceptions.Exit(status)


def _check_one(ctx: click.Context, config: str, given: dict[str, Any], after_reload: bool,
               several: bool, seen: dict[str, Any]) -> int:
    """Check one config with its .tlsmgm.yaml applied; the exit status (PROBLEMS when a
    finding reaches --fail-on; the plugin status with --format nagios)."""
    project, project_path = _project_settings(config)
    if "fmt" in project and ctx.get_parameter_source("fmt") not in (ParameterSource.COMMANDLINE,
                                                                    ParameterSource.ENVIRONMENT):
        seen["fmt"] = project["fmt"]
    for name, value in project.items():
        if ctx.get_parameter_source(name) in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT):
            continue  # flags win
        given[name] = _as_list(value) if name in ("select", "ignore") else value
        _validated(name, given[name], project_path or PROJECT_FILE)
    for name, default in _DEFAULTS.items():
        if given[name] is None:
            given[name] = default
    if given.get("no_db") and ctx.get_parameter_source("db_url") in (ParameterSource.COMMANDLINE,
                                                                     ParameterSource.ENVIRONMENT):
        given["no_db"] = False  # --db URL (or TLSMGM_DB) on the command line wins over the file
    if several and given["fmt"] in SINGLE_DOCUMENT:
        raise click.UsageError(f"several configs need --format text or github (--format {given['fmt']} "
                               "writes one document per run)")
    if several and given["output"]:
        raise click.UsageError("--output takes one config")
    if given["output"] and given["fmt"] == "text":
        raise click.UsageError("--output writes the machine formats (json, sarif, github, prometheus, nagios)",
                               ctx=ctx)
    if given["crit_days"] > given["warn_days"] and given["fmt"] == "nagios":
        raise click.UsageError(f"--crit-days {given['crit_days']} is more than --warn-days {given['warn_days']}",
                               ctx=ctx)
    return _run(ctx, config, given, _parse_now(given["now_text"]), after_reload)


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
                         db_url=opts["db_url"] or None, use_db=not opts.get("no_db"),
                         after_reload=after_reload)
    started = time.perf_counter()
    now = now or dt.datetime.now(dt.timezone.utc)  # one time for the rules and the expiry metrics
    try:
        with progress_bar("checking domains", len(domset.all), human=opts["fmt"] == "text") as progress:
            report = run_checks(domset, now=now, warn_days=int(opts["warn_days"]), select=opts["select"],
                                ignore=opts["ignore"], progress=progress, root=opts["root"])
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
        atomic_write(opts["output"], data, force=True)
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

