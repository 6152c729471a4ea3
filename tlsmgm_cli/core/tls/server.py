"""A local TLS endpoint that picks server domains exactly as OpenSIPS does (``tlsmgm serve``).

Per accepted connection, following behaviour §4.8 and §6.11 with the one matcher (``core.matching.matcher``):

1. the listener's *configured* address (the key OpenSIPS uses, even when tlsmgm binds
   elsewhere) gives the initial domain (``arr[0]``); no domain for it: the TCP connection
   is accepted and nothing is ever sent (closed after :data:`DROP_HOLD_SECONDS`), like
   OpenSIPS's ``no TLS server domain found``;
2. the SSL object is created from the initial domain's context, so its protocol bounds
   govern the version negotiation;
3. the SNI callback (called for every ClientHello, with or without SNI) asks the matcher:
   no match -> fatal alert ``unrecognized_name``; another domain -> the connection's
   context is switched to it (certificate, key, CA store, CRL flags) and, from OpenSIPS
   3.6.8 (``--opensips-version``), its verify_cert/require_cert are applied with
   ``SSL_set_verify`` (``core.tls.sslverify``); earlier releases keep the initial domain's.
   A server_name with a byte >= 0x80, which CPython cannot pass to the callback, is read
   from the peeked ClientHello (``core.tls.clienthello``) and matched the same way before
   the handshake starts.

Should ``SSL_set_verify`` be unreachable (an OpenSSL or CPython build whose layout cannot
be validated), the initial domain's verify mode stays in force and the connection's record
carries a note saying so.

One record (a dict) per connection goes to the ``on_record`` callback: listener, client,
outcome, chosen and initial domain, SNI, negotiated version and cipher, the client's
``$tls_peer_*`` values, and the error in words. Over an established connection SIP
OPTIONS requests get ``SIP/2.0 200 OK`` (Via, From, To, Call-ID and CSeq copied).
"""

from __future__ import annotations

import contextlib
import errno
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from tlsmgm_cli.core.domain import SERVER, DomainSet, TlsDomain
from tlsmgm_cli.core.errors import TlsmgmError, UsageError
from tlsmgm_cli.core.matching.matcher import DROPPED, SELECTED, DomainMatcher, MatchResult
from tlsmgm_cli.core.net.addresses import socket_text
from tlsmgm_cli.core.tls import clienthello
from tlsmgm_cli.core.tls.context import build_context, chain_too_long
from tlsmgm_cli.core.tls.handshake import describe_ssl_error, verified_chain_length
from tlsmgm_cli.core.tls.sslverify import set_verify_mode
from tlsmgm_cli.core.x509.tlsvars import PEER, cert_vars, connection_vars, no_cert_vars

DROP_HOLD_SECONDS = 30.0
HANDSHAKE_TIMEOUT = 10.0
IDLE_TIMEOUT = 60.0
MAX_SIP_MESSAGE = 65536
_COPIED_HEADERS = ("via", "v", "from", "f", "to", "t", "call-id", "i", "cseq")
#: accept() failed for lack of descriptors or memory: pause from MIN, doubling up to MAX
ACCEPT_BACKOFF_MIN_S = 0.1
ACCEPT_BACKOFF_MAX_S = 1.0
_OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
SNI_VERIFY_SINCE = (3, 6, 8)  # the SNI-selected domain's verify mode applies (behaviour §6.11, §10.1)

Record = dict[str, Any]
#: a fatal unrecognized_name alert (TLS 1.2 record version, as TLS 1.3 mandates too)
_ALERT_UNRECOGNIZED_NAME = bytes([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME])


@dataclass(frozen=True, slots=True)
class ListenerSpec:
    """Where to bind, and the listener address OpenSIPS would key domains on."""

    key_ip: str  # canonical OpenSIPS ip of the configured listener
    key_port: int
    bind_ip: str
    bind_port: int

    @property
    def key_text(self) -> str:
        return socket_text(self.key_ip, self.key_port)


@dataclass(slots=True)
class _Conn:
    """What the SNI callback learnt about one connection."""

    spec: ListenerSpec
    initial: TlsDomain
    result: MatchResult | None = None
    verify_applied: bool | None = None  # SSL_set_verify after an SNI switch; None: not attempted


class TlsServer:
    """Listening sockets plus one thread per accepted connection."""

    def __init__(self, domset: DomainSet, listeners: list[ListenerSpec], on_record: Callable[[Record], None]):
        self.on_record = on_record
        self.sni_applies_verify = domset.opensips_version >= SNI_VERIFY_SINCE
        self.contexts: dict[tuple[str, str], ssl.SSLContext] = {}
        for dom in domset.active(SERVER):
            try:
                self.contexts[dom.key] = build_context(dom)
            except TlsmgmError as err:
                if not dom.from_db:
                    raise  # OpenSIPS does not start
                dom.db_skip = f"its TLS context cannot be built: {err.message}"
                on_record({"event": "warning", "message": f"DB domain [{dom.name}] skipped: {err.message}"})
        self.matcher = DomainMatcher(domset)
        for ctx in self.contexts.values():
            ctx.sni_callback = self._sni_callback
        self._conns: dict[int, _Conn] = {}
        self._plain: dict[tuple[str, str], ssl.SSLContext] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._selector = selectors.DefaultSelector()
        self.bound: list[tuple[ListenerSpec, tuple[str, int]]] = []
        for spec in listeners:
            family = socket.AF_INET6 if ":" in spec.bind_ip else socket.AF_INET
            lsock = socket.socket(family, socket.SOCK_STREAM)
            lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                lsock.bind((spec.bind_ip, spec.bind_port))
            except OSError as err:
                lsock.close()
                self.close()
                raise TlsmgmError(f"cannot listen on {socket_text(spec.bind_ip, spec.bind_port)} "
                                  f"(for {spec.key_text}): {err.strerror or err}") from None
            lsock.listen(128)
            lsock.setblocking(False)
            self._selector.register(lsock, selectors.EVENT_READ, spec)
            self.bound.append((spec, lsock.getsockname()[:2]))

    # -- life cycle ----------------------------------------------------------------------
    def serve_forever(self, poll: float = 0.2) -> None:
        """Accept connections until :meth:`stop` is called."""
        for spec, (host, port) in self.bound:
            self.on_record({"event": "listening", "listener": spec.key_text, "bind": socket_text(host, port)})
        backoff = 0.0  # seconds to pause after accept() found no descriptor left
        warned = False
        while not self._stop.is_set():
            for key, _mask in self._selector.select(poll):
                try:
                    conn, peer = key.fileobj.accept()  # type: ignore[union-attr]  # only sockets registered
                except BlockingIOError:
                    continue
                except OSError as err:
                    if err.errno not in _OUT_OF_RESOURCES:
                        continue  # the client went away before accept (ECONNABORTED, ...)
                    # the pending connection stays queued, so the listener stays readable:
                    # retrying at once would spin at 100 % CPU until a descriptor is freed
                    if not warned:
                        warned = True
                        self.on_record({"event": "warning", "message": (
                            f"cannot accept connections: {err.strerror or err} "
                            f"({errno.errorcode.get(err.errno or 0, err.errno)}); retrying every "
                            f"{ACCEPT_BACKOFF_MIN_S:g}-{ACCEPT_BACKOFF_MAX_S:g} s until a descriptor "
                            "is free (raise the limit: ulimit -n)")})
                    backoff = min(ACCEPT_BACKOFF_MAX_S, backoff * 2 or ACCEPT_BACKOFF_MIN_S)
                    self._stop.wait(backoff)
                    break
                backoff = 0.0
                try:
                    threading.Thread(target=self._handle, args=(conn, peer, key.data), daemon=True).start()
                except RuntimeError:  # no thread can be started (out of memory/threads)
                    conn.close()
                    self._stop.wait(ACCEPT_BACKOFF_MIN_S)
        self.close()

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        for key in list(self._selector.get_map().values()):
            self._selector.unregister(key.fileobj)
            key.fileobj.close()  # type: ignore[union-attr]  # only sockets are registered

    # -- one connection ------------------------------------------------------------------
    def _sni_callback(self, sslsock: ssl.SSLSocket | ssl.SSLObject, server_name: str | None, _ctx: ssl.SSLContext) -> int | None:
        with self._lock:
            conn = self._conns.get(id(sslsock))
        if conn is None:
            return ssl.ALERT_DESCRIPTION_INTERNAL_ERROR
        result = self.matcher.match_server(conn.spec.key_ip, conn.spec.key_port, server_name)
        conn.result = result
        if result.outcome != SELECTED or result.domain is None:
            return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
        if result.domain is not conn.initial:
            self._switch(sslsock, conn, result.domain, self.contexts[result.domain.key])
        return None

    def _switch(self, sslsock: ssl.SSLSocket | ssl.SSLObject, conn: _Conn, domain: TlsDomain | None,
                context: ssl.SSLContext | None = None) -> None:
        """``SSL_set_SSL_CTX`` to ``domain``'s context (certificate, key, CA store; the
        protocol bounds and ciphers stay the initial domain's) and, from 3.6.8, its verify mode."""
        if domain is None:
            return
        chosen = context or self._plain_context(domain)
        sslsock.context = chosen
        if self.sni_applies_verify:
            conn.verify_applied = set_verify_mode(sslsock, chosen.verify_mode)

    def _plain_context(self, domain: TlsDomain) -> ssl.SSLContext:
        """``domain``'s context without the SNI callback, built once, for connections whose
        domain was chosen before the handshake (:meth:`_select_early`)."""
        with self._lock:
            context = self._plain.get(domain.key)
            if context is None:
                context = self._plain[domain.key] = build_context(domain)
            return context

    def _select_early(self, conn: socket.socket, state: _Conn) -> ssl.SSLContext | None | Literal[False]:
        """Select the domain before the handshake when the ClientHello's server_name holds
        a byte >= 0x80, which CPython would not hand to the SNI callback
        (``core.tls.clienthello``). None: leave it to the SNI callback (every other
        ClientHello); a context (without SNI callback) to start the handshake with; False:
        no domain for that name, alert unrecognized_name sent (like the callback's)."""
        found = self._peek_hello(conn)
        if found is None or not clienthello.needs_early_selection(found[0]):
            return None
        name, record_bytes = found
        assert isinstance(name, bytes)
        sni = name.decode("ascii", "surrogateescape")  # the bytes as OpenSSL hands them to OpenSIPS
        result = self.matcher.match_server(state.spec.key_ip, state.spec.key_port, sni)
        state.result = result
        if result.outcome != SELECTED or result.domain is None:
            conn.recv(record_bytes)  # the ClientHello, so that closing sends FIN, not RST
            conn.sendall(_ALERT_UNRECOGNIZED_NAME)
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_WR)
            return False
        return self._plain_context(state.initial)

    def _peek_hello(self, conn: socket.socket) -> tuple[bytes | None | str, int] | None:
        """The ClientHello's server_name and the size of its record, peeked (nothing is
        consumed); None when the first record is not a ClientHello this parser reads with
        certainty. Bounded: :data:`clienthello.MAX_HELLO_BYTES`, :data:`HANDSHAKE_TIMEOUT`."""
        deadline = time.monotonic() + HANDSHAKE_TIMEOUT
        pause = 0.005
        while True:
            data = conn.recv(clienthello.MAX_HELLO_BYTES, socket.MSG_PEEK)
            if not data:
                return None  # EOF: OpenSSL reports it
            found = clienthello.server_name(data)
            if found == clienthello.UNKNOWN:
                return None
            if found != clienthello.INCOMPLETE:
                return found, clienthello.record_length(data) or 0
            if time.monotonic() + pause > deadline:
                raise TimeoutError
            if self._stop.wait(pause):
                return None
            pause = min(pause * 2, 0.25)

    def _handle(self, conn: socket.socket, peer: tuple[Any, ...], spec: ListenerSpec) -> None:
        """Serve one accepted connection and emit its record. Whatever happens is recorded:
        nothing escapes to the thread (a client resetting at once, an odd certificate)."""
        started = time.monotonic()
        record: Record = {"event": "connection", "listener": spec.key_text, "client": socket_text(peer[0], peer[1]),
                          "outcome": None, "domain": None, "initial_domain": None, "sni": None,
                          "tls_version": None, "cipher": None, "vars": {}, "error": None, "notes": []}
        sslsock: ssl.SSLSocket | None = None
        emitted = False
        try:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            initial = self.matcher.match_server(spec.key_ip, spec.key_port, None)
            if initial.outcome == DROPPED or initial.initial is None:
                record.update(outcome=DROPPED, error="no TLS server domain found (TCP accepted, no TLS answer)")
                self._emit(record, started)
                emitted = True
                _hold_silently(conn, self._stop)
                return
            record["initial_domain"] = initial.initial.name
            conn.settimeout(HANDSHAKE_TIMEOUT)
            state = _Conn(spec, initial.initial)
            early = self._select_early(conn, state)
            if early is False:  # refused with alert unrecognized_name before any handshake
                self._describe_selection(record, state)
                self._emit(record, started)
                emitted = True
                return
            context = self.contexts[initial.initial.key] if early is None else early
            sslsock = context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
            if early is not None and state.result is not None and state.result.domain is not initial.initial:
                self._switch(sslsock, state, state.result.domain)
            with self._lock:
                self._conns[id(sslsock)] = state
            try:
                sslsock.do_handshake()
            finally:
                with self._lock:
                    self._conns.pop(id(sslsock), None)
                self._describe_selection(record, state)
            self._describe_tls(record, sslsock, state)
            if record["error"] is None:
                self._emit(record, started)
                emitted = True
                _answer_sip(sslsock, self._stop)
                return
        except ssl.SSLError as err:
            if record["outcome"] in (None, SELECTED):
                record["outcome"] = "failed"
            record["error"] = record["error"] or describe_ssl_error(err)
        except (TimeoutError, socket.timeout):
            record.update(outcome=record["outcome"] or "failed", error="TLS handshake timed out")
        except OSError as err:
            record.update(outcome=record["outcome"] or "failed", error=f"connection error: {err.strerror or err}")
        except Exception as err:  # noqa: BLE001 - one connection's bug must not kill the server
            if not emitted:  # a record once emitted is final: the connection just ends
                record.update(outcome="failed", error=f"internal error: {type(err).__name__}: {err}")
        finally:
            for closable in (sslsock, conn):
                if closable is not None:
                    closable.close()
        if not emitted:
            self._emit(record, started)

    @staticmethod
    def _describe_selection(record: Record, state: _Conn) -> None:
        result = state.result
        if result is None:
            return
        record["sni"] = result.sni
        record["outcome"] = result.outcome
        record["domain"] = result.domain.name if result.domain else None
        if result.outcome != SELECTED:
            record["error"] = result.rule
        record["notes"].extend(result.notes)
        chosen = result.domain
        if state.verify_applied is False and chosen is not None and \
                (chosen.eff_verify_cert, chosen.eff_require_cert) != \
                (state.initial.eff_verify_cert, state.initial.eff_require_cert):
            record["notes"].append(
                f"tlsmgm limitation: the verify_cert/require_cert of the initial domain "
                f"[{state.initial.name}] applied, OpenSIPS 3.6.8 applies those of [{chosen.name}]")

    @staticmethod
    def _describe_tls(record: Record, sslsock: ssl.SSLSocket, state: _Conn) -> None:
        conn_vars = connection_vars(sslsock)
        record["tls_version"] = conn_vars["tls_version"]
        record["cipher"] = conn_vars["tls_cipher_info"]
        leaf = sslsock.getpeercert(binary_form=True)
        length = verified_chain_length(sslsock) if leaf else None
        if length is not None and chain_too_long(length):
            record.update(outcome="failed", error="certificate verify failed: certificate chain too long "
                                                  "(verify depth 3, X509 error 22)")
            return
        # an established connection with a peer certificate passed OpenSSL's verification
        record["vars"] = {**conn_vars, **(cert_vars(leaf, PEER, 0) if leaf else no_cert_vars(PEER))}

    def _emit(self, record: Record, started: float) -> None:
        record["seconds"] = round(time.monotonic() - started, 6)
        self.on_record(record)


def _hold_silently(conn: socket.socket, stop: threading.Event) -> None:
    """Keep an accepted TCP connection open without a byte sent, until the client gives
    up, tlsmgm stops, or :data:`DROP_HOLD_SECONDS` pass."""
    deadline = time.monotonic() + DROP_HOLD_SECONDS
    conn.settimeout(0.2)
    try:
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                if not conn.recv(4096):
                    break
            except (TimeoutError, socket.timeout):
                continue
    except OSError:
        pass
    finally:
        conn.close()


def _answer_sip(sslsock: ssl.SSLSocket, stop: threading.Event) -> None:
    """Answer SIP OPTIONS with 200 OK (others with 405) until EOF, idle timeout or stop."""
    buf = b""
    sslsock.settimeout(0.5)
    idle_until = time.monotonic() + IDLE_TIMEOUT
    try:
        while not stop.is_set() and time.monotonic() < idle_until:
            try:
                data = sslsock.recv(4096)
            except (TimeoutError, socket.timeout):
                continue
            if not data:
                return
            idle_until = time.monotonic() + IDLE_TIMEOUT
            buf += data
            while b"\r\n\r\n" in buf:
                head, _, buf = buf.partition(b"\r\n\r\n")
                reply = sip_reply(head.decode("utf-8", "replace"))
                if reply:
                    sslsock.sendall(reply.encode())
            if len(buf) > MAX_SIP_MESSAGE:
                return
    except (ssl.SSLError, OSError):
        return


def sip_reply(head: str) -> str | None:
    """The reply to one SIP request head: ``200 OK`` for OPTIONS, ``405`` for any other
    request (Via, From, To, Call-ID, CSeq copied); None for responses and garbage."""
    lines = head.lstrip("\r\n").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("SIP/"):
        return None
    status = "200 OK" if parts[0] == "OPTIONS" else "405 Method Not Allowed"
    copied = [line for line in lines[1:] if line.split(":", 1)[0].strip().lower() in _COPIED_HEADERS]
    extra = ["Allow: OPTIONS", "Server: tlsmgm serve", "Content-Length: 0"]
    return "\r\n".join([f"SIP/2.0 {status}", *copied, *extra]) + "\r\n\r\n"


def plan_listeners(domset: DomainSet, listen: list[str]) -> tuple[list[ListenerSpec], list[str]]:
    """The sockets to open, and warnings for listeners that cannot be served.

    Without ``listen``: every TLS listener of the config, bound to 127.0.0.1 on its port
    but keyed on its configured address. Each ``listen`` item is ``BIND`` (bind there and
    key on that same address) or ``KEY=BIND`` (key on the configured listener ``KEY``,
    bind to ``BIND``); port 0 in ``BIND`` picks a free port."""
    from tlsmgm_cli.core.matching.matcher import tls_listeners
    from tlsmgm_cli.core.net.addresses import parse_hostport

    specs: list[ListenerSpec] = []
    warnings: list[str] = []
    if listen:
        for item in listen:
            key_text, _, bind_text = item.rpartition("=")
            bind_ip, bind_port = _bind_address(bind_text)
            key_ip, key_port = parse_hostport(key_text, what="--listen") if key_text else (bind_ip, bind_port)
            specs.append(ListenerSpec(key_ip, key_port, bind_ip, bind_port))
        return specs, warnings
    if domset.config is None:
        raise UsageError("no TLS listener to serve: give --listen IP:PORT")
    for lst in tls_listeners(domset.config):
        if lst.ip is None or lst.port is None:
            warnings.append(f"{lst.loc}: {lst.text}: not served: {lst.skip}")
            continue
        specs.append(ListenerSpec(lst.ip, lst.port, "127.0.0.1", lst.port))
    if not specs:
        raise UsageError("the config has no TLS listener (socket=tls:...) tlsmgm can serve: "
                         "give --listen IP:PORT")
    return specs, warnings


def _bind_address(text: str) -> tuple[str, int]:
    """``IP:PORT`` to bind; port 0 allowed (any free port)."""
    from tlsmgm_cli.core.net.addresses import parse_hostport

    return parse_hostport(text, what="--listen", allow_port_zero=True)

