"""Small stand-ins for OpenSIPS's MI, used by the mi/diff tests.

* ``HttpMi``: JSON-RPC 2.0 over HTTP POST on 127.0.0.1 (like mi_http); ``credentials=
  (user, password)`` makes it answer 401 unless the request carries them (Basic auth, as
  an authenticating proxy in front of mi_http does); ``mi.authorizations`` holds the
  Authorization headers that arrived.
* ``SilentMi``: accepts TCP connections and never answers (a hung node).
* ``FifoMi``: a FIFO server that speaks mi_fifo's 3.x framing: it reads
  ``:<reply-name>:<JSON-RPC request>``, refuses reply names with ``.``, ``/`` or ``\\``,
  opens ``<reply_dir>/<reply-name>`` non-blocking with a few retries (as fifo_fnc.c does)
  and writes the response.

Both take ``respond(request) -> bytes | None``: the raw reply body, or None to stay silent.
``answer(results)`` builds the usual responder from {method: result or error object}.
"""

from __future__ import annotations

import errno
import json
import os
import select
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

Responder = Callable[[dict[str, Any]], "bytes | None"]


class QuietHTTPServer(ThreadingHTTPServer):
    """A test HTTP server that never prints a traceback: a client that hangs up early (a
    timeout test) is normal here, and a thread printing to sys.stderr while another test's
    CliRunner has swapped it in would look like that test's internal error."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass

# behaviour §7.4: a script client domain, a script server domain and the DB server domain "db1"
# (DB domains omit CERT_FILE, CA_FILE, PKEY_FILE, DH_PARAMS_FILE)
SPEC_REPLY = {"Domains": [
    {"name": "dom6", "type": "TLS_DOMAIN_CLI",
     "IP ADDRESS FILTERS": ["1.2.3.4:6677"], "SIP DOMAIN FILTERS": ["*"],
     "METHOD": "TLSv1", "VERIFY_CERT": False, "REQ_CLI_CERT": False, "CRL_CHECKALL": False,
     "CERT_FILE": "/certs/gw/cert.pem", "CRL_DIR": "", "CA_FILE": "/certs/wellknownCAs",
     "CA_DIR": "/etc/pki/CA/", "PKEY_FILE": "/certs/gw/privkey.pem", "CIPHER_LIST": "",
     "DH_PARAMS_FILE": "", "EC_CURVE": ""},
    {"name": "db1", "type": "TLS_DOMAIN_SRV",
     "IP ADDRESS FILTERS": ["*"], "SIP DOMAIN FILTERS": ["*"],
     "METHOD": "SSLv23", "VERIFY_CERT": True, "REQ_CLI_CERT": True, "CRL_CHECKALL": False,
     "CRL_DIR": "", "CA_DIR": "/etc/pki/CA/", "CIPHER_LIST": "", "EC_CURVE": ""},
    {"name": "dom3", "type": "TLS_DOMAIN_SRV",
     "IP ADDRESS FILTERS": ["10.0.0.10:5061"], "SIP DOMAIN FILTERS": ["none"],
     "METHOD": "TLSv1", "VERIFY_CERT": True, "REQ_CLI_CERT": True, "CRL_CHECKALL": False,
     "CERT_FILE": "/certs/generic/cert.pem", "CRL_DIR": "", "CA_FILE": "/certs/wellknownCAs",
     "CA_DIR": "/etc/pki/CA/", "PKEY_FILE": "/certs/generic/privkey.pem", "CIPHER_LIST": "",
     "DH_PARAMS_FILE": "", "EC_CURVE": ""},
]}


def rpc_error(code: int, message: str) -> dict[str, Any]:
    """Marks an ``answer`` value as a JSON-RPC error object."""
    return {"__error__": {"code": code, "message": message}}


def answer(results: dict[str, Any]) -> Responder:
    def respond(request: dict[str, Any]) -> bytes:
        value = results.get(request.get("method"), rpc_error(-32601, "Method not found"))
        body: dict[str, Any] = {"jsonrpc": "2.0"}
        if isinstance(value, dict) and "__error__" in value:
            body["error"] = value["__error__"]
        else:
            body["result"] = value
        body["id"] = request.get("id")
        return json.dumps(body).encode()
    return respond


class HttpMi:
    """``with HttpMi(respond) as mi: mi.url``; ``mi.requests`` holds what arrived, and
    ``mi.request_lines`` their HTTP request lines as sent (``POST /path HTTP/1.1``)."""

    def __init__(self, respond: Responder, *, status: int = 200, delay: float = 0.0,
                 credentials: tuple[str, str] | None = None):
        self.requests: list[dict[str, Any]] = []
        self.request_lines: list[str] = []
        self.authorizations: list[str | None] = []
        outer = self
        expected_auth = None
        if credentials is not None:
            import base64

            expected_auth = "Basic " + base64.b64encode(":".join(credentials).encode()).decode()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                outer.request_lines.append(self.requestline)
                length = int(self.headers.get("Content-Length", 0))
                request = json.loads(self.rfile.read(length))
                outer.requests.append(request)
                outer.authorizations.append(self.headers.get("Authorization"))
                if delay:
                    time.sleep(delay)
                body = respond(request) or b""
                code = status
                if expected_auth is not None and self.headers.get("Authorization") != expected_auth:
                    code, body = 401, b"Unauthorized"
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = QuietHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/mi"
        # a short poll so that shutdown() at the end of a test returns at once
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)

    def __enter__(self) -> HttpMi:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()


class SilentServer:
    """A TCP listener on 127.0.0.1 that accepts every connection and never sends a byte (a
    hung OpenSIPS, a database server that never greets). ``port``, ``url`` (as an MI URL),
    ``accepted`` (the connections, kept open). Usable as a context manager or with close()."""

    def __init__(self) -> None:
        import socket

        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.settimeout(0.05)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/mi"
        self.accepted: list[Any] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:  # the accept timeout: look at the stop flag again
                continue
            self.accepted.append(conn)  # kept open, never read, never answered

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for conn in self.accepted:
            conn.close()
        self._listener.close()

    def __enter__(self) -> SilentServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


SilentMi = SilentServer  # the name the MI tests use


class FifoMi:
    """``with FifoMi(tmp_path, respond) as mi: mi.fifo, mi.reply_dir``."""

    REPLY_RETRIES = 4
    REPLY_WAIT = 0.08

    def __init__(self, base: Path, respond: Responder):
        self.fifo = str(base / "opensips_fifo")
        self.reply_dir = str(base / "replies")
        os.mkdir(self.reply_dir)
        os.mkfifo(self.fifo, 0o660)
        self.requests: list[dict[str, Any]] = []
        self.frames: list[bytes] = []
        self.rejected: list[str] = []
        self._respond = respond
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> FifoMi:
        # like mi_fifo: a reader plus a writer of our own so the FIFO never reports EOF
        self._rfd = os.open(self.fifo, os.O_RDONLY | os.O_NONBLOCK)
        self._wfd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(5)
        os.close(self._rfd)
        os.close(self._wfd)

    def _serve(self) -> None:
        buf = b""
        while not self._stop.is_set():
            ready, _, _ = select.select([self._rfd], [], [], 0.05)
            if not ready:
                continue
            try:
                buf += os.read(self._rfd, 65536)
            except BlockingIOError:
                continue
            while b"\n" in buf:
                frame, buf = buf.split(b"\n", 1)
                if frame.strip():
                    self._handle(frame.strip())

    def _handle(self, frame: bytes) -> None:
        self.frames.append(frame)
        if not frame.startswith(b":") or frame.count(b":") < 2:
            self.rejected.append(frame.decode(errors="replace"))
            return
        name, _, body = frame[1:].partition(b":")
        text = name.decode()
        if any(c in text for c in "./\\"):  # get_reply_filename(): "forbidden filename"
            self.rejected.append(text)
            return
        request = json.loads(body)
        self.requests.append(request)
        reply = self._respond(request)
        if reply is None:
            return
        path = os.path.join(self.reply_dir, text)
        for _ in range(self.REPLY_RETRIES + 1):
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError as err:
                if err.errno != errno.ENXIO:
                    self.rejected.append(f"{text}: {err}")
                    return
                time.sleep(self.REPLY_WAIT)
        else:
            self.rejected.append(f"{text}: no client")
            return
        os.set_blocking(fd, True)
        try:
            os.write(fd, reply)
        finally:
            os.close(fd)


MI_ENV_VARS = ("TLSMGM_OPENSIPS_CLI_CFG", "TLSMGM_MI_URL", "TLSMGM_MI_FIFO", "TLSMGM_MI_REPLY_DIR",
               "TLSMGM_DB", "TLSMGM_NODES")


def isolate_mi_settings(tmp_path: Path, monkeypatch: Any) -> Path:
    """Keep the machine's own ~/.opensips-cli.cfg and TLSMGM_* settings out of a test;
    returns the empty HOME used instead."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in MI_ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    return home


def free_port() -> int:
    """A loopback port nothing listens on."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
