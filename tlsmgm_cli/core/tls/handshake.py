"""One real TLS handshake as OpenSIPS's client side would make it (``tlsmgm handshake``).

:class:`ClientEndpoint` holds a client domain's context (``core.tls.context``) and its
``$tls_my_*`` values; :func:`run_handshake` connects to a resolved address, shakes hands
(no SNI unless asked: OpenSIPS sends none; an SNI asked for is sent byte for byte, IP
literals included, see :func:`sni_problem`), and returns a :class:`HandshakeResult` with
the connection's ``$tls_*`` variables, the chain the peer presented and, optionally,
the status line of the reply to a SIP OPTIONS sent over the connection. Failures are
results too (``connected=False``, ``error`` in words), never exceptions.

How the values are obtained with the stdlib (Python 3.11+):

* **presented chain**: ``SSLSocket.get_unverified_chain()`` on 3.13+, else the same
  method of the underlying ``_ssl._SSLSocket`` (present since 3.10, only private);
  if neither exists, the leaf from ``getpeercert(binary_form=True)``.
* **verify result** (``SSL_get_verify_result`` is not exposed): with ``verify_cert=1``
  an established connection means OpenSSL returned ``X509_V_OK`` and a failure carries
  ``verify_code``; with ``verify_cert=0`` OpenSSL still evaluates the chain without
  enforcing it, and ``core.x509.verify`` computes that code from the presented chain and the
  domain's trust store. The depth-3 limit is checked on the verified chain.
* **TLS 1.3**: the server checks the client certificate (or its absence) *after* the
  client considers the handshake done. Unless ``--sip-options`` reads a reply anyway,
  the first record the server sends (a session ticket or an alert) is awaited for at
  most :data:`SETTLE_SECONDS`, so that a rejection is not reported as success.
"""

from __future__ import annotations

import functools
import os
import re
import select
import socket
import ssl
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tlsmgm_cli.core.domain import TlsDomain
from tlsmgm_cli.core.errors import TlsmgmError
from tlsmgm_cli.core.limits import SIP_PROVISIONAL_MAX, SIP_READ_LIMIT
from tlsmgm_cli.core.net.addresses import parse_hostport, socket_text
from tlsmgm_cli.core.tls.context import build_context, chain_too_long, local_certificate_der
from tlsmgm_cli.core.x509.tlsvars import (
    MY,
    PEER,
    asn1_time_print,
    cert_vars,
    connection_vars,
    name_oneline,
    no_cert_vars,
    parse_tbs,
)

if TYPE_CHECKING:  # imported lazily at run time (cryptography)
    from tlsmgm_cli.core.x509.verify import TrustStore, VerifyResult

SETTLE_SECONDS = 0.5
X509_V_ERR_CERT_CHAIN_TOO_LONG = 22
#: bytes of SIP messages read while waiting for the final reply to --sip-options' OPTIONS
#: provisional replies (and peer requests) read while waiting for that final reply

# TLS alert descriptions (RFC 8446 §6 and earlier), by name
ALERTS = {
    "close_notify": 0, "unexpected_message": 10, "bad_record_mac": 20, "decryption_failed": 21,
    "record_overflow": 22, "decompression_failure": 30, "handshake_failure": 40, "no_certificate": 41,
    "bad_certificate": 42, "unsupported_certificate": 43, "certificate_revoked": 44,
    "certificate_expired": 45, "certificate_unknown": 46, "illegal_parameter": 47, "unknown_ca": 48,
    "access_denied": 49, "decode_error": 50, "decrypt_error": 51, "export_restriction": 60,
    "protocol_version": 70, "insufficient_security": 71, "internal_error": 80,
    "inappropriate_fallback": 86, "user_canceled": 90, "no_renegotiation": 100,
    "missing_extension": 109, "unsupported_extension": 110, "certificate_unobtainable": 111,
    "unrecognized_name": 112, "bad_certificate_status_response": 113, "bad_certificate_hash_value": 114,
    "unknown_psk_identity": 115, "certificate_required": 116, "no_application_protocol": 120,
}
# OpenSSL reason codes of a received alert: SSLV3_ALERT_X, TLSV1_ALERT_X, TLSV13_ALERT_X, TLSV1_X
_ALERT_PREFIXES = ("SSLV3_ALERT_", "TLSV13_ALERT_", "TLSV1_ALERT_", "TLSV1_")


class HandshakeFailure(Exception):
    """A failure before any TLS byte was exchanged (resolution); ``str()`` is the message."""


@dataclass(slots=True)
class HandshakeResult:
    """What one connection attempt showed. ``vars`` maps ``$tls_*`` names (without ``$``)
    to values (``None`` = NULL); empty when the handshake did not complete."""

    target: str
    address: str | None = None
    domain: str | None = None
    sni: str | None = None
    connected: bool = False
    vars: dict[str, str | None] = field(default_factory=dict)
    chain: list[dict[str, Any]] = field(default_factory=list)
    verify: dict[str, Any] | None = None
    sip_reply: str | None = None
    error: str | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    handshake_seconds: float | None = None  # connect + TLS handshake, when it completed
    sip_seconds: float | None = None  # waiting for the SIP reply (--sip-options)

    def to_dict(self) -> dict[str, Any]:
        return {
            "connected": self.connected, "domain": self.domain, "vars": self.vars, "chain": self.chain,
            "error": self.error, "target": self.target, "address": self.address, "sni": self.sni,
            "verify": self.verify, "sip_reply": self.sip_reply, "seconds": round(self.seconds, 6),
            "notes": self.notes,
            "handshake_seconds": None if self.handshake_seconds is None else round(self.handshake_seconds, 6),
            "sip_seconds": None if self.sip_seconds is None else round(self.sip_seconds, 6),
        }


class ClientEndpoint:
    """A client domain ready to connect: its SSL context and its ``$tls_my_*`` values."""

    def __init__(self, domain: TlsDomain):
        self.domain = domain
        self.context = build_context(domain)
        der = local_certificate_der(domain)
        self.my_vars = cert_vars(der, MY) if der is not None else no_cert_vars(MY)
        self._store: TrustStore | None = None

    def evaluate(self, presented: list[bytes]) -> VerifyResult:
        """The verify result OpenSSL stores when it does not enforce it (verify_cert=0)."""
        from cryptography import x509

        from tlsmgm_cli.core.x509.truststore import domain_trust_store
        from tlsmgm_cli.core.x509.verify import PURPOSE_SSL_SERVER, verify_peer

        if self._store is None:
            self._store = domain_trust_store(self.domain)
        certs = [x509.load_der_x509_certificate(der) for der in presented]
        return verify_peer(certs, self._store, purpose=PURPOSE_SSL_SERVER)


# ---- addresses ---------------------------------------------------------------------------
def split_target(text: str) -> tuple[str, int]:
    """``HOST:PORT`` / ``[IPv6]:PORT`` -> (host, port); ValueError with a usage message."""
    try:
        return parse_hostport(text, what="", allow_hostname=True)
    except TlsmgmError as err:
        raise ValueError(str(err)) from None


def resolve(host: str, port: int) -> tuple[int, str]:
    """(address family, IP) of ``host`` (first result, like OpenSIPS's resolver)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        raise HandshakeFailure(f"cannot resolve '{host}': {err.strerror or err}") from None
    family, _type, _proto, _name, sockaddr = infos[0]
    return family, str(sockaddr[0])


# ---- failures in words -------------------------------------------------------------------
def alert_name(reason: str | None) -> str | None:
    """The TLS alert a received-alert reason code names (``TLSV1_UNRECOGNIZED_NAME`` ->
    ``unrecognized_name``), else None."""
    if not reason:
        return None
    for prefix in _ALERT_PREFIXES:
        if reason.startswith(prefix):
            name = reason[len(prefix):].lower()
            if name in ALERTS:
                return name
    return None


def describe_ssl_error(err: ssl.SSLError) -> str:
    """A TLS failure in words: the alert the peer sent, a verify error, or a local cause."""
    if isinstance(err, ssl.SSLCertVerificationError):
        return f"certificate verify failed: {err.verify_message} (X509 error {err.verify_code})"
    alert = alert_name(err.reason)
    if alert:
        return f"the peer sent TLS alert {alert} ({ALERTS[alert]})"
    if isinstance(err, (ssl.SSLEOFError, ssl.SSLZeroReturnError)):
        return "the peer closed the connection during the TLS handshake"
    if err.reason:
        return "TLS error: " + err.reason.lower().replace("_", " ")
    return f"TLS error: {err}"


# ---- the chain ---------------------------------------------------------------------------
def presented_chain(sock: ssl.SSLSocket) -> list[bytes]:
    """DER of every certificate the peer sent, leaf first (see the module docstring)."""
    public = getattr(sock, "get_unverified_chain", None)
    if public is not None:
        return [bytes(c) for c in public() or []]
    private = getattr(getattr(sock, "_sslobj", None), "get_unverified_chain", None)
    if private is not None:
        # ssl._ssl (the C module) is not in typeshed; this path serves Python < 3.13 only
        return [c.public_bytes(ssl._ssl.ENCODING_DER) for c in private() or []]  # type: ignore[attr-defined]
    leaf = sock.getpeercert(binary_form=True)
    return [leaf] if leaf else []


def verified_chain_length(sock: ssl.SSLSocket) -> int | None:
    getter = getattr(sock, "get_verified_chain", None) or \
        getattr(getattr(sock, "_sslobj", None), "get_verified_chain", None)
    if getter is None:
        return None
    return len(getter() or [])


@functools.lru_cache(maxsize=64)
def _chain_entry(der: bytes) -> tuple[tuple[str, Any], ...]:
    raw = parse_tbs(der)
    return (("subject", name_oneline(raw.subject)), ("issuer", name_oneline(raw.issuer)),
            ("serial", format(raw.serial, "X")), ("notBefore", asn1_time_print(*raw.not_before)),
            ("notAfter", asn1_time_print(*raw.not_after)))


def chain_entry(der: bytes) -> dict[str, Any]:
    """Subject, issuer (X509_NAME_oneline), serial (hex) and validity of one certificate
    (cached per DER: --repeat sees the same certificates every time)."""
    return dict(_chain_entry(der))


@functools.lru_cache(maxsize=64)
def _peer_vars(der: bytes, code: int | None) -> tuple[tuple[str, str | None], ...]:
    return tuple(cert_vars(der, PEER, code).items())


# ---- SIP ---------------------------------------------------------------------------------
def options_request(host: str, local: tuple[str, int]) -> bytes:
    """A minimal SIP OPTIONS request for sending over the TLS connection."""
    token = os.urandom(8).hex()
    lhost = f"[{local[0]}]" if ":" in local[0] else local[0]
    lines = [
        f"OPTIONS sip:{host} SIP/2.0",
        f"Via: SIP/2.0/TLS {lhost}:{local[1]};branch=z9hG4bK{token};rport",
        "Max-Forwards: 70",
        f"From: <sip:tlsmgm@{lhost}>;tag={token[:8]}",
        f"To: <sip:{host}>",
        f"Call-ID: {token}@{lhost}",
        "CSeq: 1 OPTIONS",
        f"Contact: <sip:tlsmgm@{lhost}:{local[1]};transport=tls>",
        "Accept: application/sdp",
        "User-Agent: tlsmgm",
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class SipGaveUp(Exception):
    """The SIP exchange ended without a final reply for a reason other than EOF or the
    deadline (too many provisional replies, too many bytes, a malformed reply);
    ``str()`` says why."""


class SipDeadline(TimeoutError):
    """The deadline passed before a final SIP reply; ``messages`` provisional replies
    (or peer requests) had come by then."""

    def __init__(self, messages: int):
        super().__init__(f"no final SIP reply before the deadline ({messages} provisional)")
        self.messages = messages


_STATUS_LINE = re.compile(rb"SIP/2\.0 ([0-9]{3})(?: |$)")
_REQUEST_LINE = re.compile(rb"[A-Za-z]+ \S+ SIP/2\.0$")
_CONTENT_LENGTH = re.compile(rb"^(?:content-length|l)[ \t]*:[ \t]*([0-9]{1,9})[ \t]*\r?$",
                             re.IGNORECASE | re.MULTILINE)


def _shown_line(line: bytes) -> str:
    """A peer's line for a message: at most 80 characters, undecodable bytes escaped."""
    text = line[:80].decode("utf-8", "backslashreplace")
    return text + ("..." if len(line) > 80 else "")


def read_final_status(sock: ssl.SSLSocket, deadline: float) -> str | None:
    """The status line of the first final (>= 200) SIP response; None on EOF.

    The whole exchange is bounded: ``TimeoutError`` once ``deadline`` has passed (also
    while the peer keeps sending), :class:`SipGaveUp` after :data:`SIP_PROVISIONAL_MAX`
    messages or :data:`SIP_READ_LIMIT` bytes without a final reply, or when a message is
    not a SIP status line (a status code must be three ASCII digits: ``SIP/2.0 ²00 OK``
    is malformed, not 200). A request the peer sends meanwhile is skipped (it counts
    against the limits); the body of a provisional reply is skipped by its Content-Length.
    """
    buf = b""
    total = 0
    messages = 0
    skip = 0  # body bytes of the last message still to be skipped
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:  # a peer that keeps sending never lets recv time out
            raise SipDeadline(messages)
        sock.settimeout(remaining)
        try:
            data = sock.recv(4096)
        except (TimeoutError, socket.timeout):
            raise SipDeadline(messages) from None
        if not data:
            return None
        total += len(data)
        buf += data
        while True:
            if skip:
                dropped = min(skip, len(buf))
                buf, skip = buf[dropped:], skip - dropped
                if skip:
                    break
            buf = buf.lstrip(b"\r\n")  # CRLF keep-alives (RFC 5626) between messages
            head, found, rest = buf.partition(b"\r\n\r\n")
            if not found:
                break
            buf = rest
            first = head.split(b"\r\n", 1)[0]
            status = _STATUS_LINE.match(first)
            if status is None and not _REQUEST_LINE.match(first):
                raise SipGaveUp(f"the reply to the SIP OPTIONS is malformed: '{_shown_line(first)}' is not a "
                                "SIP status line (SIP/2.0 and a three-digit code)")
            if status is not None and int(status.group(1)) >= 200:
                return first.decode("utf-8", "replace")
            messages += 1
            if messages >= SIP_PROVISIONAL_MAX:
                raise SipGaveUp(f"the peer sent {messages} provisional replies (or requests) and no final "
                                f"reply to the SIP OPTIONS; gave up (at most {SIP_PROVISIONAL_MAX} are read)")
            length = _CONTENT_LENGTH.search(head)
            skip = int(length.group(1)) if length else 0
        if total > SIP_READ_LIMIT:
            raise SipGaveUp(f"the peer sent {total} bytes without a final reply to the SIP OPTIONS; gave up "
                            f"(at most {SIP_READ_LIMIT // 1024} KiB are read)")


# ---- SNI ---------------------------------------------------------------------------------
def stdlib_sends_exactly(sni: str) -> bool:
    """Whether ``server_hostname=sni`` puts exactly ``sni`` on the wire: not for IP
    literals (no SNI at all, RFC 6066), nor names the IDNA codec rewrites or refuses."""
    import ipaddress

    if not sni.isascii() or sni.startswith(".") or any(ord(c) < 0x21 or c == "\x7f" for c in sni):
        return False
    try:
        ipaddress.ip_address(sni.split("%", 1)[0])
        return False
    except ValueError:
        pass
    if all(part.isdigit() for part in sni.split(".")):  # OpenSSL's a2i_IPADDRESS reads "127.000.0.1" too
        return False
    try:
        return sni.encode("idna") == sni.encode("ascii")
    except UnicodeError:
        return False


def sni_problem(sni: str) -> str | None:
    """Why ``sni`` cannot be sent as the ClientHello's server_name (None: it can, exactly
    as given, UTF-8 encoded, as ``openssl s_client -servername`` sends it)."""
    from tlsmgm_cli.core.tls.sslverify import TLSEXT_MAXLEN_host_name, can_set_sni

    raw = sni.encode("utf-8", "surrogateescape")
    if not raw:
        return "an empty SNI cannot be sent (OpenSSL refuses a server_name of length 0); omit --sni to send none"
    if b"\0" in raw:
        return "an SNI holding a NUL character cannot be sent (OpenSSL takes the name as a C string)"
    if len(raw) > TLSEXT_MAXLEN_host_name:
        return f"an SNI of {len(raw)} bytes cannot be sent (OpenSSL's limit is {TLSEXT_MAXLEN_host_name} bytes)"
    if not can_set_sni() and not stdlib_sends_exactly(sni):
        return ("this Python's ssl module cannot send this SNI as given (it sends no SNI for an IP literal "
                "and IDNA-encodes other names), and libssl could not be reached to set it directly")
    return None


def _send_sni(sock: ssl.SSLSocket, sni: str) -> bool:
    """Put exactly ``sni`` into the ClientHello (before ``do_handshake``)."""
    from tlsmgm_cli.core.tls.sslverify import set_sni

    return set_sni(sock, sni.encode("utf-8", "surrogateescape"))


# ---- the handshake -----------------------------------------------------------------------
def _settle(sock: ssl.SSLSocket, deadline: float, result: HandshakeResult) -> None:
    """TLS 1.3: wait for the server's first post-handshake record (ticket or alert)."""
    wait = min(SETTLE_SECONDS, deadline - time.monotonic())
    if wait <= 0 or not select.select([sock], [], [], wait)[0]:
        result.notes.append(f"TLS 1.3: the server sent nothing within {wait:.2f} s after the handshake; "
                            "assuming it accepted the client side (use --sip-options to be sure)")
        return
    sock.setblocking(False)
    try:
        sock.recv(1)
    except ssl.SSLWantReadError:
        pass  # a session ticket: the server accepted us
    finally:
        sock.setblocking(True)


def _verify_code(endpoint: ClientEndpoint, sock: ssl.SSLSocket, presented: list[bytes],
                 result: HandshakeResult) -> int | None:
    """The verify result OpenSSL would hold for this connection (None: no peer cert)."""
    if not presented:
        return None
    if endpoint.domain.eff_verify_cert:
        length = verified_chain_length(sock)
        if length is not None and chain_too_long(length):
            return X509_V_ERR_CERT_CHAIN_TOO_LONG
        result.verify = {"code": 0, "text": "ok", "depth": 0, "enforced": True}
        return 0
    evaluated = endpoint.evaluate(presented)
    result.verify = {**evaluated.to_dict(), "enforced": False}
    return evaluated.code


def run_handshake(endpoint: ClientEndpoint, ip: str, port: int, *, target: str, sni: str | None = None,
                  timeout: float = 5.0, sip_options: bool = False, sip_host: str | None = None
                  ) -> HandshakeResult:
    """Connect to ``ip:port`` and shake hands with ``endpoint``'s settings; everything
    (connect, handshake, settle, OPTIONS) within ``timeout`` seconds."""
    started = time.monotonic()
    deadline = started + timeout
    result = HandshakeResult(target=target, address=socket_text(ip, port), domain=endpoint.domain.name,
                             sni=sni)
    raw: socket.socket | None = None
    sock: ssl.SSLSocket | None = None
    stage = "connecting to"
    try:
        raw = socket.create_connection((ip, port), timeout=timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        stage = "TLS handshake with"
        raw.settimeout(max(deadline - time.monotonic(), 0.001))
        exact = sni is not None and stdlib_sends_exactly(sni)
        sock = endpoint.context.wrap_socket(raw, server_hostname=sni if exact else None,
                                            do_handshake_on_connect=False)
        if sni is not None and not exact and not _send_sni(sock, sni):
            result.sni = None
            raise _Unsendable(f"the SNI {sni!r} could not be set on the connection (libssl refused it); "
                              "nothing was sent")
        sock.do_handshake()
        result.handshake_seconds = time.monotonic() - started
        presented = presented_chain(sock)
        code = _verify_code(endpoint, sock, presented, result)
        if code == X509_V_ERR_CERT_CHAIN_TOO_LONG and endpoint.domain.eff_verify_cert:
            result.verify = {"code": code, "text": "certificate chain too long", "depth": 4, "enforced": True}
            raise _Rejected("certificate verify failed: certificate chain too long (verify depth 3, "
                            "X509 error 22)")
        if sock.version() == "TLSv1.3" and not sip_options:
            stage = "waiting for the server's answer to the handshake from"
            _settle(sock, deadline, result)
        result.chain = [chain_entry(der) for der in presented]
        result.vars = dict(connection_vars(sock))
        result.vars.update(_peer_vars(presented[0], code) if presented else no_cert_vars(PEER))
        result.vars.update(endpoint.my_vars)
        result.connected = True
        if sip_options:
            stage = "waiting for the SIP reply from"
            sip_started = time.monotonic()
            try:
                sock.settimeout(max(deadline - time.monotonic(), 0.001))
                sock.sendall(options_request(sip_host or ip, sock.getsockname()[:2]))
                result.sip_reply = read_final_status(sock, deadline)
            finally:
                result.sip_seconds = time.monotonic() - sip_started
            if result.sip_reply is None:
                result.error = "the peer closed the connection without answering the SIP OPTIONS"
    except (_Rejected, _Unsendable, SipGaveUp) as err:
        result.error = str(err)
    except ssl.SSLError as err:
        result.connected = False
        result.error = describe_ssl_error(err)
        if isinstance(err, ssl.SSLCertVerificationError):
            result.verify = {"code": err.verify_code, "text": err.verify_message, "depth": None,
                             "enforced": True}
            if sock is not None:  # OpenSSL keeps the chain it rejected
                result.chain = [chain_entry(der) for der in presented_chain(sock)]
    except (TimeoutError, socket.timeout) as err:
        result.connected = result.connected and stage == "waiting for the SIP reply from"
        if stage == "connecting to":
            result.error = f"timed out connecting to {result.address} after {timeout:g} s"
        elif stage == "TLS handshake with":
            result.error = (f"no TLS answer from {result.address} within {timeout:g} s (TCP was "
                            "accepted; OpenSIPS behaves so when no server domain covers the listener)")
        elif stage == "waiting for the SIP reply from":
            provisional = err.messages if isinstance(err, SipDeadline) else 0
            what, came = ("final SIP reply", f"only {provisional} provisional replies came; ") if provisional \
                else ("SIP reply", "")
            result.error = (f"no {what} to the OPTIONS from {result.address} within "
                            f"{result.sip_seconds or 0:.3f} s ({came}the TLS handshake itself completed in "
                            f"{result.handshake_seconds or 0:.3f} s; --timeout {timeout:g} s covers both)")
        else:
            result.error = f"timed out {stage} {result.address} after {timeout:g} s"
    except ConnectionRefusedError:
        result.error = f"connection refused by {result.address}"
    except (ConnectionResetError, BrokenPipeError):
        result.connected = False
        result.error = f"connection reset by {result.address} ({stage.split(' ')[0]} stage)"
    except OSError as err:
        result.connected = False
        result.error = f"{stage} {result.address} failed: {err.strerror or err}"
    finally:
        for closable in (sock, raw):
            if closable is not None:
                closable.close()
        result.seconds = time.monotonic() - started
    return result


class _Rejected(Exception):
    """The handshake completed but OpenSSL (with its depth limit) would have failed it."""



class _Unsendable(Exception):
    """The SNI asked for could not be put on the wire: nothing was sent."""
