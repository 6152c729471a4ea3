"""tlsmgm diff."""

from __future__ import annotations

import click

from tlsmgm_cli.cli.common import load_domset_or_exit
from tlsmgm_cli.cli.mi_cmd import MI_HELP_EPILOG, mi_options, resolve_endpoint_from_options
from tlsmgm_cli.cli.options import config_options, db_options, format_option


@click.command("diff", epilog=MI_HELP_EPILOG)
@config_options
@db_options
@mi_options
@format_option(["text", "json"])
def diff_cmd(config, preprocessor, cfg_dir, opensips_version, db_url, after_reload, mi_url, fifo,
             reply_dir, timeout, cli_config, fmt):
    """Compare the live tls_list with the config (drift).

    Asks the running OpenSIPS for its MI tls_list and compares it with what
    'tlsmgm list --format mi' predicts for the config (and the tls_mgm table): domains
    missing or extra (by name and type), and changed filters, method, verify/require/CRL
    flags, file paths, ciphers and curve. The order of keys does not matter; the order of
    filters does. tls_list shows file paths, not contents: a certificate replaced under
    the same path is not drift.

    tls_reload reloads DB-defined domains only: drift in script-defined domains
    needs an OpenSIPS restart, and tlsmgm says so.

    \b
    Examples:
      tlsmgm diff -c /etc/opensips/opensips.cfg
      tlsmgm diff -c opensips.cfg --db mysql://opensips:pw@db/opensips --mi-url http://sip1:8888/mi
      tlsmgm diff -c opensips.cfg --format json | jq '.domains[].name'

    Exit status: 0 no drift, 1 drift, 2 when the config cannot be read or OpenSIPS cannot
    be reached, times out, or answers something that is not a tls_list reply.
    """
    domset = load_domset_or_exit(config, preprocessor=preprocessor, cfg_dir=cfg_dir,
                                 opensips_version=opensips_version, db_url=db_url,
                                 after_reload=after_reload)
    from tlsmgm_cli.core.drift import compare_tls_list
    from tlsmgm_cli.core.mi import tls_list
    from tlsmgm_cli.core.miclient import call
    from tlsmgm_cli.render.mi import render_drift

    endpoint = resolve_endpoint_from_options(mi_url, fifo, reply_dir, timeout, cli_config)
    live = call(endpoint, "tls_list")
    report = compare_tls_list(live, tls_list(domset), origin=str(endpoint))
    render_drift(report, fmt, endpoint=str(endpoint), config=config)
    if report.has_drift:
        raise click.exceptions.Exit(1)
