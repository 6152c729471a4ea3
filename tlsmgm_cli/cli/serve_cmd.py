"""``tlsmgm serve``: a local TLS endpoint that selects server domains like OpenSIPS."""

from __future__ import annotations

import click

from tlsmgm_cli.cli.options import config_options, format_option


@click.command("serve")
@config_options
@click.option("--listen", multiple=True, metavar="[KEY=]IP:PORT",
              help="Listen on IP:PORT (port 0 = any free port). With KEY=, select domains as for the "
                   "configured listener KEY (e.g. 10.0.0.10:5061=127.0.0.1:15061). Repeatable. "
                   "Default: every socket=tls: listener of the config, rebound to 127.0.0.1.")
@format_option(["text", "json"])
@click.pass_context
def serve_cmd(ctx: click.Context, config: str, preprocessor: str | None, cfg_dir: str,
              opensips_version: str, listen: tuple[str, ...], fmt: str) -> None:
    """Run a local TLS endpoint that picks domains like OpenSIPS.

    Each connection gets its initial server domain from the listener's configured
    address, then the SNI callback's choice (fatal unrecognized_name when nothing
    matches; no TLS answer at all when no domain covers the address). One line per
    connection (JSON lines with --format json): domain, SNI, version, cipher and the
    client's $tls_peer_* values. SIP OPTIONS get 200 OK. Ctrl-C or SIGTERM stops it.

    Each connection is served on its own; no client's SNI can stall the others (matching
    takes polynomial time). Out of file descriptors, serve pauses accepting (0.1 s,
    doubling up to 1 s) and logs one warning instead of spinning.
    """
    import signal
    import threading

    from tlsmgm_cli.cli.common import load_domset_or_exit
    from tlsmgm_cli.core.tls.server import TlsServer, plan_listeners
    from tlsmgm_cli.render import echo_err
    from tlsmgm_cli.render.handshake import emit_serve_record

    domset = load_domset_or_exit(config, preprocessor=preprocessor, cfg_dir=cfg_dir,
                                 opensips_version=opensips_version)
    specs, warnings = plan_listeners(domset, list(listen))
    for warning in warnings:
        echo_err(f"tlsmgm: warning: {warning}")
    lock = threading.Lock()

    def on_record(record: dict) -> None:
        with lock:
            emit_serve_record(record, fmt)

    server = TlsServer(domset, specs, on_record)
    previous = signal.signal(signal.SIGTERM, lambda _sig, _frame: server.stop())
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.stop()
        server.close()
    finally:
        signal.signal(signal.SIGTERM, previous)
