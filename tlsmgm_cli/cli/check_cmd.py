"""tlsmgm check."""

from __future__ import annotations

import datetime as dt
import os
import time
from typing import Any

import click
from click.core import ParameterSource

from tlsmgm_cli.cli.options import config_options, db_options, parse_version

FORMATS = ["text", "json", "sarif", "github"]
SEVERITIES = ["error", "warning", "note"]
PROJECT_FILE = ".tlsmgm.yaml"
# .tlsmgm.yaml key -> click parameter name
_YAML_KEYS = {
    "format": "fmt", "fail-on": "fail_on", "warn-days": "warn_days", "now": "now_text",
    "select": "select", "ignore": "ignore", "root": "root", "cfg-dir": "cfg_dir",
    "opensips-version": "opensips_version", "pp": "preprocessor", "db": "db_url",
}
_DEFAULTS = {"fmt": "text", "fail_on": "error", "warn_days": 30}


def _project_settings(config: str) -> tuple[dict[str, Any], str | None]:
    """The options of the first .tlsmgm.yaml next to the config or in the CWD."""
    import yaml

    for directory in (os.path.dirname(os.path.abspath(config)), os.getcwd()):
        path = os.path.join(directory, PROJECT_FILE)
        if not os.path.isfile(path):
            continue
        try:
            with open(path, encoding="utf-8") as handle:
                data = yaml.safe_load(handle) or {}
        except (OSError, yaml.YAMLError) as err:
            raise click.UsageError(f"{path}: cannot read: {err}") from None
        if not isinstance(data, dict):
            raise click.UsageError(f"{path}: expected a mapping of option: value")
        out = {}
        for key, value in data.items():
            name = _YAML_KEYS.get(str(key).replace("_", "-"))
            if name is None:
                raise click.UsageError(f"{path}: unknown option '{key}' (known: {', '.join(_YAML_KEYS)})")
            out[name] = value
        return out, path
    return {}, None


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
    if name == "warn_days" and (not isinstance(value, int) or value < 0):
        raise click.UsageError(f"{where}: warn-days must be a whole number of days")
    return value


@click.command("check")
@config_options
@db_options
@click.option("--format", "-f", "fmt", type=click.Choice(FORMATS), default=None,
              help="Output format: text (grouped by domain), json, sarif (2.1.0, for code scanning) or "
                   "github (workflow annotations).  [default: text]")
@click.option("--fail-on", type=click.Choice(SEVERITIES), default=None,
              help="Exit 1 when a finding of this severity or worse exists.  [default: error]")
@click.option("--warn-days", type=click.IntRange(min=0), default=None, metavar="DAYS",
              help="Warn about certificates expiring within DAYS days.  [default: 30]")
@click.option("--now", "now_text", metavar="DATETIME",
              help="Check validity as of this time (ISO 8601, UTC unless an offset is given) for "
                   "reproducible runs.")
@click.option("--select", multiple=True, metavar="RULES",
              help="Only these rules (ids or prefixes, comma-separated or repeated), e.g. TLS2,TLS301.")
@click.option("--ignore", multiple=True, metavar="RULES", help="Skip these rules (ids or prefixes).")
@click.option("--root", metavar="DIR", type=click.Path(file_okay=False),
              help="Look up the files a domain names under DIR (a copy of the server's file tree).")
@click.option("--list-rules", is_flag=True, help="Print the rule catalogue and exit.")
@click.argument("configs", nargs=-1, metavar="[CFG]...")
@click.pass_context
def check_cmd(ctx: click.Context, config, preprocessor, cfg_dir, opensips_version, db_url, after_reload,
              fmt, fail_on, warn_days, now_text, select, ignore, root, list_rules, configs):
    """Validate every TLS domain (a CI linter with stable rules).

    Finds, in one offline run, what makes OpenSIPS refuse to start (bad modparams,
    missing or mismatched certificate and key files, bad tls_method, cipher list, curve
    or DH parameters) and what makes it start but fail clients (listeners no domain
    covers, shadowed domains, expired certificates, names the certificate does not
    cover...). Every finding has a stable rule id (--list-rules) and a file:line.

    The config's own db_url is not contacted (check stays offline): pass --db URL to
    check the DB-defined domains too.

    Options can also come from a .tlsmgm.yaml next to the config or in the working
    directory (keys: format, fail-on, warn-days, now, select, ignore, root, cfg-dir,
    opensips-version, pp, db); command-line flags win.

    \b
    Examples:
      tlsmgm check -c /etc/opensips/opensips.cfg
      tlsmgm check -c opensips.cfg --format sarif > tlsmgm.sarif
      tlsmgm check -c opensips.cfg --fail-on warning --ignore TLS033
      tlsmgm check --list-rules

    Configs may also be given as arguments (several at once with the text and github
    formats, as pre-commit does); each is checked as a whole config.

    Exit status: 0 when no finding reaches --fail-on, 1 when one does, 2 for usage
    errors or a config that cannot be read.
    """
    from tlsmgm_cli.render.check import render_rules

    if list_rules:
        render_rules(fmt or "text")
        return
    given = {"fmt": fmt, "fail_on": fail_on, "warn_days": warn_days, "now_text": now_text,
             "select": list(select), "ignore": list(ignore), "root": root, "cfg_dir": cfg_dir,
             "opensips_version": opensips_version, "preprocessor": preprocessor, "db_url": db_url}
    paths = list(configs) or [config]
    failed = False
    for path in paths:
        failed = _check_one(ctx, path, dict(given), after_reload, several=len(paths) > 1) or failed
    if failed:
        raise click.exceptions.Exit(1)


def _check_one(ctx: click.Context, config: str, given: dict[str, Any], after_reload: bool,
               several: bool) -> bool:
    """Check one config with its .tlsmgm.yaml applied; True when it fails --fail-on."""
    project, project_path = _project_settings(config)
    for name, value in project.items():
        if ctx.get_parameter_source(name) in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT):
            continue  # flags win
        given[name] = _as_list(value) if name in ("select", "ignore") else value
        _validated(name, given[name], project_path or PROJECT_FILE)
    for name, default in _DEFAULTS.items():
        if given[name] is None:
            given[name] = default
    if several and given["fmt"] in ("json", "sarif"):
        raise click.UsageError("several configs need --format text or github (one JSON document per run)")
    return _run(config, given, _parse_now(given["now_text"]), after_reload)


def _run(config: str, opts: dict[str, Any], now: dt.datetime | None, after_reload: bool) -> bool:
    from tlsmgm_cli.cli.common import load_domset, verbose
    from tlsmgm_cli.core.checks import fails, run_checks
    from tlsmgm_cli.core.errors import TlsmgmError
    from tlsmgm_cli.render.check import render_report
    from tlsmgm_cli.render.progress import progress_bar

    domset = load_domset(config, preprocessor=opts["preprocessor"], cfg_dir=str(opts["cfg_dir"]),
                         opensips_version=parse_version(str(opts["opensips_version"])),
                         db_url=opts["db_url"], use_db=bool(opts["db_url"]), after_reload=after_reload)
    started = time.perf_counter()
    try:
        with progress_bar("checking domains", len(domset.all), human=opts["fmt"] == "text") as progress:
            report = run_checks(domset, now=now, warn_days=int(opts["warn_days"]), select=opts["select"],
                                ignore=opts["ignore"], progress=progress, root=opts["root"])
    except TlsmgmError as err:
        raise click.UsageError(str(err)) from None
    verbose(f"{config}: checked {len(domset.all)} domains in {time.perf_counter() - started:.2f} s")
    render_report(report, opts["fmt"], config)
    return fails(report, opts["fail_on"])

