"""``tlsmgm handshake HOST:PORT``: a real TLS handshake with the client domain OpenSIPS
would use (or one named, or an ad-hoc certificate), showing every ``$tls_*`` value."""

from __future__ import annotations

import os

import click

from tlsmgm_cli.cli.options import config_options, format_option


def _adhoc_domain(cert: str | None, key: str | None, ca: str | None, no_verify: bool):
    from tlsmgm_cli.core.domain import CLIENT, TlsDomain

    return TlsDomain(
        name="command line", side=CLIENT, certificate=cert, private_key=key,
        ca_list=ca if ca and not os.path.isdir(ca) else None,
        ca_dir=ca if ca and os.path.isdir(ca) else None,
        verify_cert=0 if no_verify else None)


def _config_domain(ctx: click.Context, ip: str, port: int, *, domain_name: str | None,
                   sip_domain: str | None, tls_domain: str | None, config: str, **load):
    """(domain, None) or (None, why no domain was found) per the config."""
    from tlsmgm_cli.cli.common import load_domset_or_exit
    from tlsmgm_cli.core.addresses import canonical_ip
    from tlsmgm_cli.core.domain import CLIENT
    from tlsmgm_cli.core.matcher import DomainMatcher

    domset = load_domset_or_exit(config, **load)
    if domain_name is not None:
        dom = domset.find(domain_name, CLIENT)
        if dom is None:
            raise click.BadParameter(f"{config} defines no client domain [{domain_name}]",
                                     ctx=ctx, param_hint="--domain")
        return dom, None
    result = DomainMatcher(domset).match_client(canonical_ip(ip) or ip, port, sip_domain, tls_domain)
    if not result.selected:
        return None, result.rule
    return result.domain, None


@click.command("handshake")
@click.argument("target", metavar="HOST:PORT")
@config_options
@click.option("--sip-domain", metavar="DOMAIN", help="Value of client_sip_domain_avp (default: unset, matched as '*').")
@click.option("--tls-domain", metavar="NAME", help="Value of client_tls_domain_avp: force this client domain "
              "by name (no fallback when it does not exist).")
@click.option("--domain", "domain_name", metavar="NAME", help="Use this client domain of the config directly.")
@click.option("--cert", type=click.Path(dir_okay=False), help="Ad hoc: client certificate (PEM chain).")
@click.option("--key", type=click.Path(dir_okay=False), help="Ad hoc: its private key.")
@click.option("--ca", type=click.Path(), help="Ad hoc: CA file, or hashed CA directory, to verify the server.")
@click.option("--no-verify", is_flag=True, help="Ad hoc: verify_cert=0 (the chain is evaluated, not enforced).")
@click.option("--sni", metavar="NAME", help="Send this SNI (default: none, as OpenSIPS sends none).")
@click.option("--timeout", type=click.FloatRange(min=0.01), default=5.0, show_default=True,
              help="Seconds for connect + handshake (+ SIP reply).")
@click.option("--sip-options", is_flag=True, help="Send a SIP OPTIONS over the connection; show the reply's status.")
@click.option("--repeat", type=click.IntRange(min=1), default=1, show_default=True,
              help="Make N sequential full handshakes, each reported.")
@format_option(["text", "json", "yaml"])
@click.pass_context
def handshake_cmd(ctx: click.Context, target: str, config: str, preprocessor: str | None, cfg_dir: str,
                  opensips_version: str, sip_domain: str | None, tls_domain: str | None,
                  domain_name: str | None, cert: str | None, key: str | None, ca: str | None,
                  no_verify: bool, sni: str | None, timeout: float, sip_options: bool, repeat: int,
                  fmt: str) -> None:
    """Connect to a TLS peer as OpenSIPS's client side would.

    The client domain is the one OpenSIPS would pick for HOST:PORT from the config
    (--sip-domain / --tls-domain as the two AVPs), or --domain NAME, or an ad hoc one
    (--cert/--key/--ca/--no-verify). Shows $tls_version, $tls_cipher_*, every
    $tls_peer_* and $tls_my_* value, the verify flags, and the chain the peer sent.
    Exit 0 when the handshake (and required verification) succeeded, 1 otherwise.
    """
    from tlsmgm_cli.core.handshake import (
        ClientEndpoint,
        HandshakeFailure,
        HandshakeResult,
        resolve,
        run_handshake,
        split_target,
    )
    from tlsmgm_cli.render.handshake import emit_handshakes

    try:
        host, port = split_target(target)
    except ValueError as err:
        raise click.BadParameter(str(err), ctx=ctx, param_hint="HOST:PORT") from None
    try:
        _family, ip = resolve(host, port)
    except HandshakeFailure as err:
        emit_handshakes([HandshakeResult(target=target, sni=sni, error=str(err)).to_dict()], fmt)
        ctx.exit(1)
    adhoc = any(v is not None for v in (cert, key, ca)) or no_verify
    config_given = ctx.get_parameter_source("config") != click.core.ParameterSource.DEFAULT
    if adhoc or (not config_given and not os.path.exists(config)):
        domain = _adhoc_domain(cert, key, ca, no_verify)
    else:
        domain, why = _config_domain(ctx, ip, port, domain_name=domain_name, sip_domain=sip_domain,
                                     tls_domain=tls_domain, config=config, preprocessor=preprocessor,
                                     cfg_dir=cfg_dir, opensips_version=opensips_version)
        if domain is None:
            emit_handshakes([HandshakeResult(target=target, address=f"{ip}:{port}", sni=sni,
                                             error=why).to_dict()], fmt)
            ctx.exit(1)
    endpoint = ClientEndpoint(domain)
    results = [run_handshake(endpoint, ip, port, target=target, sni=sni, timeout=timeout,
                             sip_options=sip_options, sip_host=host).to_dict() for _ in range(repeat)]
    emit_handshakes(results, fmt)
    ctx.exit(0 if all(r["connected"] and r["error"] is None for r in results) else 1)
