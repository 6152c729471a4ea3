"""tlsmgm demo."""

from __future__ import annotations

import click


@click.command("demo")
@click.argument("directory", default="./tlsmgm-demo", required=False, metavar="[DIR]")
@click.option("--force", is_flag=True,
              help="Replace DIR if it is a demo directory written earlier (nothing but demo files in it).")
@click.pass_context
def demo_cmd(ctx, directory, force):
    """Write a self-contained example setup and list it.

    Creates DIR (default ./tlsmgm-demo) with a private test CA (ca.crt/ca.key), server
    certificates for atlanta.com, biloxi.com and a generic no-SNI domain, a client
    certificate, and an opensips.cfg modelled on the tls_mgm documentation's multi-domain
    example with every path pointing into DIR. Then shows `tlsmgm list` for it and the
    next commands to try. Keys are written with mode 0600. An existing DIR is never
    overwritten without --force, and --force replaces only a directory tlsmgm demo wrote
    (any other file in it, and it is refused). All files appear at once or not at all.
    """
    from tlsmgm_cli.cli.list_cmd import list_cmd
    from tlsmgm_cli.core.demo import write_demo
    from tlsmgm_cli.render import hint

    written = write_demo(directory, force=force)
    cfg = written["config"]
    hint(f"wrote a test CA, 4 certificates and {cfg}\n")
    ctx.invoke(list_cmd, config=cfg)
    hint("\nnext:\n"
         f"  tlsmgm check -c {cfg}\n"
         f"  tlsmgm match -c {cfg} --socket 127.0.0.1:5061 --sni biloxi.com --explain\n"
         f"  tlsmgm inspect {written['atlanta']}\n"
         f"  tlsmgm serve -c {cfg}      # then, in another shell:\n"
         f"  tlsmgm handshake 127.0.0.1:5061 -c {cfg} --sni atlanta.com")
