"""tlsmgm mi tls_list | tls_reload, and the MI connection options ``diff`` shares."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from tlsmgm_cli import exitcodes
from tlsmgm_cli.cli.options import SECONDS_MAX, format_option, seconds_type
from tlsmgm_cli.core.limits import MI_TIMEOUT_S

#: ``diff``: a node that does not answer (issue 14: "exit 2 usage or unreachable"); the mi
#: commands themselves exit PROBLEMS (1), as for any operational failure
NODE_UNREACHABLE = exitcodes.USAGE

# a longer wait is a typo (and time.monotonic() + 1e308 overflows nothing useful)
MI_TIMEOUT_MAX_S = SECONDS_MAX

MI_HELP_EPILOG = """\b
Where to connect, first match wins:
  --mi-url URL             JSON-RPC over HTTP (OpenSIPS mi_http)
  --fifo PATH              JSON-RPC over the FIFO (OpenSIPS mi_fifo)
  opensips-cli's config    ~/.opensips-cli.cfg, /etc/opensips-cli.cfg or
                           /etc/opensips/opensips-cli.cfg ([default] section:
                           communication_type, url, fifo_file, fifo_reply_dir)
  defaults                 the FIFO /run/opensips/opensips_fifo when it exists,
                           else http://127.0.0.1:8888/mi

\b
The FIFO reply is written by OpenSIPS into mi_fifo's reply_dir (default /tmp/), so
tlsmgm creates its reply FIFO there under a random name (--fifo-reply-dir).
"""


def mi_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--mi-url, --fifo, --fifo-reply-dir, --timeout, --cli-config (one node)."""
    return _mi_options(fn, fleet=False)


def fleet_mi_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``mi_options`` for commands that ask several nodes: --mi-url repeatable (NAME=URL),
    --nodes FILE and --all-instances."""
    return _mi_options(fn, fleet=True)


def _mi_options(fn: Callable[..., Any], *, fleet: bool) -> Callable[..., Any]:
    url_help = ("Talk to OpenSIPS's mi_http at this URL, e.g. http://127.0.0.1:8888/mi; repeat "
                "it to ask several nodes, NAME= names one (env TLSMGM_MI_URL, space-separated)." if fleet else
                "Talk to OpenSIPS's mi_http at this URL, e.g. http://127.0.0.1:8888/mi (env TLSMGM_MI_URL).")
    per_node = " (per node; nodes are asked concurrently)." if fleet else "."
    options = [  # in --help order
        click.option("--mi-url", metavar="[NAME=]URL" if fleet else "URL", envvar="TLSMGM_MI_URL",
                     multiple=fleet, help=url_help),
        click.option("--fifo", metavar="PATH", envvar="TLSMGM_MI_FIFO",
                     help="Talk to OpenSIPS's mi_fifo through this FIFO (env TLSMGM_MI_FIFO)."),
        click.option("--fifo-reply-dir", "reply_dir", metavar="DIR", envvar="TLSMGM_MI_REPLY_DIR",
                     help="mi_fifo's reply_dir, where the reply FIFO is created "
                          "(default: opensips-cli's fifo_reply_dir, else /tmp)."),
        click.option("--timeout", type=seconds_type(MI_TIMEOUT_MAX_S),
                     default=MI_TIMEOUT_S, show_default=True, metavar="SECONDS",
                     help="Give up when the whole request (connect, send, complete reply) has not "
                          "finished within this time" + per_node),
        click.option("--cli-config", metavar="FILE", envvar="TLSMGM_OPENSIPS_CLI_CFG",
                     help="Take MI defaults from this opensips-cli config file instead of the first of "
                          "~/.opensips-cli.cfg, /etc/opensips-cli.cfg, /etc/opensips/opensips-cli.cfg "
                          "(env TLSMGM_OPENSIPS_CLI_CFG)."),
    ]
    if fleet:
        options += [
            click.option("--nodes", "nodes_file", metavar="FILE", envvar="TLSMGM_NODES",
                         help="Ask the nodes this YAML file lists (name, url or fifo, user, password_env "
                              "or password_file, timeout); see the examples below (env TLSMGM_NODES)."),
            click.option("--all-instances", is_flag=True,
                         help="Ask every instance ([section]) of the opensips-cli config (--cli-config or "
                              "the first one found), each with the [default] keys it inherits."),
        ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def single_url(mi_url: tuple[str, ...]) -> str | None:
    """The one --mi-url of a one-node run (a NAME= prefix is dropped), or None."""
    from tlsmgm_cli.core.mi.nodes import split_named_url

    return split_named_url(mi_url[0])[1] if mi_url else None


def resolve_fleet_from_options(mi_url: tuple[str, ...], fifo: str | None, reply_dir: str | None,
                               timeout: float, cli_config: str | None, nodes_file: str | None,
                               all_instances: bool):
    """The core.mi.nodes.Node list for the options of ``fleet_mi_options``, or None when they
    name one node (then ``resolve_endpoint_from_options`` applies, as before)."""
    from tlsmgm_cli.core.mi.nodes import fleet_requested, resolve_nodes

    if not fleet_requested(mi_url, nodes_file, all_instances):
        return None
    if fifo and mi_url:
        raise click.UsageError("give either --mi-url or --fifo, not both (put a FIFO node in "
                               "the --nodes file: fifo: PATH)")
    return resolve_nodes(mi_urls=mi_url, fifo=fifo, reply_dir=reply_dir, timeout=timeout,
                         cli_cfg=cli_config, nodes_file=nodes_file, all_instances=all_instances)


def resolve_endpoint_from_options(mi_url: str | None, fifo: str | None, reply_dir: str | None,
                                  timeout: float, cli_config: str | None):
    """The core MiEndpoint for the options of ``mi_options``."""
    from tlsmgm_cli.core.mi.client import resolve_endpoint

    return resolve_endpoint(mi_url=mi_url, fifo=fifo, reply_dir=reply_dir, timeout=timeout,
                            cli_cfg=cli_config)


@click.group("mi")
def mi_group() -> None:
    """Talk to a running OpenSIPS over MI (tls_list, tls_reload).

    Runs tls_mgm's MI commands over JSON-RPC 2.0, through mi_http or mi_fifo, with the
    same connection settings opensips-cli uses. --timeout bounds the whole request
    (connect, send and the complete reply); a reply over 64 MiB is refused.

    Exit status: 0 ok; 1 when OpenSIPS cannot be reached, does not answer within
    --timeout, answers something that is not a JSON-RPC reply (HTTP 401: credentials
    needed) or answers with an error, or the opensips-cli config file cannot be read (with
    several nodes (tls_list): when any of them fails, the others still shown); 2 usage
    errors (a malformed --mi-url, a bad --timeout, a bad nodes file).
    """


FLEET_HELP_EPILOG = MI_HELP_EPILOG + """
\b
Several nodes (asked concurrently, each within --timeout):
  --mi-url URL --mi-url URL        repeat it; --mi-url sip1=URL names a node
  --nodes FILE                     a YAML list of nodes, e.g.
                                     - name: sip1
                                       url: http://10.0.0.1:8888/mi
                                     - name: sip2
                                       url: https://10.0.0.2:8888/mi
                                       user: opensips
                                       password_env: SIP2_MI_PW
                                   (or password_file: PATH; never a password
                                   in the file; fifo: PATH for a local node)
  --all-instances                  every [section] of the opensips-cli config
A password is never shown: URLs appear with it masked as ***.
"""


@mi_group.command("tls_list", epilog=FLEET_HELP_EPILOG)
@fleet_mi_options
@format_option(["text", "json"])
def tls_list_cmd(mi_url, fifo, reply_dir, timeout, cli_config, nodes_file, all_instances, fmt):
    """Show the TLS domains the running OpenSIPS (or each of several nodes) holds.

    json prints the reply exactly as 'tlsmgm list --format mi' prints the prediction
    for a config, so the two can be compared with diff(1); 'tlsmgm diff' does it for you.

    With several nodes (--mi-url more than once, --nodes or --all-instances), text shows
    one section per node, json an object keyed by node name, each {"url", "status":
    "ok", "Domains": [...]} or {"url", "status": "unreachable", "error"}; exit 1 when a
    node does not answer.

    \b
    Examples:
      tlsmgm mi tls_list
      tlsmgm mi tls_list --mi-url http://10.0.0.5:8888/mi --format json
      tlsmgm mi tls_list --fifo /run/opensips/opensips_fifo
      tlsmgm mi tls_list --mi-url sip1=http://10.0.0.1:8888/mi --mi-url sip2=http://10.0.0.2:8888/mi
      tlsmgm mi tls_list --nodes nodes.yaml --format json | jq '.sip1.Domains[].name'
      tlsmgm mi tls_list --all-instances
    """
    from tlsmgm_cli.core.mi.client import call
    from tlsmgm_cli.core.mi.drift import validate_tls_list
    from tlsmgm_cli.render.mi import render_tls_list

    nodes = resolve_fleet_from_options(mi_url, fifo, reply_dir, timeout, cli_config, nodes_file,
                                       all_instances)
    if nodes is not None:
        from tlsmgm_cli.core.mi.nodes import query_nodes
        from tlsmgm_cli.render.mi import render_fleet_tls_list

        results = query_nodes(nodes, "tls_list",
                              validate=lambda reply, origin: validate_tls_list(reply, origin=origin))
        status = exitcodes.OK if all(r.ok for r in results) else exitcodes.PROBLEMS
        exitcodes.reached(status)  # before the output: a closed pipe keeps it
        render_fleet_tls_list(results, fmt)
        if status != exitcodes.OK:
            raise click.exceptions.Exit(status)
        return
    endpoint = resolve_endpoint_from_options(single_url(mi_url), fifo, reply_dir, timeout,
                                             cli_config)
    reply = call(endpoint, "tls_list")
    validate_tls_list(reply, origin=str(endpoint))
    render_tls_list(reply, fmt)


@mi_group.command("tls_reload", epilog=MI_HELP_EPILOG)
@mi_options
@format_option(["text", "json"])
def tls_reload_cmd(mi_url, fifo, reply_dir, timeout, cli_config, fmt):
    """Make OpenSIPS reload its DB-defined TLS domains.

    tls_reload re-reads the tls_mgm table only. Script-defined (modparam) domains keep
    what OpenSIPS read at startup, so changes to them need a restart; OpenSIPS answers
    '500 DB url not set' when tls_mgm has no db_url at all.

    \b
    Examples:
      tlsmgm mi tls_reload && tlsmgm diff -c /etc/opensips/opensips.cfg
    """
    from tlsmgm_cli.core.mi.client import MiCommandError, call
    from tlsmgm_cli.render import echo_err, hint
    from tlsmgm_cli.render.mi import render_reload

    endpoint = resolve_endpoint_from_options(mi_url, fifo, reply_dir, timeout, cli_config)
    try:
        result = call(endpoint, "tls_reload")
    except MiCommandError as err:
        if "DB url not set" not in err.rpc_message:
            raise
        exitcodes.reached(err.exit_code)
        echo_err(f"tlsmgm: error: {err}")
        hint("hint: tls_mgm has no db_url, so every domain is script-defined and tls_reload "
             "cannot reload it: restart OpenSIPS to load changed certificates.")
        raise click.exceptions.Exit(err.exit_code) from None
    render_reload(result, fmt)
