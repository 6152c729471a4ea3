"""tlsmgm list."""

from __future__ import annotations

import click

from tlsmgm_cli.cli.common import load_domset_or_exit
from tlsmgm_cli.cli.options import config_options, db_options, format_option


@click.command("list")
@config_options
@db_options
@click.option("--side", type=click.Choice(["server", "client"]), help="Only server or only client domains.")
@click.option("--domain", "name", metavar="NAME", help="Only the domain(s) with this exact name.")
@click.option("--no-certs", is_flag=True, help="Do not open certificate files (faster; no CN/SAN/expiry).")
@click.option("--wide", is_flag=True, help="Text: always the table, even on a terminal too "
              "narrow for it (cells are never folded; lines may be longer than the terminal).")
@click.option("--compact", is_flag=True, help="Text: one block per domain, one 'key: value' "
              "line per field (the default on a terminal narrower than the table), piped too.")
@format_option(["text", "plain", "json", "yaml", "mi"])
def list_cmd(config, preprocessor, cfg_dir, opensips_version, db_url, after_reload, side, name,
             no_certs, wide, compact, fmt):
    """List every TLS domain as OpenSIPS would hold it.

    Script-defined (modparam) and DB-defined domains, with OpenSIPS 3.6.8's defaults
    applied: filters default to '*', method to SSLv23, verify_cert to 1, require_cert to 1
    for servers and 0 for clients, server certificates to CFG_DIR/tls/cert.pem. Domains are
    shown in tls_list order: client domains first, then server domains, each in OpenSIPS's
    list order (DB rows first, then script domains in reverse declaration order).
    The config's db_url is read as OpenSIPS does at startup (--db URL: another copy of
    the table; --no-db: script domains only).

    \b
    Formats:
      text   a table, then a 'globals:' line; IPv6 filters shown as [::1]:5061, like
             check and match. On a terminal: the table when it fits the terminal's
             width, else one block per domain (name, side, addresses, SNI filters,
             method, verify/require, files, certificate: one 'key: value' line each);
             --wide forces the table, --compact the blocks. Piped: the plain table
             (unless --compact)
      plain  a plain table, always (unless --compact)
      json   {"config", "globals", "domains": [...]}: every field with file/line
             provenance
      yaml   the same as YAML
      mi     exactly the JSON object OpenSIPS's MI tls_list returns for this config,
             to diff against a live server ('opensips-cli -x mi tls_list')

    \b
    Examples:
      tlsmgm list -c /etc/opensips/opensips.cfg
      tlsmgm list --side server --format json | jq -r '.domains[].name'
      tlsmgm list --wide | less -S
      tlsmgm list --format mi > expected.json

    Exit status: 0 ok, 2 when the config cannot be read or has errors OpenSIPS would
    refuse to start with (printed as file:line on stderr).
    """
    if wide and compact:
        raise click.UsageError("--wide and --compact exclude each other (--wide: the table, --compact: "
                               "one block per domain)")
    domset = load_domset_or_exit(config, preprocessor=preprocessor, cfg_dir=cfg_dir,
                                 opensips_version=opensips_version, db_url=db_url,
                                 after_reload=after_reload)
    from tlsmgm_cli.render import listing

    if fmt == "mi":
        from tlsmgm_cli.core.mi.tls_list import tls_list

        reply = tls_list(domset)
        if side or name:
            wanted = {"server": "TLS_DOMAIN_SRV", "client": "TLS_DOMAIN_CLI"}
            reply["Domains"] = [d for d in reply["Domains"]
                                if (not side or d["type"] == wanted[side]) and (not name or d["name"] == name)]
        listing.render_mi(reply, domset)
        return
    from tlsmgm_cli.core.listing import globals_view, list_domains

    views = list_domains(domset, side=side, name=name, read_certs=not no_certs)
    listing.render_domains({"config": config, "globals": globals_view(domset), "domains": views}, fmt,
                           layout="table" if wide else "compact" if compact else "auto")
