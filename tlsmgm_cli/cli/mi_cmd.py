"""tlsmgm mi tls_list | tls_reload, and the MI connection options ``diff`` shares."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from tlsmgm_cli.cli.options import format_option

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
    """--mi-url, --fifo, --fifo-reply-dir, --timeout, --cli-config."""
    fn = click.option(
        "--cli-config", metavar="FILE", envvar="TLSMGM_OPENSIPS_CLI_CFG",
        help="Take MI defaults from this opensips-cli config file instead of the first of "
             "~/.opensips-cli.cfg, /etc/opensips-cli.cfg, /etc/opensips/opensips-cli.cfg "
             "(env TLSMGM_OPENSIPS_CLI_CFG).")(fn)
    fn = click.option(
        "--timeout", type=click.FloatRange(min=0, min_open=True), default=5.0, show_default=True,
        metavar="SECONDS", help="Give up when OpenSIPS has not answered within this time.")(fn)
    fn = click.option(
        "--fifo-reply-dir", "reply_dir", metavar="DIR", envvar="TLSMGM_MI_REPLY_DIR",
        help="mi_fifo's reply_dir, where the reply FIFO is created "
             "(default: opensips-cli's fifo_reply_dir, else /tmp).")(fn)
    fn = click.option(
        "--fifo", metavar="PATH", envvar="TLSMGM_MI_FIFO",
        help="Talk to OpenSIPS's mi_fifo through this FIFO (env TLSMGM_MI_FIFO).")(fn)
    fn = click.option(
        "--mi-url", metavar="URL", envvar="TLSMGM_MI_URL",
        help="Talk to OpenSIPS's mi_http at this URL, e.g. http://127.0.0.1:8888/mi "
             "(env TLSMGM_MI_URL).")(fn)
    return fn


def resolve_endpoint_from_options(mi_url: str | None, fifo: str | None, reply_dir: str | None,
                                  timeout: float, cli_config: str | None):
    """The core MiEndpoint for the options of ``mi_options``."""
    from tlsmgm_cli.core.miclient import resolve_endpoint

    return resolve_endpoint(mi_url=mi_url, fifo=fifo, reply_dir=reply_dir, timeout=timeout,
                            cli_cfg=cli_config)


@click.group("mi")
def mi_group() -> None:
    """Talk to a running OpenSIPS over MI (tls_list, tls_reload).

    Runs tls_mgm's MI commands over JSON-RPC 2.0, through mi_http or mi_fifo, with the
    same connection settings opensips-cli uses. Exit status: 0 ok, 2 when OpenSIPS cannot
    be reached, does not answer within --timeout, answers something that is not a
    JSON-RPC reply, or answers with an error.
    """


@mi_group.command("tls_list", epilog=MI_HELP_EPILOG)
@mi_options
@format_option(["text", "json"])
def tls_list_cmd(mi_url, fifo, reply_dir, timeout, cli_config, fmt):
    """Show the TLS domains the running OpenSIPS holds.

    json prints the reply exactly as 'tlsmgm list --format mi' prints the prediction
    for a config, so the two can be compared with diff(1); 'tlsmgm diff' does it for you.

    \b
    Examples:
      tlsmgm mi tls_list
      tlsmgm mi tls_list --mi-url http://10.0.0.5:8888/mi --format json
      tlsmgm mi tls_list --fifo /run/opensips/opensips_fifo
    """
    from tlsmgm_cli.core.drift import validate_tls_list
    from tlsmgm_cli.core.miclient import call
    from tlsmgm_cli.render.mi import render_tls_list

    endpoint = resolve_endpoint_from_options(mi_url, fifo, reply_dir, timeout, cli_config)
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
    from tlsmgm_cli.core.miclient import MiCommandError, call
    from tlsmgm_cli.render import echo_err, hint
    from tlsmgm_cli.render.mi import render_reload

    endpoint = resolve_endpoint_from_options(mi_url, fifo, reply_dir, timeout, cli_config)
    try:
        result = call(endpoint, "tls_reload")
    except MiCommandError as err:
        if "DB url not set" not in err.rpc_message:
            raise
        echo_err(f"tlsmgm: error: {err}")
        hint("hint: tls_mgm has no db_url, so every domain is script-defined and tls_reload "
             "cannot reload it: restart OpenSIPS to load changed certificates.")
        raise click.exceptions.Exit(err.exit_code) from None
    render_reload(result, fmt)
