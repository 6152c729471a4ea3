"""Reachability rules, all answered by the one domain matcher (``core.matching.matcher``): shadowed
pairs, ``*``-address domains hidden by exact keys, TLS listeners without a domain or
without a no-SNI answer, SNI domains whose tls_method the initial domain overrides, and
address filters no listener uses (behaviour §4.4, §4.6, §4.8, §4.10, §6.11)."""

from __future__ import annotations

from tlsmgm_cli.core.checks.context import CheckContext
from tlsmgm_cli.core.domain import CLIENT, SERVER, TlsDomain
from tlsmgm_cli.core.matching.matcher import (
    ANY_ADDRESS,
    DROPPED,
    REJECTED,
    DomainMatcher,
    Listener,
    tls_listeners,
)
from tlsmgm_cli.core.net.addresses import socket_text, split_key
from tlsmgm_cli.core.tls.methods import MethodError, parse_method


def check_reachability(ctx: CheckContext) -> None:
    matcher = ctx.matcher()
    config = ctx.domset.config
    listeners = [ls for ls in tls_listeners(config) if ls.ip is not None] if config is not None else []
    all_known = config is not None and all(ls.ip is not None for ls in tls_listeners(config))
    _shadowed(ctx, matcher)
    _never_selected(ctx, matcher)
    _hidden(ctx, matcher, listeners)
    for listener in listeners:
        _listener(ctx, matcher, listener)
    if listeners and all_known:
        _dead_addresses(ctx, listeners)


def _key_text(key: str) -> str:
    """A map key as users write sockets: ``'*'``, ``1.2.3.4:5061``, ``[2001:db8::a]:5061``."""
    if key == ANY_ADDRESS:
        return "'*'"
    split = split_key(key)
    return socket_text(*split) if split else key


def _shadowed(ctx: CheckContext, matcher: DomainMatcher) -> None:
    for side in (SERVER, CLIENT):
        mmap = matcher.maps[side]
        for pair in mmap.shadowed:
            if pair.owner is None:
                continue  # did not fit into 64 entries: TLS038
            ctx.add("TLS100", f"({_key_text(pair.address)}, '{pair.pattern}') is already owned by {side} "
                    f"domain [{pair.owner.name}] (it comes earlier in OpenSIPS's list): this domain never "
                    "gets it", dom=pair.domain, param="match_sip_domain")
        for key in mmap.arrays:
            for item in matcher.unreachable(side, key):
                if item.reason == "covered" and item.by is not None:
                    ctx.add("TLS100", f"on address {_key_text(key)}, {item.detail}", dom=item.domain,
                            param="match_sip_domain")


def _never_selected(ctx: CheckContext, matcher: DomainMatcher) -> None:
    for side in (SERVER, CLIENT):
        owners = {id(entry.domain) for arr in matcher.maps[side].arrays.values() for entry in arr.entries}
        for dom in ctx.domset.active(side):
            if id(dom) not in owners:
                ctx.add("TLS106", f"{side} domain [{dom.name}] owns no (address, pattern) pair: no connection "
                        "can ever select it", dom=dom)


def _hidden(ctx: CheckContext, matcher: DomainMatcher, listeners: list[Listener]) -> None:
    """``*``-address domains on an address whose exact key exists: on server listeners
    (every exact key when the config defines no usable listener), on client destinations."""
    listener_keys = {f"{ls.ip}:{ls.port}" for ls in listeners}
    for side in (SERVER, CLIENT):
        arrays = matcher.maps[side].arrays
        if ANY_ADDRESS not in arrays:
            continue
        keys = [k for k in arrays if k != ANY_ADDRESS
                and (side == CLIENT or not listener_keys or k in listener_keys)]
        hidden: dict[int, tuple[TlsDomain, list[str]]] = {}
        for key in keys:
            for entry in arrays[ANY_ADDRESS].entries:
                hidden.setdefault(id(entry.domain), (entry.domain, []))[1].append(key)
        for dom, where in hidden.values():
            where = list(dict.fromkeys(where))
            shown = ", ".join(_key_text(k) for k in where[:5]) + (" ..." if len(where) > 5 else "")
            what = "listener" if side == SERVER else "destination"
            owners = sorted({e.domain.name for k in where for e in arrays[k].entries})
            ctx.add("TLS101", f"{side} domain [{dom.name}] uses the '*' address, but on {what}(s) {shown} "
                    f"domain(s) {', '.join(f'[{n}]' for n in owners[:5])} list the exact address: "
                    f"[{dom.name}] is never considered there", dom=dom, param="match_ip_address")


def _method_name(dom: TlsDomain, library: str) -> str:
    try:
        return parse_method(dom.eff_method, library).name
    except MethodError:
        return dom.eff_method


def _listener(ctx: CheckContext, matcher: DomainMatcher, listener: Listener) -> None:
    assert listener.ip is not None and listener.port is not None
    where = socket_text(listener.ip, listener.port)
    no_sni = matcher.match_server(listener.ip, listener.port, None)
    if no_sni.outcome == DROPPED:
        ctx.add("TLS102", f"no TLS server domain covers listener {where} ({listener.text}): OpenSIPS accepts "
                "the TCP connection, logs 'no TLS server domain found' and clients hang", loc=listener.loc)
        return
    if no_sni.outcome == REJECTED:
        ctx.add("TLS103", f"clients without SNI are rejected on listener {where} (fatal alert "
                f"unrecognized_name): no pattern of {_key_text(no_sni.key_used or '')} matches 'none'",
                loc=listener.loc)
    initial = no_sni.initial
    arr = matcher.maps[SERVER].array_for(f"{listener.ip}:{listener.port}")
    if initial is None or arr is None or ctx.library == "none":
        return
    initial_method = _method_name(initial, ctx.library)
    seen: set[int] = set()
    for entry in arr.entries:
        dom = entry.domain
        if dom is initial or id(dom) in seen:
            continue
        seen.add(id(dom))
        method = _method_name(dom, ctx.library)
        if method != initial_method:
            ctx.add("TLS104", f"on listener {where} the initial domain is [{initial.name}] (tls_method "
                    f"{initial_method}); a connection switched to [{dom.name}] by SNI keeps that method, "
                    f"not [{dom.name}]'s {method}", dom=dom, param="tls_method")


def _dead_addresses(ctx: CheckContext, listeners: list[Listener]) -> None:
    keys = {f"{ls.ip}:{ls.port}" for ls in listeners}
    for dom in ctx.domset.active(SERVER):
        for address in dict.fromkeys(dom.eff_addresses):
            if address != ANY_ADDRESS and address not in keys:
                ctx.add("TLS105", f"match_ip_address '{_key_text(address)}' of server domain [{dom.name}] "
                        "matches no TLS listener of the config", dom=dom, param="match_ip_address")
