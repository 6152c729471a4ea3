"""tlsmgm diff."""

from __future__ import annotations

import click

from tlsmgm_cli import exitcodes
from tlsmgm_cli.cli.common import load_domset_or_exit
from tlsmgm_cli.cli.mi_cmd import (
    FLEET_HELP_EPILOG,
    NODE_UNREACHABLE,
    fleet_mi_options,
    resolve_endpoint_from_options,
    resolve_fleet_from_options,
    single_url,
)
from tlsmgm_cli.cli.options import config_options, db_options, format_option


@click.command("diff", epilog=FLEET_HELP_EPILOG)
@config_options
@db_options
@fleet_mi_options
@format_option(["text", "json"])
def diff_cmd(config, preprocessor, cfg_dir, opensips_version, db_url, after_reload, mi_url, fifo,
             reply_dir, timeout, cli_config, nodes_file, all_instances, fmt):
    """Compare the live tls_list with the config (drift).

    Asks the running OpenSIPS for its MI tls_list and compares it with what
    'tlsmgm list --format mi' predicts for the config (and the tls_mgm table): domains
    missing or extra (by name and type), and changed filters, method, verify/require/CRL
    flags, file paths, ciphers and curve. The order of keys does not matter; the order of
    filters does. tls_list shows file paths, not contents: a certificate replaced under
    the same path is not drift.

    With several nodes (--mi-url more than once, --nodes FILE or --all-instances) all are
    asked concurrently and one table shows domains x nodes: ok, '-' (neither the config
    nor that node has it), missing (in the config, not on the node), extra (on the node,
    not in the config), changed: KEYS (field drift, detailed below the table), or '?' for
    a node that did not answer (the (node) row says 'unreachable', the reason follows the table). json gives
    per-node status and per-domain presence and drift (.nodes[], .domains[].nodes.NAME).

    tls_reload reloads DB-defined domains only: drift in script-defined domains
    needs an OpenSIPS restart, and tlsmgm says so.

    \b
    Examples:
      tlsmgm diff -c /etc/opensips/opensips.cfg
      tlsmgm diff -c opensips.cfg --db mysql://opensips:pw@db/opensips --mi-url http://sip1:8888/mi
      tlsmgm diff -c opensips.cfg --format json | jq '.domains[].name'
      tlsmgm diff -c opensips.cfg --mi-url sip1=http://10.0.0.1:8888/mi --mi-url sip2=http://10.0.0.2:8888/mi
      tlsmgm diff -c opensips.cfg --nodes nodes.yaml --timeout 3
      tlsmgm diff -c opensips.cfg --all-instances --format json | jq '.nodes[] | select(.drift)'

    Exit status: 0 no drift (every node in sync), 1 drift, 2 when the config cannot be
    read or an OpenSIPS cannot be reached, times out, or answers something that is not a
    tls_list reply (with several nodes: any of them, even when others drift).
    """
    nodes = resolve_fleet_from_options(mi_url, fifo, reply_dir, timeout, cli_config, nodes_file,
                                       all_instances)
    domset = load_domset_or_exit(config, preprocessor=preprocessor, cfg_dir=cfg_dir,
                                 opensips_version=opensips_version, db_url=db_url,
                                 after_reload=after_reload)
    from tlsmgm_cli.core.mi.drift import compare_tls_list
    from tlsmgm_cli.core.mi.tls_list import tls_list

    if nodes is not None:
        _fleet_diff(nodes, tls_list(domset), fmt, config)
        return
    from tlsmgm_cli.core.errors import TlsmgmError
    from tlsmgm_cli.core.mi.client import call
    from tlsmgm_cli.render.mi import render_drift

    endpoint = resolve_endpoint_from_options(single_url(mi_url), fifo, reply_dir, timeout,
                                             cli_config)
    try:
        live = call(endpoint, "tls_list")
        report = compare_tls_list(live, tls_list(domset), origin=str(endpoint))
    except TlsmgmError as err:  # unreachable, timed out or garbage: 2 here (issue 14)
        err.exit_code = NODE_UNREACHABLE
        raise
    status = exitcodes.PROBLEMS if report.has_drift else exitcodes.OK
    exitcodes.reached(status)  # before the output: a closed pipe keeps it
    render_drift(report, fmt, endpoint=str(endpoint), config=config)
    if status != exitcodes.OK:
        raise click.exceptions.Exit(status)


def _fleet_diff(nodes, expected, fmt: str, config: str) -> None:
    from tlsmgm_cli.core.mi.drift import compare_fleet
    from tlsmgm_cli.core.mi.nodes import query_nodes
    from tlsmgm_cli.render.mi import render_fleet_drift

    results = query_nodes(nodes, "tls_list")
    report = compare_fleet([(r.node.name, r.node.shown, r.node.origin, r.reply if r.ok else None, r.error)
                            for r in results], expected)
    status = NODE_UNREACHABLE if report.unreachable else \
        exitcodes.PROBLEMS if report.has_drift else exitcodes.OK
    exitcodes.reached(status)  # before the output: a closed pipe keeps it
    render_fleet_drift(report, fmt, config=config)
    if status != exitcodes.OK:
        raise click.exceptions.Exit(status)
