"""SIP destinations resolved the way OpenSIPS 3.6.8 resolves them (RFC 3263, ``resolve.c``).

``resolve_sip_destination(target)`` takes what a user writes for a destination — a
``sip:``/``sips:`` URI, a host name, ``HOST:PORT`` or an IP literal — and returns a
``Resolution``: every DNS step taken (query, answer, decision: for ``--explain``) and the
``(ip, port, proto)`` destinations in the order OpenSIPS tries them (the first one, then
its DNS failover, ``get_next_su``). It never raises for DNS trouble: a timeout, NXDOMAIN
or SERVFAIL is a step with an ``error``; only a target that is not a SIP URI / host at all
raises ``TlsmgmError`` (a usage error).

What OpenSIPS does (core ``resolve.c`` ``sip_resolvehost``; ``tm``'s ``uri2proxy``):

* The host is the URI's ``maddr`` parameter when there is one, else the URI host.
  ``sips:`` with a ``transport`` other than ``tls``/``wss`` is refused.
* An IP literal is its own destination; the port is the URI port or the protocol's
  default (5061 for TLS, 5060 for UDP/TCP/SCTP).
* An explicit port: no NAPTR, no SRV, only the address lookup. The protocol is the
  URI's transport, else TLS for ``sips:``, else **UDP**.
* A transport but no port: SRV only (``_sips._tcp.HOST`` for TLS — OpenSIPS never
  queries ``_sip._tls``), then the address lookup on the default port.
* Neither (and ``dns_try_naptr``, on by default): NAPTR of HOST. Kept: flag ``s``, no
  regexp, a replacement, and a service ``SIP+D2U``/``SIP+D2T``/``SIP+D2S`` or
  ``SIPS+D2T``/``SIPS+D2S`` (only the ``SIPS+`` ones for a ``sips:`` URI), sorted by
  (order, preference). Each replacement is looked up as SRV until one gives an address;
  the protocol is TLS for ``SIPS+``, else by the last letter (U/T/S). No usable NAPTR:
  SRV with TLS for ``sips:``, else **UDP** (``_sip._udp.HOST``), then the address lookup.
* SRV records: by priority; records of equal priority in a weighted random order drawn
  anew for each request (``sort_srvs``). Without ``rng`` this module shows the most
  likely order (highest weight first) and marks those destinations ``weighted``; with an
  ``rng`` it draws the way OpenSIPS does. An SRV target that does not resolve is skipped.
* The address lookup (``resolvehost``): with ``dns_try_ipv6`` the AAAA records when there
  are any (then IPv6 only), else the A records.
* Failover order (``get_next_su``): every address of the host first, then the remaining SRV
  records, then the remaining NAPTR records, with OpenSIPS's own quirks kept: a NAPTR is
  skipped after a NAPTR whose SRV set had several records, and the failover ends at the
  first remaining SRV set whose targets all fail to resolve.

A bare ``HOST``, ``HOST:PORT``, IP literal or ``tls:HOST[:PORT]`` is taken as the TLS
destination ``sip:HOST[:PORT];transport=tls`` (what ``t_relay("tls:HOST")`` resolves).

DNS goes to ``resolver_address`` (``IP`` or ``IP:PORT``; the tests' local responder) or
else to the system resolver (``/etc/resolv.conf``; the address lookup then first looks in
``hosts_file``, as glibc's ``gethostbyname`` does: the first matching line); each query waits at most ``timeout``
seconds and all of them together ``limits.DNS_TOTAL_TIMEOUT_S``, at most
``limits.DNS_MAX_QUERIES`` queries. Names come from DNS: render them with ``visible()``.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass, field
from typing import Any

from tlsmgm_cli.core.errors import TlsmgmError, UsageError
from tlsmgm_cli.core.limits import DNS_MAX_QUERIES, DNS_TIMEOUT_S, DNS_TOTAL_TIMEOUT_S, SETTINGS_MAX_BYTES
from tlsmgm_cli.core.net.addresses import canonical_ip, parse_ipv4, parse_ipv6

#: protocols of a SIP URI ``transport`` parameter, and their default ports (protos[].default_port)
DEFAULT_PORTS = {"udp": 5060, "tcp": 5060, "tls": 5061, "sctp": 5060, "ws": 80, "wss": 443}
#: the SRV prefix OpenSIPS puts before the host for each protocol (config.h SRV_*_PREFIX)
SRV_PREFIXES = {"udp": "_sip._udp.", "tcp": "_sip._tcp.", "tls": "_sips._tcp.", "sctp": "_sip._sctp.",
                "ws": "_ws._tcp.", "wss": "_wss._tcp."}
MAX_DNS_NAME = 256  # resolve.h
_SRV_MAX_PREFIX_LEN = len("_sips._tcp.")
_TARGET_MAX_CHARS = 4096

_HOST_RE = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_.])?\Z")
_LABEL_RE = re.compile(r"[A-Za-z0-9_-]{1,63}\Z")
_SCHEME_RE = re.compile(r"(sips?|tls):", re.IGNORECASE)


# ----------------------------------------------------------------------------- data


@dataclass(frozen=True, slots=True)
class SipTarget:
    """A destination as written, taken apart: what ``uri2proxy`` hands to ``sip_resolvehost``."""

    text: str
    scheme: str          # "sip", "sips", or "" for a bare host
    host: str            # the host to resolve (maddr when given), IPv6 without brackets
    port: int | None     # explicit port, or None
    transport: str | None  # forced protocol ("tls", "udp", ...) or None
    maddr: str | None = None

    @property
    def is_sips(self) -> bool:
        return self.scheme == "sips"


@dataclass(frozen=True, slots=True)
class Step:
    """One thing the resolver did. ``query`` is e.g. ``"SRV _sips._tcp.example.com"`` (empty
    for a decision taken without DNS); ``answer`` the records as text; ``error`` why the
    query gave nothing (timeout, NXDOMAIN, ...), else None."""

    query: str
    answer: tuple[str, ...]
    decision: str
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"query": self.query, "answer": list(self.answer), "decision": self.decision, "error": self.error}


@dataclass(frozen=True, slots=True)
class Destination:
    """One ``(ip, port)`` OpenSIPS would send to, in its failover order. ``ip`` is OpenSIPS's
    canonical text (as ``match`` keys it); ``host`` the name it came from; ``via`` how it was
    found; ``weighted``: its place among SRV records of equal priority is drawn at random
    for each request."""

    ip: str
    port: int
    proto: str
    host: str
    via: str
    weighted: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"ip": self.ip, "port": self.port, "proto": self.proto, "host": self.host,
                "via": self.via, "weighted": self.weighted}


@dataclass(slots=True)
class Resolution:
    """The answer of ``resolve_sip_destination``. ``error`` says why there is no destination
    (OpenSIPS's "could not resolve hostname"); ``destinations`` is then empty."""

    target: SipTarget
    steps: list[Step] = field(default_factory=list)
    destinations: list[Destination] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.destinations)

    @property
    def tls_destinations(self) -> list[Destination]:
        """The destinations OpenSIPS reaches over TLS (where a client TLS domain applies)."""
        return [d for d in self.destinations if d.proto in ("tls", "wss")]

    def as_dict(self) -> dict[str, Any]:
        t = self.target
        return {"target": t.text, "scheme": t.scheme, "host": t.host, "port": t.port,
                "transport": t.transport, "maddr": t.maddr,
                "steps": [s.as_dict() for s in self.steps],
                "destinations": [d.as_dict() for d in self.destinations], "error": self.error}


# ----------------------------------------------------------------------------- parsing


def _usage(text: str, why: str) -> TlsmgmError:
    shown = text if len(text) <= 200 else text[:200] + "..."
    return UsageError(f"destination {shown!r}: {why}")


def _check_host(text: str, host: str) -> str:
    """A host name or IP literal (IPv6 without brackets) -> itself; else a usage error."""
    if canonical_ip(host) is not None:
        return host
    if not host:
        raise _usage(text, "no host (expected e.g. sip:sip.example.com or sips:alice@example.com)")
    if len(host) >= MAX_DNS_NAME:
        raise _usage(text, f"the host name is longer than {MAX_DNS_NAME - 1} characters")
    if not host.isascii() or _HOST_RE.match(host) is None:
        raise _usage(text, f"{host!r} is not a host name or IP address")
    labels = host[:-1].split(".") if host.endswith(".") else host.split(".")
    if not all(_LABEL_RE.match(label) for label in labels):
        raise _usage(text, f"{host!r} is not a host name (empty label, or a label over 63 characters)")
    return host


def _parse_port(text: str, port_text: str) -> int:
    if not (port_text.isascii() and port_text.isdigit()) or not 1 <= int(port_text) <= 65535:
        raise _usage(text, f"port {port_text!r} is not a number from 1 to 65535")
    return int(port_text)


def _split_hostport(text: str, hostport: str, *, bare: bool) -> tuple[str, int | None]:
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise _usage(text, "an IPv6 address opened with '[' is not closed with ']'")
        host, rest = hostport[1:end], hostport[end + 1:]
        if parse_ipv6(host) is None:
            raise _usage(text, f"[{host}] is not an IPv6 address")
        if rest and not rest.startswith(":"):
            raise _usage(text, f"unexpected {rest!r} after [{host}]")
        return host, (_parse_port(text, rest[1:]) if rest else None)
    if hostport.count(":") > 1:
        if bare and parse_ipv6(hostport) is not None:  # a bare IPv6 literal, no port
            return hostport, None
        raise _usage(text, "write an IPv6 address in brackets, e.g. sip:[2001:db8::1]:5061")
    host, sep, port_text = hostport.partition(":")
    return host, (_parse_port(text, port_text) if sep else None)


def parse_sip_target(text: str, *, port: int | None = None) -> SipTarget:
    """``sip:``/``sips:`` URI (user part, ``;transport=``, ``;maddr=``, ``[IPv6]``, port,
    ``?headers`` ignored), or a bare ``HOST``/``HOST:PORT``/IP literal/``tls:HOST[:PORT]``
    (taken as ``;transport=tls``). ``port`` is an explicit port given apart from the text.
    Raises TlsmgmError (usage) for anything else."""
    if not isinstance(text, str):
        raise TypeError("target must be a str")
    raw = text.strip()
    if not raw:
        raise _usage(text, "empty destination")
    if len(raw) > _TARGET_MAX_CHARS:
        raise _usage(text, f"longer than {_TARGET_MAX_CHARS} characters")
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in raw):
        raise _usage(text, "contains white space or control characters")
    m = _SCHEME_RE.match(raw)
    scheme = m.group(1).lower() if m else ""
    rest = raw[m.end():] if m else raw
    if not m and re.match(r"[A-Za-z][A-Za-z0-9+.-]*:(?!\d)", rest) and parse_ipv6(rest) is None:
        raise _usage(text, f"unsupported URI scheme {rest.split(':', 1)[0]!r} (expected sip:, sips: or a host)")
    transport: str | None = None
    maddr: str | None = None
    if scheme in ("sip", "sips"):
        rest = rest.split("?", 1)[0]           # headers are not part of the destination
        at = rest.rfind("@")
        if at >= 0:
            if at == 0:
                raise _usage(text, "empty user part before '@'")
            rest = rest[at + 1:]
        hostport, _, params_text = rest.partition(";")
        for param in params_text.split(";") if params_text else ():
            name, _, value = param.partition("=")
            name = name.lower()
            if name == "transport":
                value = value.lower()
                if value not in DEFAULT_PORTS:
                    raise _usage(text, f"unsupported transport {value!r} (OpenSIPS knows "
                                       f"{', '.join(DEFAULT_PORTS)})")
                transport = value
            elif name == "maddr":
                maddr = value[1:-1] if value.startswith("[") and value.endswith("]") else value
                maddr = _check_host(text, maddr)
        host, uri_port = _split_hostport(text, hostport, bare=False)
    else:
        if scheme == "tls" or not scheme:
            transport = "tls"
        host, uri_port = _split_hostport(text, rest, bare=True)
        scheme = ""
    host = _check_host(text, host)
    if port is not None:
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise _usage(text, f"port {port!r} is not a number from 1 to 65535")
        if uri_port is not None and uri_port != port:
            raise _usage(text, f"the destination has port {uri_port}, and port {port} was given apart")
        uri_port = port
    return SipTarget(text=text, scheme=scheme, host=maddr or host, port=uri_port, transport=transport,
                     maddr=maddr)


# ----------------------------------------------------------------------------- DNS


@dataclass(slots=True)
class _Srv:
    priority: int
    weight: int
    port: int
    target: str
    weighted: bool = False


@dataclass(slots=True)
class _Naptr:
    order: int
    pref: int
    flags: str
    service: str
    regexp: str
    replacement: str

    def text(self) -> str:
        return f'{self.order} {self.pref} "{self.flags}" "{self.service}" "{self.regexp}" {self.replacement or "."}'


class _Dns:
    """dnspython queries with a per-query timeout, a total deadline and a query budget;
    every query and its outcome becomes a Step. Answers are cached for the run."""

    def __init__(self, resolver_address: str | None, timeout: float, steps: list[Step],
                 hosts_file: str | None = None):
        self.timeout = timeout
        self.hosts_file = hosts_file if resolver_address is None else None
        self._hosts: list[tuple[str, list[str]]] | None = None
        self.hosts_error: str | None = None
        self.steps = steps
        self.deadline = time.monotonic() + DNS_TOTAL_TIMEOUT_S
        self.queries = 0
        self.cache: dict[tuple[str, str], tuple[list[Any], str | None]] = {}
        self.resolver: Any = None
        self.setup_error: str | None = None
        self.system = resolver_address is None
        try:
            import dns.resolver
        except ImportError:
            self.setup_error = "the dnspython package is not installed (pip install dnspython)"
            return
        if resolver_address is None:
            try:
                self.resolver = dns.resolver.Resolver()
            except Exception as err:  # NoResolverConfiguration, unreadable resolv.conf
                self.setup_error = f"no system DNS resolver ({err})"
                return
        else:
            ip, port = _parse_resolver_address(resolver_address)
            self.resolver = dns.resolver.Resolver(configure=False)
            self.resolver.nameservers = [ip]
            self.resolver.port = port
        self.resolver.cache = None

    def hosts_lookup(self, name: str, v6: bool) -> tuple[str | None, str | None]:
        """(address, None) from the hosts file (first matching line of the family), or
        (None, why-not-read) / (None, None) when the name is not there."""
        if self.hosts_file is None:
            return None, None
        if self._hosts is None:
            self._hosts = []
            from tlsmgm_cli.core.util.safeio import read_bytes_limited

            try:
                data = read_bytes_limited(self.hosts_file, limit=SETTINGS_MAX_BYTES, what="hosts file")
            except TlsmgmError as err:
                self.hosts_error = f"{self.hosts_file} not read: {err}"
                return None, self.hosts_error
            for line in data.decode("latin-1").splitlines():
                fields = line.split("#", 1)[0].split()
                if len(fields) >= 2 and canonical_ip(fields[0]) is not None:
                    self._hosts.append((fields[0], [f.lower().rstrip(".") for f in fields[1:]]))
        wanted = name.lower().rstrip(".")
        for ip, names in self._hosts:
            if wanted in names and (parse_ipv4(ip) is None) == v6:
                return ip, None
        return None, self.hosts_error

    def query(self, name: str, rdtype: str) -> tuple[list[Any], str | None]:
        """(records, error). Records in answer order; error is None for an answer (even empty)."""
        key = (name.lower().rstrip("."), rdtype)
        if key in self.cache:
            return self.cache[key]
        result = self._query(name, rdtype)
        self.cache[key] = result
        return result

    def _query(self, name: str, rdtype: str) -> tuple[list[Any], str | None]:
        if self.setup_error is not None:
            return [], self.setup_error
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            return [], f"not queried: the DNS queries of this destination took {DNS_TOTAL_TIMEOUT_S:g} s (limit)"
        if self.queries >= DNS_MAX_QUERIES:
            return [], f"not queried: {DNS_MAX_QUERIES} DNS queries made for this destination (limit)"
        self.queries += 1
        import dns.exception
        import dns.name
        import dns.resolver

        wait = min(self.timeout, remaining)
        self.resolver.timeout = wait
        self.resolver.lifetime = wait
        try:
            qname = dns.name.from_text(name)
            answer = self.resolver.resolve(qname, rdtype, raise_on_no_answer=False, lifetime=wait,
                                           search=self.system)
        except dns.resolver.NXDOMAIN:
            return [], "NXDOMAIN (no such name)"
        except dns.resolver.LifetimeTimeout:
            return [], f"no answer within {wait:g} s (timeout)"
        except dns.exception.Timeout:
            return [], f"no answer within {wait:g} s (timeout)"
        except dns.resolver.NoNameservers as err:
            return [], f"no server could answer ({_short(err)})"
        except dns.exception.DNSException as err:
            return [], _short(err)
        except (OSError, ValueError, UnicodeError) as err:
            return [], _short(err)
        return (list(answer.rrset) if answer.rrset is not None else []), None


def _short(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    return text if len(text) <= 300 else text[:300] + "..."


def _parse_resolver_address(text: str) -> tuple[str, int]:
    raw = text.strip()
    if raw.startswith("["):
        host, _, rest = raw[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
        if rest and not rest.startswith(":"):
            host = ""
    elif raw.count(":") == 1:
        host, _, port_text = raw.partition(":")
    else:
        host, port_text = raw, ""
    ip = canonical_ip(host) and host
    if not ip:
        raise UsageError(f"DNS resolver {text!r} is not an IP address (IP or IP:PORT)")
    if port_text and (not port_text.isdigit() or not 1 <= int(port_text) <= 65535):
        raise UsageError(f"DNS resolver {text!r}: port {port_text!r} is not a number from 1 to 65535")
    return ip, int(port_text) if port_text else 53


# ----------------------------------------------------------------------------- the resolver


@dataclass(slots=True)
class _He:
    """A hostent: the addresses of one name, and how it was found."""

    host: str
    ips: list[str]
    via: str = "IP address"
    weighted: bool = False


@dataclass(slots=True)
class _ANode:  # DNS_NODE_A: remaining SRV records of one SRV set
    name: str
    srvs: list[_Srv]
    proto: str
    idx: int = 0


@dataclass(slots=True)
class _SrvNode:  # DNS_NODE_SRV: remaining NAPTR records (proto, SRV name)
    vals: list[tuple[str, str]]
    idx: int = 0
    kids: _ANode | None = None


class _Resolver:
    def __init__(self, dns: _Dns, steps: list[Step], *, try_ipv6: bool, try_naptr: bool,
                 rng: random.Random | None):
        self.dns = dns
        self.steps = steps
        self.try_ipv6 = try_ipv6
        self.try_naptr = try_naptr
        self.rng = rng

    def step(self, query: str, answer: list[str], decision: str, error: str | None = None) -> None:
        self.steps.append(Step(query, tuple(answer), decision, error))

    # resolvehost(name, no_ip_test=1)
    def resolvehost(self, name: str) -> _He | None:
        literal = canonical_ip(name)
        if literal is not None and parse_ipv4(name) is not None:
            self.step("", [], f"{name} is an IPv4 address: used as it is")
            return _He(name, [literal])
        if literal is not None:  # gethostbyname2(AF_INET6) takes it; gethostbyname does not
            if self.try_ipv6:
                self.step("", [], f"{name} is an IPv6 address: used as it is (dns_try_ipv6)")
                return _He(name, [literal])
            self.step("", [], f"{name} is an IPv6 address, and dns_try_ipv6 is off: it does not resolve")
            return None
        families = (("AAAA", True), ("A", False)) if self.try_ipv6 else (("A", False),)
        for rdtype, v6 in families:
            # gethostbyname2(AF_INET6) / gethostbyname: the hosts file, then DNS (nsswitch "files dns")
            ip, _ = self.dns.hosts_lookup(name, v6)
            if ip is not None:
                self.step(f"{rdtype} {name}", [ip], f"from {self.dns.hosts_file} (the first matching line)")
                return _He(name, [canonical_ip(ip) or ip], via=f"{self.dns.hosts_file}")
            records, error = self.dns.query(name, rdtype)
            answer = [str(r.address) for r in records if hasattr(r, "address")]
            if answer:
                self.step(f"{rdtype} {name}", answer,
                          "dns_try_ipv6 is set and there are IPv6 addresses: these are used (no A lookup)"
                          if v6 else f"{len(answer)} address(es)")
                return _He(name, [canonical_ip(a) or a for a in answer], via=f"{rdtype} {name}")
            self.step(f"{rdtype} {name}", [], "no IPv6 address: trying A" if v6 else f"{name} does not resolve",
                      error)
        return None

    def sort_srvs(self, records: list[Any]) -> list[_Srv]:
        """get_record's insertion order, then sort_srvs' weighted draw per priority."""
        ordered: list[_Srv] = []
        for r in records:
            if not hasattr(r, "priority"):
                continue
            srv = _Srv(int(r.priority), int(r.weight), int(r.port), r.target.to_text(omit_final_dot=True))
            i = 0
            while i < len(ordered):
                cur = ordered[i]
                if srv.priority < cur.priority or (
                        srv.priority == cur.priority and (srv.weight == 0 or cur.weight != 0)):
                    break
                i += 1
            ordered.insert(i, srv)
        out: list[_Srv] = []
        i = 0
        while i < len(ordered):
            j = i
            while j + 1 < len(ordered) and ordered[j + 1].priority == ordered[i].priority:
                j += 1
            group = ordered[i:j + 1]
            if len(group) > 1:
                for s in group:
                    s.weighted = True
                out.extend(self._draw(group))
            else:
                out.extend(group)
            i = j + 1
        return out

    def _draw(self, group: list[_Srv]) -> list[_Srv]:
        if self.rng is None:  # the most likely order: highest weight first (weight 0 last)
            return sorted(group, key=lambda s: -s.weight)
        pool = list(group)
        drawn: list[_Srv] = []
        while len(pool) > 1:
            total = sum(s.weight for s in pool)
            rand_no = int(total * self.rng.random())
            running = 0
            pick = 0
            for k, s in enumerate(pool):
                running += s.weight
                if running >= rand_no:
                    pick = k
                    break
            drawn.append(pool.pop(pick))
        return drawn + pool

    # do_srv_lookup(name, port, dn)
    def do_srv_lookup(self, name: str, proto: str) -> tuple[_He, _Srv, _ANode | None] | None:
        records, error = self.dns.query(name, "SRV")
        srvs = self.sort_srvs(records)
        shown = [f"{s.priority} {s.weight} {s.port} {s.target or '.'}" for s in srvs]
        if not srvs:
            self.step(f"SRV {name}", shown, "no SRV record", error)
            return None
        weighted = any(s.weighted for s in srvs)
        self.step(f"SRV {name}", shown,
                  "tried by priority" + (", equal priorities in a weighted random order drawn per request "
                                         "(shown: " + ("this draw" if self.rng else "most likely first") + ")"
                                         if weighted else ""))
        for k, srv in enumerate(srvs):
            if not srv.target:
                self.step("", [], f"SRV target '.' ({name}): no service there, skipped")
                continue
            he = self.resolvehost(srv.target)
            if he is not None:
                he.via, he.weighted = f"SRV {name}", srv.weighted
                rest = srvs[k + 1:]
                return he, srv, (_ANode(name, rest, proto) if rest else None)
        return None

    def naptrs(self, host: str, is_sips: bool) -> list[_Naptr]:
        records, error = self.dns.query(host, "NAPTR")
        all_naptr = [_Naptr(int(r.order), int(r.preference), r.flags.decode("latin-1"),
                            r.service.decode("latin-1"), r.regexp.decode("latin-1"),
                            r.replacement.to_text(omit_final_dot=True) if r.replacement.labels != (b"",) else "")
                     for r in records if hasattr(r, "order")]
        kept: list[_Naptr] = []
        why_not: list[str] = []
        for n in all_naptr:
            reason = _naptr_refusal(n, is_sips)
            if reason:
                why_not.append(f"{n.service or '(no service)'} skipped: {reason}")
                continue
            _naptr_insert(kept, n)
        if not all_naptr:
            self.step(f"NAPTR {host}", [], "no NAPTR record", error)
        else:
            decision = ("usable, in order: " + ", ".join(f"{n.service} -> {n.replacement}" for n in kept)
                        if kept else "no usable NAPTR record")
            if why_not:
                decision += "; " + "; ".join(why_not)
            self.step(f"NAPTR {host}", [n.text() for n in all_naptr], decision)
        return kept

    def sip_resolvehost(self, target: SipTarget) -> tuple[_He | None, int, str, _SrvNode | _ANode | None]:
        name = target.host
        is_sips = target.is_sips
        proto = target.transport
        port = target.port or 0
        if canonical_ip(name) is not None:
            proto = proto or ("tls" if is_sips else "udp")
            port = port or DEFAULT_PORTS[proto]
            self.step("", [], f"{name} is an IP address: no DNS; {proto.upper()} to port {port}")
            return _He(name, [canonical_ip(name) or name]), port, proto, None
        if port:
            proto = proto or ("tls" if is_sips else "udp")
            self.step("", [], f"explicit port {port}: no NAPTR, no SRV, only the address of {name}; "
                              f"protocol {proto.upper()}" + _proto_origin(target))
            return self.resolvehost(name), port, proto, None
        if proto is not None:
            self.step("", [], f"transport {proto.upper()} given, no port: no NAPTR, SRV lookup")
        elif not self.try_naptr:
            proto = "tls" if is_sips else "udp"
            self.step("", [], f"dns_try_naptr is off: SRV lookup for {proto.upper()}")
        else:
            self.step("", [], "no port, no transport: NAPTR lookup")
            if len(name) >= MAX_DNS_NAME:
                self.step("", [], "domain name too long")
                return None, 0, "tls" if is_sips else "udp", None
            kept = self.naptrs(name, is_sips)
            for i, naptr in enumerate(kept):
                nproto = _naptr_proto(naptr.service)
                found = self.do_srv_lookup(naptr.replacement, nproto)
                if found is not None:
                    he, srv, anode = found
                    dn: _SrvNode | _ANode | None = anode
                    rest_from = i if anode is not None else i + 1
                    if rest_from < len(kept):
                        dn = _SrvNode([(_naptr_proto(n.service), n.replacement) for n in kept[rest_from:]],
                                      kids=anode)
                    return he, srv.port, nproto, dn
            proto = "tls" if is_sips else "udp"
            self.step("", [], f"no NAPTR record led to an address: direct SRV lookup for {proto.upper()}"
                              + ("" if is_sips else " (a sip: URI without transport means UDP)"))
        if len(name) + _SRV_MAX_PREFIX_LEN + 1 > MAX_DNS_NAME:
            port = DEFAULT_PORTS["tls" if is_sips else "udp"]
            self.step("", [], f"domain name too long for SRV: address lookup on port {port}")
            return self.resolvehost(name), port, proto, None
        found = self.do_srv_lookup(SRV_PREFIXES[proto] + name, proto)
        if found is not None:
            he, srv, anode = found
            return he, srv.port, proto, anode
        port = DEFAULT_PORTS[proto]
        self.step("", [], f"no SRV record led to an address: address lookup of {name}, port {port}")
        return self.resolvehost(name), port, proto, None

    # get_next_he(node, proto, port)
    def get_next_he(self, box: list[Any]) -> tuple[_He, int, str] | None:
        node = box[0]
        if node is None:
            return None
        last_srv: _SrvNode | None = None
        n: Any = node
        while True:
            if isinstance(n, _SrvNode):
                last_srv = n
                if n.kids is None:
                    he = None
                    dn = None
                    proto = ""
                    port = 0
                    while True:
                        p, srv_name = n.vals[n.idx]
                        found = self.do_srv_lookup(srv_name, p)
                        n.idx += 1
                        if found is not None:
                            he, srv, dn = found
                            proto, port = p, srv.port
                            break
                        if n.idx >= len(n.vals):
                            break
                    if he is None or n.idx == len(n.vals):
                        box[0] = dn
                        return (he, port, proto) if he is not None else None
                    n.kids = dn
                    return he, port, proto
                n = n.kids
                continue
            # _ANode
            he = None
            port = 0
            while True:
                srv = n.srvs[n.idx]
                n.idx += 1
                he = self.resolvehost(srv.target) if srv.target else None
                if he is not None:
                    he.via, he.weighted = f"SRV {n.name}", srv.weighted
                    port = srv.port
                    break
                if n.idx >= len(n.srvs):
                    break
            if he is None or n.idx == len(n.srvs):
                if last_srv is None:
                    box[0] = None
                    return (he, port, n.proto) if he is not None else None
                last_srv.kids = None
                last_srv.idx += 1
                if last_srv.idx >= len(last_srv.vals):
                    box[0] = None
            return (he, port, n.proto) if he is not None else None


def _proto_origin(target: SipTarget) -> str:
    if target.transport:
        return " (the transport parameter)"
    if target.is_sips:
        return " (sips: URI)"
    return " (a sip: URI without transport means UDP)"


def _naptr_refusal(n: _Naptr, is_sips: bool) -> str:
    """filter_and_sort_naptr: why OpenSIPS skips this NAPTR, or '' when it keeps it."""
    if len(n.flags) != 1 or n.flags not in "sS":
        return f"flags {n.flags!r} are not 's'"
    if not n.replacement or n.regexp:
        return "no replacement, or a regexp"
    svc = n.service.lower()
    sip_ok = not is_sips and len(svc) == 7 and svc.startswith("sip+d2")
    sips_ok = len(svc) == 8 and svc.startswith("sips+d2")
    if not (sip_ok or sips_ok):
        return "not a SIPS+D2x service" if is_sips else "not a SIP+D2x / SIPS+D2x service"
    last = svc[-1]
    if last not in "uts":
        return "transport not UDP, TCP or SCTP"
    if len(svc) == 8 and last == "u":
        return "SIPS over UDP does not exist"
    return ""


def _naptr_prio(n: _Naptr) -> int:
    return (n.order << 16) + n.pref


def _naptr_insert(head: list[_Naptr], n: _Naptr) -> None:
    """filter_and_sort_naptr's insertion, ties included."""
    prio = _naptr_prio(n)
    if not head or _naptr_prio(head[0]) >= prio:
        head.insert(0, n)
    elif prio >= _naptr_prio(head[-1]):
        head.append(n)
    else:
        # for (itp=head, it=head->next; it && it->next; itp=it, it=it->next)
        #     if (prio <= naptr_prio(it)) break;
        itp, it = 0, 1
        while it + 1 < len(head):
            if prio <= _naptr_prio(head[it]):
                break
            itp, it = it, it + 1
        head.insert(itp + 1, n)


def _naptr_proto(service: str) -> str:
    """get_naptr_proto: 'SIPS+...' is TLS; else the last letter."""
    s = service.lower()
    if len(s) > 3 and s[3] == "s":
        return "tls"
    return {"u": "udp", "t": "tcp", "s": "sctp"}.get(s[-1:], "udp")


def resolve_sip_destination(target: str, *, resolver_address: str | None = None, port: int | None = None,
                            timeout: float = DNS_TIMEOUT_S, try_ipv6: bool = False, try_naptr: bool = True,
                            rng: random.Random | None = None, hosts_file: str | None = "/etc/hosts",
                            ) -> Resolution:
    """Resolve ``target`` for sending as OpenSIPS 3.6.8 does (see the module docstring).
    ``try_ipv6``/``try_naptr`` are the core parameters ``dns_try_ipv6`` (default off) and
    ``dns_try_naptr`` (default on). ``hosts_file`` is read only with the system resolver.
    ``rng`` draws SRV records of equal priority as OpenSIPS does (else the likeliest order). Raises TlsmgmError only for a target or resolver address
    that is not one (usage); every DNS failure is a Step."""
    parsed = parse_sip_target(target, port=port)
    if resolver_address is not None:
        _parse_resolver_address(resolver_address)
    if not timeout > 0:
        raise UsageError(f"DNS timeout {timeout!r} is not a positive number of seconds")
    timeout = min(float(timeout), DNS_TOTAL_TIMEOUT_S)
    steps: list[Step] = []
    res = Resolution(target=parsed, steps=steps)
    if parsed.is_sips and parsed.transport not in (None, "tls", "wss"):
        res.error = f"bad transport for sips uri: {parsed.transport} (OpenSIPS refuses to relay)"
        steps.append(Step("", (), res.error))
        return res
    needs_dns = canonical_ip(parsed.host) is None
    dns = _Dns(resolver_address if needs_dns else "127.0.0.1", timeout, steps, hosts_file)
    resolver = _Resolver(dns, steps, try_ipv6=try_ipv6, try_naptr=try_naptr, rng=rng)
    he, first_port, proto, dn = resolver.sip_resolvehost(parsed)
    if he is None or not he.ips:
        res.error = f"could not resolve {parsed.host}"
        return res
    for ip in he.ips:
        res.destinations.append(Destination(canonical_ip(ip) or ip, first_port, proto, he.host, he.via, he.weighted))
    box: list[Any] = [dn]
    while box[0] is not None:
        nxt = resolver.get_next_he(box)
        if nxt is None:
            break
        he, nport, nproto = nxt
        for ip in he.ips:
            res.destinations.append(Destination(canonical_ip(ip) or ip, nport, nproto, he.host, he.via, he.weighted))
    if res.destinations and not res.tls_destinations:
        steps.append(Step("", (), f"OpenSIPS sends to {parsed.host} over "
                                  f"{res.destinations[0].proto.upper()}, not TLS: no client TLS domain is used"))
    return res

