"""``tlsmgm probe``: the config held against the live server.

:func:`plan_probe` derives, for every TLS listener (or ``--socket``), the SNIs that matter
from the server domains that apply there, and what OpenSIPS 3.6.8 would do with each
(the one matcher, ``core.matching.matcher``): every exact pattern, one generated name inside each
other pattern (the pattern is named), a name no pattern matches, and no SNI. A listener
that no domain covers gets one case (no SNI): OpenSIPS accepts the TCP connection and
never answers it (behaviour §4.8).

:func:`run_probe` makes the handshakes (stdlib ``ssl`` client, SNI set, no verification
during the handshake, at most ``jobs`` at a time, each within ``handshake_timeout`` and
all within ``total_timeout``) and compares what the server did with the prediction:
the outcome (selected / fatal alert 112 / no answer) and the SHA-256 of the leaf
certificate presented against the predicted domain's certificate file. The chain
served is verified against the predicted domain's CAs (``core.x509.verify``).

Everything returned is plain data (dataclasses with ``to_dict``); nothing here prints.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import socket
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from tlsmgm_cli.core.domain import SERVER, DomainSet, TlsDomain
from tlsmgm_cli.core.errors import TlsmgmError, UsageError
from tlsmgm_cli.core.limits import PROBE_HANDSHAKE_TIMEOUT_S, PROBE_MAX_CASES, PROBE_TOTAL_TIMEOUT_S
from tlsmgm_cli.core.matching.matcher import DROPPED, REJECTED, SELECTED, DomainMatcher
from tlsmgm_cli.core.net.addresses import socket_text

# how each SNI of a case was chosen
KIND_EXACT, KIND_WILDCARD, KIND_UNMATCHED, KIND_NO_SNI = "exact", "wildcard", "unmatched", "no-sni"
KIND_UNLISTED = "unlisted"  # the "unmatched" name, which a catch-all pattern matches after all
# what the live server did
LIVE_SELECTED, LIVE_REJECTED, LIVE_NO_ANSWER, LIVE_FAILED = "selected", "rejected", "no-answer", "failed"
LIVE_UNREACHABLE = "unreachable"  # no TCP connection at all (refused, connect timeout, no route)
# verdicts
OK, WRONG_CERTIFICATE, UNEXPECTED_REJECT, UNEXPECTED_ACCEPT, NO_ANSWER = (
    "ok", "wrong-certificate", "unexpected-reject", "unexpected-accept", "no-answer")
VERDICTS = (OK, WRONG_CERTIFICATE, UNEXPECTED_REJECT, UNEXPECTED_ACCEPT, NO_ANSWER)

UNMATCHED_NAME = "no-such-name.tlsmgm-probe.invalid"
_STAR_FILL = "tlsmgm-probe"
ALERT_UNRECOGNIZED_NAME = 112


@dataclass(slots=True)
class Target:
    """One listener to probe: the address key OpenSIPS selects on (``ip``/``port``) and
    where to connect (``host``/``connect_port``: the same unless ``--connect`` says)."""

    ip: str
    port: int
    host: str
    connect_port: int
    note: str | None = None

    @property
    def listener(self) -> str:
        return socket_text(self.ip, self.port)

    @property
    def connect(self) -> str:
        return f"[{self.host}]:{self.connect_port}" if ":" in self.host else f"{self.host}:{self.connect_port}"


@dataclass(slots=True)
class ProbeCase:
    """One (listener, SNI) to try and what OpenSIPS would do with it."""

    target: Target
    sni: str | None
    kind: str
    pattern: str | None  # the pattern the SNI was taken or generated from
    pattern_domain: str | None  # the domain that lists that pattern
    expected: str  # SELECTED | REJECTED | DROPPED
    domain: TlsDomain | None  # the predicted domain (selected)
    rule: str

    @property
    def listener(self) -> str:
        return self.target.listener


@dataclass(slots=True)
class Skipped:
    """A name that matters but cannot be sent (an IP literal as SNI, an empty SNI...)."""

    listener: str
    sni: str
    pattern: str | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"listener": self.listener, "sni": self.sni, "pattern": self.pattern, "reason": self.reason}


@dataclass(slots=True)
class ProbePlan:
    cases: list[ProbeCase]
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Expected:
    """The predicted domain's certificate: leaf SHA-256, or why it could not be read."""

    sha256: str | None
    subject: str | None
    error: str | None = None


@dataclass(slots=True)
class ProbeResult:
    case: ProbeCase
    outcome: str = LIVE_FAILED  # what the live server did
    verdict: str = NO_ANSWER
    expected_sha256: str | None = None
    expected_subject: str | None = None
    presented_subject: str | None = None
    presented_sha256: str | None = None
    not_after: str | None = None  # ISO 8601 UTC of the leaf served
    chain_length: int = 0
    chain: dict[str, Any] | None = None  # verify result of the chain served
    tls_version: str | None = None
    alert: str | None = None
    error: str | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def compared(self) -> bool:
        """Whether the certificate could be compared (when one was expected and sent)."""
        return not (self.case.expected == SELECTED and self.outcome == LIVE_SELECTED
                    and (self.expected_sha256 is None or self.presented_sha256 is None))

    def to_dict(self) -> dict[str, Any]:
        case = self.case
        return {
            "listener": case.listener, "connect": case.target.connect, "sni": case.sni,
            "kind": case.kind, "pattern": case.pattern, "pattern_domain": case.pattern_domain,
            "expected": case.expected, "expected_domain": case.domain.name if case.domain else None,
            "expected_sha256": self.expected_sha256, "expected_subject": self.expected_subject,
            "outcome": self.outcome, "verdict": self.verdict,
            "presented_subject": self.presented_subject, "presented_sha256": self.presented_sha256,
            "not_after": self.not_after, "chain_length": self.chain_length, "chain": self.chain,
            "tls_version": self.tls_version, "alert": self.alert, "error": self.error,
            "compared": self.compared, "rule": case.rule, "notes": list(self.notes),
            "seconds": round(self.seconds, 6),
        }


@dataclass(slots=True)
class ProbeReport:
    results: list[ProbeResult]
    skipped: list[Skipped]
    warnings: list[str]
    seconds: float
    timed_out: bool = False

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(VERDICTS, 0)
        for r in self.results:
            counts[r.verdict] += 1
        return counts

    @property
    def not_compared(self) -> int:
        return sum(1 for r in self.results if not r.compared)

    @property
    def all_as_predicted(self) -> bool:
        return all(r.verdict == OK for r in self.results) and self.not_compared == 0

    def to_dict(self) -> dict[str, Any]:
        return {"results": [r.to_dict() for r in self.results],
                "skipped": [s.to_dict() for s in self.skipped],
                "summary": {**self.counts, "cases": len(self.results), "skipped": len(self.skipped),
                            "not_compared": self.not_compared, "timed_out": self.timed_out,
                            "seconds": round(self.seconds, 3)},
                "warnings": list(self.warnings)}


# ---------------------------------------------------------------------------------------
# Planning


def name_inside(pattern: str, casefold: bool = True) -> str | None:
    """A name the fnmatch ``pattern`` matches (``*`` -> ``tlsmgm-probe``, ``?`` -> ``x``,
    ``[..]`` -> a member), checked with the matcher's own fnmatch; None when no such
    simple name is found."""
    from tlsmgm_cli.core.matching.fnmatch_posix import fnmatch

    candidates = []
    for star, anychar in ((_STAR_FILL, "x"), ("a", "a"), ("", "0")):
        out: list[str] = []
        i, n = 0, len(pattern)
        while i < n:
            ch = pattern[i]
            if ch == "\\" and i + 1 < n:
                out.append(pattern[i + 1])
                i += 2
                continue
            if ch == "*":
                out.append(star)
            elif ch == "?":
                out.append(anychar)
            elif ch == "[":
                end = pattern.find("]", i + 2)
                if end == -1:
                    out.append(ch)
                else:
                    body = pattern[i + 1:end]
                    if body[:1] in ("!", "^"):
                        out.append(next((c for c in "xyzq0123456789" if c not in body[1:]), "x"))
                    else:
                        out.append(body[0])
                    i = end + 1
                    continue
            else:
                out.append(ch)
            i += 1
        candidates.append("".join(out))
    for name in candidates:
        if name and fnmatch(pattern, name, casefold):
            return name
    return None


def _sendable(sni: str) -> str | None:
    """Why ``sni`` cannot be sent as given (None: it can)."""
    from tlsmgm_cli.core.tls.handshake import sni_problem

    return sni_problem(sni)


def plan_probe(domset: DomainSet, targets: list[Target], *,
               matcher: DomainMatcher | None = None) -> ProbePlan:
    """The cases to try on ``targets`` and their predictions."""
    matcher = matcher or DomainMatcher(domset)
    plan = ProbePlan([])
    for target in targets:
        _plan_target(matcher, target, plan)
    if len(plan.cases) > PROBE_MAX_CASES:
        raise UsageError(f"{len(plan.cases)} handshakes to make: more than the limit of "
                         f"{PROBE_MAX_CASES}; probe fewer listeners (--socket)")
    return plan


def _plan_target(matcher: DomainMatcher, target: Target, plan: ProbePlan) -> None:
    arr = matcher.maps[SERVER].array_for(f"{target.ip}:{target.port}")
    seen: set[str | None] = set()

    def add(sni: str | None, kind: str, pattern: str | None, pattern_domain: str | None) -> None:
        if sni in seen:
            return
        seen.add(sni)
        if sni is not None:
            why = _sendable(sni)
            if why is not None:
                plan.skipped.append(Skipped(target.listener, sni, pattern, why))
                return
        result = matcher.match_server(target.ip, target.port, sni)
        if kind == KIND_UNMATCHED and result.selected and result.domain is not None:
            # some pattern ('*', '*.invalid'...) matches every name: say which
            kind, pattern, pattern_domain = KIND_UNLISTED, result.pattern, result.domain.name
        plan.cases.append(ProbeCase(target, sni, kind, pattern, pattern_domain, result.outcome,
                                    result.domain if result.selected else None, result.rule))

    if arr is None or not arr.entries:  # no domain covers the listener: one case says it
        add(None, KIND_NO_SNI, None, None)
        return
    for entry in arr.entries:
        pattern = entry.pattern
        if not any(c in pattern for c in "*?[\\"):
            add(pattern, KIND_EXACT, pattern, entry.domain.name)
            continue
        name = name_inside(pattern, matcher.casefold)
        if name is None:
            plan.warnings.append(f"{target.listener}: no name could be generated inside the pattern "
                                 f"'{pattern}' of [{entry.domain.name}]: not probed")
            continue
        add(name, KIND_WILDCARD, pattern, entry.domain.name)
    add(UNMATCHED_NAME, KIND_UNMATCHED, None, None)
    add(None, KIND_NO_SNI, None, None)


# ---------------------------------------------------------------------------------------
# Running


def client_context() -> ssl.SSLContext:
    """A client context that accepts whatever the server presents (the probe compares it
    afterwards): no verification, every protocol version and cipher OpenSSL still has."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    except (ValueError, ssl.SSLError):  # pragma: no cover - a libssl without them
        pass
    return ctx


@dataclass(slots=True)
class _Live:
    """What one handshake showed."""

    outcome: str
    chain: list[bytes]
    version: str | None = None
    alert: str | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def handshake_once(ctx: ssl.SSLContext, host: str, port: int, sni: str | None, timeout: float) -> _Live:
    """Connect to ``host:port``, send ``sni`` (None: no SNI) and shake hands within
    ``timeout`` seconds. Never raises for anything the network does."""
    from tlsmgm_cli.core.tls.handshake import (
        alert_name,
        describe_ssl_error,
        presented_chain,
        stdlib_sends_exactly,
    )
    from tlsmgm_cli.core.tls.sslverify import set_sni

    started = time.monotonic()
    raw: socket.socket | None = None
    sock: ssl.SSLSocket | None = None
    stage = "connect"
    live = _Live(LIVE_FAILED, [])
    try:
        raw = socket.create_connection((host, port), timeout=timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        raw.settimeout(max(timeout - (time.monotonic() - started), 0.001))
        stage = "handshake"
        exact = sni is not None and stdlib_sends_exactly(sni)
        sock = ctx.wrap_socket(raw, server_hostname=sni if exact else None, do_handshake_on_connect=False)
        if sni is not None and not exact and not set_sni(sock, sni.encode("utf-8", "surrogateescape")):
            live.error = f"the SNI {sni!r} could not be set on the connection: nothing was sent"
            return live
        sock.do_handshake()
        live.outcome, live.chain, live.version = LIVE_SELECTED, presented_chain(sock), sock.version()
    except ssl.SSLError as err:
        chain = presented_chain(sock) if sock is not None else []
        alert = alert_name(err.reason)
        live.alert, live.error = alert, describe_ssl_error(err)
        if chain:  # a certificate came before the failure (TLS 1.2 client-certificate request...)
            live.outcome, live.chain = LIVE_SELECTED, chain
            live.notes.append(f"the server presented its certificate, then the handshake failed: "
                              f"{live.error} (the probe sends no client certificate)")
            live.error = None
        elif alert is not None:
            live.outcome = LIVE_REJECTED
        elif isinstance(err, (ssl.SSLEOFError, ssl.SSLZeroReturnError)):
            live.outcome = LIVE_NO_ANSWER
            live.error = "the server closed the connection without a TLS answer"
    except (TimeoutError, socket.timeout):
        if stage == "connect":
            live.outcome, live.error = LIVE_UNREACHABLE, f"timed out connecting after {timeout:.3g} s"
        else:
            live.outcome = LIVE_NO_ANSWER
            live.error = f"TCP accepted, no TLS answer within {timeout:.3g} s"
    except ConnectionRefusedError:
        live.outcome, live.error = LIVE_UNREACHABLE, "connection refused (nothing listens there)"
    except (ConnectionResetError, BrokenPipeError):
        live.outcome = LIVE_NO_ANSWER
        live.error = f"connection reset by the server ({stage})"
    except OSError as err:
        live.outcome = LIVE_UNREACHABLE if stage == "connect" else LIVE_NO_ANSWER
        live.error = f"{stage} failed: {err.strerror or err}"
    except UnicodeError:  # a host name IDNA cannot encode (a label over 63 characters...)
        live.outcome, live.error = LIVE_UNREACHABLE, f"{host!r} is not a valid host name"
    finally:
        for closable in (sock, raw):
            if closable is not None:
                try:
                    closable.close()
                except OSError:  # pragma: no cover
                    pass
        live.seconds = time.monotonic() - started
    return live


class _Expectations:
    """Per predicted domain, computed once (thread-safe): its leaf certificate's
    SHA-256 and its trust store."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._certs: dict[tuple[str, str], Expected] = {}
        self._stores: dict[Any, Any] = {}  # TrustSources -> TrustStore | TlsmgmError
        self._certs_by_der: dict[bytes, Any] = {}
        self._verified: dict[tuple[Any, ...], dict[str, Any]] = {}

    def certificate(self, dom: TlsDomain) -> Expected:
        with self._lock:
            hit = self._certs.get(dom.key)
        if hit is None:
            hit = _expected_certificate(dom)
            with self._lock:
                self._certs[dom.key] = hit
        return hit

    def chain_check(self, dom: TlsDomain, chain: list[bytes]) -> dict[str, Any]:
        """The verify result of ``chain`` against ``dom``'s CAs (one store per distinct
        set of trust sources, one result per distinct (sources, chain))."""
        from tlsmgm_cli.core.x509.truststore import domain_sources

        try:
            sources: Any = domain_sources(dom)
        except (OSError, ValueError, TlsmgmError) as err:
            sources = None
            failure = f"cannot locate the CAs of [{dom.name}]: {err}"
        key = (sources, tuple(chain))
        with self._lock:
            hit = self._verified.get(key)
        if hit is not None:
            return {**hit, "against": f"the CAs of [{dom.name}]"}
        if sources is None:
            hit = _not_checked(failure)
        else:
            hit = self._verify(sources, chain)
        with self._lock:
            self._verified[key] = hit
        return {**hit, "against": f"the CAs of [{dom.name}]"}

    def _store(self, sources: Any) -> Any:
        from tlsmgm_cli.core.x509.truststore import build_trust_store

        with self._lock:
            store = self._stores.get(sources)
        if store is None:
            try:
                store = build_trust_store(sources)
            except TlsmgmError as err:
                store = err
            except (OSError, ValueError) as err:
                store = TlsmgmError(f"cannot read the CAs ({sources.described()}): {err}")
            with self._lock:
                store = self._stores.setdefault(sources, store)
        return store

    def parsed(self, der: bytes) -> Any:
        from cryptography import x509

        with self._lock:
            cert = self._certs_by_der.get(der)
        if cert is None:
            cert = x509.load_der_x509_certificate(der)
            with self._lock:
                cert = self._certs_by_der.setdefault(der, cert)
        return cert

    def _verify(self, sources: Any, chain: list[bytes]) -> dict[str, Any]:
        from tlsmgm_cli.core.x509.verify import PURPOSE_SSL_SERVER, verify_peer

        store = self._store(sources)
        if isinstance(store, TlsmgmError):
            return _not_checked(str(store))
        try:
            certs = [self.parsed(der) for der in chain]
            res = verify_peer(certs, store, purpose=PURPOSE_SSL_SERVER)
        except (ValueError, TlsmgmError) as err:
            return _not_checked(f"the chain served cannot be parsed ({err})")
        return {"checked": True, "ok": res.ok, "code": res.code, "text": res.text, "depth": res.depth}


def _not_checked(why: str) -> dict[str, Any]:
    return {"checked": False, "ok": None, "code": None, "text": f"not checked: {why}", "depth": None}


def _expected_certificate(dom: TlsDomain) -> Expected:
    """The leaf of ``dom``'s certificate (file, or PEM of a DB row)."""
    from cryptography.hazmat.primitives import serialization

    from tlsmgm_cli.core.x509.load import CertLoadError, load_certificates, read_certificate_file

    source = dom.eff_certificate
    if source is None:
        return Expected(None, None, f"[{dom.name}] has no certificate")
    try:
        if dom.file_is_content("certificate"):
            certs = load_certificates(source.encode("utf-8", "replace"), f"DB row of [{dom.name}]")
        else:
            certs = read_certificate_file(source)
    except (CertLoadError, TlsmgmError) as err:
        return Expected(None, None, f"the certificate of [{dom.name}] cannot be read: {err}")
    leaf = certs[0]
    der = leaf.der if leaf.der else leaf.cert.public_bytes(serialization.Encoding.DER)
    return Expected(hashlib.sha256(der).hexdigest(), leaf.cert.subject.rfc4514_string())


def _leaf_facts(cache: _Expectations, der: bytes) -> tuple[str | None, str | None]:
    """(subject, notAfter ISO) of a served leaf; (None, None) if it does not parse."""
    try:
        cert = cache.parsed(der)
        subject = cert.subject.rfc4514_string()
        after = cert.not_valid_after_utc
    except ValueError:
        return None, None
    return subject, after.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def verdict_of(expected: str, outcome: str, alert: str | None, same_cert: bool | None) -> str:
    """The verdict for a prediction (SELECTED/REJECTED/DROPPED) and what the server did."""
    if outcome == LIVE_SELECTED:
        if expected != SELECTED:
            return UNEXPECTED_ACCEPT
        return WRONG_CERTIFICATE if same_cert is False else OK
    if outcome == LIVE_REJECTED:
        if expected == REJECTED and alert == "unrecognized_name":
            return OK
        return UNEXPECTED_REJECT
    if outcome == LIVE_NO_ANSWER:
        return OK if expected == DROPPED else NO_ANSWER
    if outcome == LIVE_UNREACHABLE:  # even a silent listener accepts the TCP connection
        return NO_ANSWER
    return UNEXPECTED_REJECT  # another TLS failure: the server refused the handshake


def _judge(case: ProbeCase, live: _Live, cache: _Expectations) -> ProbeResult:
    result = ProbeResult(case, outcome=live.outcome, tls_version=live.version, alert=live.alert,
                         error=live.error, seconds=live.seconds, notes=list(live.notes))
    expected = cache.certificate(case.domain) if case.domain is not None else None
    if expected is not None:
        result.expected_sha256, result.expected_subject = expected.sha256, expected.subject
        if expected.error:
            result.notes.append(f"{expected.error}: the certificate served is not compared")
    same: bool | None = None
    if live.chain:
        leaf = live.chain[0]
        result.chain_length = len(live.chain)
        result.presented_sha256 = hashlib.sha256(leaf).hexdigest()
        result.presented_subject, result.not_after = _leaf_facts(cache, leaf)
        if result.presented_subject is None:
            result.notes.append("the certificate served does not parse as X.509")
        if result.expected_sha256 is not None:
            same = result.presented_sha256 == result.expected_sha256
        if case.domain is not None:
            result.chain = cache.chain_check(case.domain, live.chain)
        else:
            result.chain = _not_checked("no domain is predicted, so no CAs to check against")
    elif live.outcome == LIVE_SELECTED:
        result.notes.append("the handshake completed but no certificate was presented")
        same = False  # a certificate was predicted: none is not it
    result.verdict = verdict_of(case.expected, live.outcome, live.alert, same)
    if case.expected == REJECTED and live.outcome == LIVE_REJECTED and live.alert != "unrecognized_name":
        result.notes.append(f"expected fatal alert unrecognized_name ({ALERT_UNRECOGNIZED_NAME}), "
                            f"got {live.alert or 'another failure'}")
    return result


def run_probe(plan: ProbePlan, *, jobs: int = 8, handshake_timeout: float = PROBE_HANDSHAKE_TIMEOUT_S,
              total_timeout: float = PROBE_TOTAL_TIMEOUT_S,
              progress: Callable[..., None] | None = None) -> ProbeReport:
    """Every case of ``plan``, at most ``jobs`` at a time; results in plan order."""
    started = time.monotonic()
    deadline = started + total_timeout
    ctx = client_context()
    cache = _Expectations()
    done = 0
    done_lock = threading.Lock()
    timed_out = False

    def one(case: ProbeCase) -> ProbeResult:
        nonlocal done, timed_out
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            live = _Live(LIVE_NO_ANSWER, [], error=f"not tried: the total timeout of {total_timeout:g} s "
                                                   "was reached")
        else:
            live = handshake_once(ctx, case.target.host, case.target.connect_port, case.sni,
                                  min(handshake_timeout, left))
            if left < handshake_timeout and live.outcome == LIVE_NO_ANSWER and \
                    time.monotonic() >= deadline - 0.01:
                timed_out = True  # this handshake was cut short by the total timeout
                live.error = f"{live.error}; cut short by the total timeout of {total_timeout:g} s"
        result = _judge(case, live, cache)
        if progress is not None:
            with done_lock:
                done += 1
                progress(done)
        return result

    if jobs <= 1 or len(plan.cases) <= 1:
        results = [one(c) for c in plan.cases]
    else:
        with ThreadPoolExecutor(max_workers=min(jobs, len(plan.cases))) as pool:
            results = list(pool.map(one, plan.cases))
    return ProbeReport(results, plan.skipped, plan.warnings, time.monotonic() - started, timed_out)


# ---------------------------------------------------------------------------------------
# Targets


def config_targets(domset: DomainSet) -> tuple[list[Target], list[str]]:
    """Every TLS listener of the config with an IP address (warnings for the others)."""
    from tlsmgm_cli.core.matching.matcher import tls_listeners

    if domset.config is None:
        return [], []
    targets: list[Target] = []
    warnings: list[str] = []
    for lst in tls_listeners(domset.config):
        if lst.ip is None or lst.port is None:
            warnings.append(f"{lst.loc}: skipping '{lst.text}': {lst.skip}")
            continue
        targets.append(Target(lst.ip, lst.port, lst.ip, lst.port, lst.note))
    return targets, warnings


def apply_connect(targets: list[Target], connect: list[str]) -> None:
    """``--connect [KEY=]HOST:PORT``: connect to HOST:PORT for the listener KEY (without
    KEY: for the only listener probed). Raises TlsmgmError for a usage problem."""
    from tlsmgm_cli.core.net.addresses import parse_hostport

    by_key = {(t.ip, t.port): t for t in targets}
    for item in connect:
        key_text, sep, hostport = item.rpartition("=")
        host, port = parse_hostport(hostport, what="--connect", allow_hostname=True)
        try:  # what socket.create_connection does with it: refuse it now, not per handshake
            host.encode("idna")
        except UnicodeError:
            raise UsageError(f"--connect {item!r}: {host!r} is not a valid host name (an empty label, "
                             "or one longer than 63 characters)") from None
        if sep:
            key = parse_hostport(key_text, what="--connect listener")
            target = by_key.get(key)
            if target is None:
                raise UsageError(f"--connect {item!r}: {socket_text(*key)} is not a listener being "
                                 "probed (see --socket and the config's socket=tls: lines)")
        elif len(targets) == 1:
            target = targets[0]
        else:
            raise UsageError(f"--connect {item!r}: {len(targets)} listeners are probed; say which one "
                             "with LISTENER=HOST:PORT")
        target.host, target.connect_port = host, port
