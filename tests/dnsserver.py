"""A tiny authoritative DNS responder on 127.0.0.1 for the tests (never the public internet).

    with DnsServer({"example.com": {"NAPTR": ['10 0 "s" "SIPS+D2T" "" _sips._tcp.example.com.'],
                                    "A": ["192.0.2.1"]},
                    "_sips._tcp.example.com": {"SRV": ["0 0 5061 sip1.example.com."]}}) as dns:
        resolve_sip_destination("sips:example.com", resolver_address=dns.address)

The zone maps a name (no trailing dot needed, any case) to {record type: [rdata text]}
(dnspython's presentation format). A name not in the zone gets NXDOMAIN; a name without the
asked type gets an empty NOERROR answer. ``silent=True`` answers nothing (a dead server);
``servfail`` names get SERVFAIL. ``queries`` lists the (name, type) asked, in order.
It serves UDP on a random free port, in a thread, until ``stop()`` (or the ``with`` ends).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterable, Mapping
from types import TracebackType

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset


def _key(name: str) -> str:
    return name.lower().rstrip(".")


class DnsServer:
    def __init__(self, zone: Mapping[str, Mapping[str, Iterable[str]]], *, silent: bool = False,
                 servfail: Iterable[str] = (), ttl: int = 60):
        self.zone = {_key(n): {t.upper(): list(v) for t, v in types.items()} for n, types in zone.items()}
        self.silent = silent
        self.servfail = {_key(n) for n in servfail}
        self.ttl = ttl
        self.queries: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.05)
        self.port = self._sock.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._serve, name="test-dns", daemon=True)

    def start(self) -> DnsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        self._sock.close()

    def __enter__(self) -> DnsServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def asked(self, rdtype: str) -> list[str]:
        """The names queried with type ``rdtype``, in order."""
        with self._lock:
            return [n for n, t in self.queries if t == rdtype]

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                wire, peer = self._sock.recvfrom(65535)
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            try:
                reply = self._answer(wire)
            except Exception:  # a malformed query: no answer, as a real server might do
                continue
            if reply is not None:
                try:
                    self._sock.sendto(reply, peer)
                except OSError:
                    pass

    def _answer(self, wire: bytes) -> bytes | None:
        query = dns.message.from_wire(wire)
        question = query.question[0]
        name = _key(question.name.to_text())
        rdtype = dns.rdatatype.to_text(question.rdtype)
        with self._lock:
            self.queries.append((name, rdtype))
        if self.silent:
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if name in self.servfail:
            response.set_rcode(dns.rcode.SERVFAIL)
        elif name not in self.zone:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif self.zone[name].get(rdtype):
            response.answer.append(dns.rrset.from_text_list(
                question.name, self.ttl, dns.rdataclass.IN, question.rdtype, self.zone[name][rdtype]))
        return response.to_wire(max_size=65535, want_shuffle=False)  # answer order as written
