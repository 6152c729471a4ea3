"""The certificate chain a live TLS server presents (``inspect HOST:PORT``): one
handshake through ``core.tls.probe``, nothing verified, the SNI sent as given
(behaviour §6.12 for the client side of a handshake)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

from tlsmgm_cli.core.errors import TlsmgmError


def openssl_live_command(host: str, port: int, sni: str | None, index: int = 0) -> str:
    """The ``openssl s_client`` command fetching the same chain (the same SNI, or none)."""
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    name = f"-servername {shlex.quote(sni)}" if sni is not None else "-noservername"
    command = (f"openssl s_client -connect {shlex.quote(target)} {name} -showcerts </dev/null "
               "| openssl x509 -noout -subject -issuer -serial -dates -nameopt compat")
    if index:
        command += f"  # reads only the first certificate; this is certificate #{index}"
    return command


class LiveChainError(TlsmgmError):
    """A server's chain could not be fetched; ``str()`` is the one-line reason."""


@dataclass(slots=True)
class LiveChain:
    """What one handshake showed: the address connected to, the TLS version, and the
    certificates presented (``certload.LoadedCert``, leaf first)."""

    address: str
    version: str | None
    certs: list[Any] = field(default_factory=list)


def resolve_within(host: str, port: int, timeout: float) -> str:
    """The IP ``host`` resolves to (first answer, as ``handshake`` takes it), within
    ``timeout`` seconds (getaddrinfo cannot be interrupted: it runs in a daemon thread)."""
    import threading

    from tlsmgm_cli.core.tls.handshake import HandshakeFailure, resolve

    answer: list[str | Exception] = []

    def work() -> None:
        try:
            answer.append(resolve(host, port)[1])
        except HandshakeFailure as err:
            answer.append(LiveChainError(str(err)))
        except (UnicodeError, ValueError, OSError) as err:  # IDNA refusals, NUL bytes...
            answer.append(LiveChainError(f"cannot resolve '{host}': {err}"))

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(timeout)
    if not answer:
        raise LiveChainError(f"cannot resolve '{host}' within {timeout:g} s")
    if isinstance(answer[0], Exception):
        raise answer[0]
    return answer[0]


def fetch_live_chain(source: str, host: str, port: int, sni: str | None, timeout: float) -> LiveChain:
    """Connect to ``host:port`` and take the chain it presents: nothing verified, ``sni``
    sent byte for byte (None: no SNI), connect + handshake within ``timeout`` seconds
    (resolving a host name within ``limits.RESOLVE_TIMEOUT_S``). Raises LiveChainError."""
    from tlsmgm_cli.core.limits import RESOLVE_TIMEOUT_S
    from tlsmgm_cli.core.net.addresses import socket_text
    from tlsmgm_cli.core.tls.probe import client_context, handshake_once
    from tlsmgm_cli.core.x509.load import LoadedCert

    ip = resolve_within(host, port, RESOLVE_TIMEOUT_S)
    live = handshake_once(client_context(), ip, port, sni, timeout)
    address = socket_text(ip, port)
    where = address + (f" (SNI {sni!r})" if sni is not None else " (no SNI)")
    if not live.chain:
        raise LiveChainError(f"{where}: {live.error or 'the server presented no certificate'}")
    chain = LiveChain(address, live.version)
    for index, der in enumerate(live.chain):
        try:
            chain.certs.append(LoadedCert(source, index, x509.load_der_x509_certificate(der), der))
        except ValueError as err:
            raise LiveChainError(f"{where}: certificate #{index} of the chain cannot be read: {err}") from None
    return chain
