"""Handshakes with every destination a SIP target resolves to, each with the client
domain OpenSIPS would use for that IP:PORT (behaviour §4.9), a domain named on the
command line, or an ad hoc one.

The command (``tlsmgm handshake``) resolves the target, builds a picker and renders;
this module decides what is handshaked, with which domain, and what is reported for
destinations that get no handshake.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from tlsmgm_cli.core.domain import CLIENT, DomainSet, TlsDomain
from tlsmgm_cli.core.net.addresses import canonical_ip, socket_text

#: (domain, None) or (None, why OpenSIPS would find no client domain) for a destination
DomainPick = Callable[[str, int], tuple[TlsDomain | None, str | None]]


def adhoc_client_domain(cert: str | None, key: str | None, ca: str | None, no_verify: bool) -> TlsDomain:
    """A client domain from ``--cert/--key/--ca/--no-verify`` (a directory as ``--ca`` is a ca_dir)."""
    return TlsDomain(
        name="command line", side=CLIENT, certificate=cert, private_key=key,
        ca_list=ca if ca and not os.path.isdir(ca) else None,
        ca_dir=ca if ca and os.path.isdir(ca) else None,
        verify_cert=0 if no_verify else None)


def fixed_pick(domain: TlsDomain) -> DomainPick:
    """The same domain for every destination."""
    return lambda _ip, _port: (domain, None)


def config_pick(domset: DomainSet, *, sip_domain: str | None, tls_domain: str | None) -> DomainPick:
    """The client domain OpenSIPS would pick from ``domset`` for each destination, the two
    AVPs set to ``sip_domain`` / ``tls_domain`` (the matcher is built once, however many
    destinations a SIP URI resolves to)."""
    from tlsmgm_cli.core.matching.matcher import DomainMatcher

    matcher = DomainMatcher(domset)

    def pick(ip: str, port: int) -> tuple[TlsDomain | None, str | None]:
        result = matcher.match_client(canonical_ip(ip) or ip, port, sip_domain, tls_domain)
        return (result.domain, None) if result.selected else (None, result.rule)

    return pick


def handshake_destinations(resolution: Any, pick: DomainPick, *, target: str, sni: str | None,
                           timeout: float, repeat: int = 1, sip_options: bool = False) -> tuple[list[dict[str, Any]], bool]:
    """Handshake each TLS destination of ``resolution`` (a ``sipresolve.Resolution``) in
    OpenSIPS's failover order, ``repeat`` times, with the domain ``pick`` gives. Returns
    the result dicts (each with its ``destination``) and whether all of them succeeded.
    A destination OpenSIPS reaches over UDP/TCP, or one without a client domain, is a
    result with an error and no handshake; a resolution without TLS destination fails."""
    from tlsmgm_cli.core.tls.handshake import ClientEndpoint, HandshakeResult, run_handshake

    endpoints: dict[int, ClientEndpoint] = {}
    results: list[dict[str, Any]] = []
    ok = bool(resolution.tls_destinations)
    for dest in resolution.destinations:
        shown, address = dest.as_dict(), socket_text(dest.ip, dest.port)
        if dest not in resolution.tls_destinations:
            results.append({**HandshakeResult(
                target=target, address=address, sni=sni,
                error=f"OpenSIPS sends to {address} over {dest.proto.upper()}, not TLS: no client TLS "
                      "domain applies, no handshake made").to_dict(), "destination": shown})
            continue
        domain, why = pick(dest.ip, dest.port)
        if domain is None:
            results.append({**HandshakeResult(target=target, address=address, sni=sni, error=why).to_dict(),
                            "destination": shown})
            ok = False
            continue
        endpoint = endpoints.get(id(domain))
        if endpoint is None:
            endpoint = endpoints[id(domain)] = ClientEndpoint(domain)
        for _ in range(repeat):
            result = run_handshake(endpoint, dest.ip, dest.port, target=target, sni=sni, timeout=timeout,
                                   sip_options=sip_options, sip_host=resolution.target.host).to_dict()
            ok = ok and bool(result["connected"]) and result["error"] is None
            results.append({**result, "destination": shown})
    return results, ok
