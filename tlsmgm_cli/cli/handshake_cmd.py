"""``tlsmgm handshake TARGET`` (sip:/sips: URI, host, HOST:PORT): resolved as OpenSIPS resolves
it for sending, then a real TLS handshake per destination with the client domain OpenSIPS
would use (or one named, or an ad-hoc certificate), showing every ``$tls_*`` value."""

from __future__ import annotations

import os

import click

from tlsmgm_cli import exitcodes
from tlsmgm_cli.cli.options import (
    config_options,
    dns_options,
    format_option,
    resolution_failure,
    resolve_destination,
    seconds_type,
)


@click.command("handshake")
@click.argument("target", metavar="TARGET")
@config_options
@click.option("--sip-domain", metavar="DOMAIN", help="Value of client_sip_domain_avp (default: unset, matched as '*').")
@click.option("--tls-domain", metavar="NAME", help="Value of client_tls_domain_avp: force this client domain "
              "by name (no fallback when it does not exist).")
@click.option("--domain", "domain_name", metavar="NAME", help="Use this client domain of the config directly.")
@click.option("--cert", type=click.Path(dir_okay=False), help="Ad hoc: client certificate (PEM chain); needs --key.")
@click.option("--key", type=click.Path(dir_okay=False), help="Ad hoc: the private key of --cert.")
@click.option("--ca", type=click.Path(), help="Ad hoc: CA file, or hashed CA directory, to verify the server.")
@click.option("--no-verify", is_flag=True, help="Ad hoc: verify_cert=0 (the chain is evaluated, not enforced).")
@click.option("--sni", metavar="NAME", help="Send exactly this SNI, IP literals included (default: none, as "
              "OpenSIPS sends none). A value that cannot be sent (empty, NUL, over 255 bytes) is a usage error.")
@click.option("--timeout", type=seconds_type(min_s=0.01), default=5.0, show_default=True,
              help="Seconds for connect + handshake (+ SIP reply) of each destination, and at most this for "
                   "each DNS query; the handshake time and the SIP wait are reported separately.")
@click.option("--sip-options", is_flag=True, help="Send a SIP OPTIONS over the connection; show the reply's status.")
@click.option("--repeat", type=click.IntRange(min=1), default=1, show_default=True,
              help="Make N sequential full handshakes (per destination), each reported.")
@dns_options
@click.option("--explain", is_flag=True, help="Show each resolution step (query, answer, decision) before "
              "the handshakes (also with the global -v).")
@format_option(["text", "json", "yaml"])
@click.pass_context
def handshake_cmd(ctx: click.Context, target: str, config: str, preprocessor: str | None, cfg_dir: str,
                  opensips_version: str, sip_domain: str | None, tls_domain: str | None,
                  domain_name: str | None, cert: str | None, key: str | None, ca: str | None,
                  no_verify: bool, sni: str | None, timeout: float, sip_options: bool, repeat: int,
                  dns_server: str | None, dns_try_ipv6: bool, explain: bool, fmt: str) -> None:
    """Connect to a TLS peer as OpenSIPS's client side would.

    \b
    TARGET is what OpenSIPS relays to:
      sips:example.com, sip:alice@example.com;transport=tls, sip:[2001:db8::1]:5061
      example.com (taken as sip:example.com;transport=tls), HOST:PORT, IP:PORT
    It is resolved as OpenSIPS 3.6.8 resolves it for sending (RFC 3263): NAPTR, then
    SRV (_sips._tcp for TLS), then A (AAAA with --dns-try-ipv6); an explicit port
    skips NAPTR and SRV. Every resulting IP:PORT is handshaked in OpenSIPS's failover
    order and reported; a destination OpenSIPS reaches over UDP/TCP (a sip: URI
    without transport whose DNS offers no TLS) is reported as such, not handshaked.
    --explain (or -v) shows each DNS step.

    For each destination the client domain is the one OpenSIPS would pick for its
    IP:PORT from the config (--sip-domain / --tls-domain as the two AVPs), or --domain
    NAME, or an ad hoc one (--cert/--key/--ca/--no-verify). Shows $tls_version,
    $tls_cipher_*, every $tls_peer_* and $tls_my_* value, the verify flags, and the
    chain the peer sent. JSON/YAML: one object for one handshake, else a list; each
    carries its "destination" (ip, port, proto, host, via), and with --explain the
    "resolution" steps.

    \b
    Examples:
      tlsmgm handshake 192.0.2.10:5061 -c /etc/opensips/opensips.cfg
      tlsmgm handshake sips:example.com --explain
      tlsmgm handshake sips:example.com --dns-server 127.0.0.1:5353 --format json

    Exit 0 when every TLS destination was handshaked successfully (and required
    verification, and the SIP reply with --sip-options), 1 otherwise (also when the
    target does not resolve, or resolves to no TLS destination), 2 for a usage error
    (a TARGET or --dns-server that is not one, --cert without --key, an SNI that cannot
    be sent, a certificate/key that cannot be loaded).
    """
    from tlsmgm_cli.core.tls.destinations import adhoc_client_domain, fixed_pick, handshake_destinations
    from tlsmgm_cli.core.tls.handshake import HandshakeResult, sni_problem
    from tlsmgm_cli.render import settings
    from tlsmgm_cli.render.handshake import emit_handshakes

    if cert is not None and key is None:
        raise click.UsageError("--cert needs --key (the private key of that certificate); tlsmgm does not "
                               "fall back to a default key file", ctx=ctx)
    if key is not None and cert is None:
        raise click.UsageError("--key needs --cert (the certificate of that key)", ctx=ctx)
    if sni is not None:
        why = sni_problem(sni)
        if why:
            raise click.BadParameter(why, ctx=ctx, param_hint="--sni")
    explain = explain or settings.verbose > 0
    res = resolve_destination(ctx, target, dns_server=dns_server, dns_try_ipv6=dns_try_ipv6, timeout=timeout)
    resolution = res.as_dict()

    def finish(results: list[dict], status: int) -> None:
        if explain:
            for r in results:
                r["resolution"] = resolution
        exitcodes.reached(status)
        emit_handshakes(results, fmt, resolution=resolution if explain else None)
        ctx.exit(status)

    if not res.ok:
        error = resolution_failure(res, explained=explain)
        finish([{**HandshakeResult(target=target, sni=sni, error=error).to_dict(), "destination": None}],
               exitcodes.PROBLEMS)
    adhoc = any(v is not None for v in (cert, key, ca)) or no_verify
    config_given = ctx.get_parameter_source("config") != click.core.ParameterSource.DEFAULT
    if not adhoc and (config_given or os.path.exists(config)):
        pick = _config_pick(ctx, config, domain_name=domain_name, sip_domain=sip_domain, tls_domain=tls_domain,
                            preprocessor=preprocessor, cfg_dir=cfg_dir, opensips_version=opensips_version)
    else:
        pick = fixed_pick(adhoc_client_domain(cert, key, ca, no_verify))
    results, ok = handshake_destinations(res, pick, target=target, sni=sni, timeout=timeout, repeat=repeat,
                                         sip_options=sip_options)
    finish(results, exitcodes.OK if ok else exitcodes.PROBLEMS)


def _config_pick(ctx: click.Context, config: str, *, domain_name: str | None, sip_domain: str | None,
                 tls_domain: str | None, **load):
    """The config's client domain per destination, or the one --domain names."""
    from tlsmgm_cli.cli.common import load_domset_or_exit
    from tlsmgm_cli.core.domain import CLIENT
    from tlsmgm_cli.core.tls.destinations import config_pick, fixed_pick

    domset = load_domset_or_exit(config, **load)
    if domain_name is None:
        return config_pick(domset, sip_domain=sip_domain, tls_domain=tls_domain)
    domain = domset.find(domain_name, CLIENT)
    if domain is None:
        raise click.BadParameter(f"{config} defines no client domain [{domain_name}]", ctx=ctx, param_hint="--domain")
    return fixed_pick(domain)
