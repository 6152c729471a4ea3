"""A client for OpenSIPS's Management Interface: JSON-RPC 2.0 over ``mi_http`` or ``mi_fifo``.

Where to connect comes, in this order, from explicit arguments (``--mi-url`` / ``--fifo``),
then from opensips-cli's config file (``~/.opensips-cli.cfg``, ``/etc/opensips-cli.cfg``,
``/etc/opensips/opensips-cli.cfg``; first one found, section ``[default]``, keys
``communication_type``, ``url``, ``fifo_file``, ``fifo_reply_dir``), then from the
defaults (the FIFO ``/run/opensips/opensips_fifo`` when it exists, else
``http://127.0.0.1:8888/mi``).

mi_fifo framing (OpenSIPS 3.x ``modules/mi_fifo/fifo_fnc.c``): the client writes
``:<reply-fifo-name>:<JSON-RPC request>`` into the server's FIFO. The reply FIFO name must
be a bare file name (no ``.``, ``/`` or ``\\``): the server opens ``<reply_dir><name>``
where ``reply_dir`` is mi_fifo's modparam (default ``/tmp/``), so the client must create
its reply FIFO in that same directory (opensips-cli's ``fifo_reply_dir``). The server
opens the reply FIFO non-blocking and gives up after a few retries when nobody reads it,
so the client opens it for reading *before* sending the request. The reply is one JSON-RPC
response; the server closes the FIFO after writing it.

mi_http URLs are checked up front (``check_mi_url``: http or https, a host, a numeric
port). A ``user:password@`` in the URL is sent as an ``Authorization: Basic`` header (for
an authenticating proxy in front of mi_http), never as part of the request URL, and the URL
is only ever shown through ``core.urls.mask_url``.

Every failure (nothing listening, timeout, a reply that is not JSON-RPC, a JSON-RPC error
object) is raised as ``MiError`` with a message that names the endpoint (password masked).
"""

from __future__ import annotations

import configparser
import json
import os
import secrets
import select
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

from tlsmgm_cli.core.errors import TlsmgmError
from tlsmgm_cli.core.urls import mask_url

DEFAULT_URL = "http://127.0.0.1:8888/mi"
DEFAULT_FIFO = "/run/opensips/opensips_fifo"
DEFAULT_REPLY_DIR = "/tmp"
DEFAULT_TIMEOUT = 5.0
OPENSIPS_CLI_CFG_PATHS = (
    "~/.opensips-cli.cfg",
    "/etc/opensips-cli.cfg",
    "/etc/opensips/opensips-cli.cfg",
)
OPENSIPS_CLI_SECTION = "default"
REPLY_FIFO_PREFIX = "tlsmgm_reply_"
_MAX_REPLY_BYTES = 64 * 1024 * 1024


class MiError(TlsmgmError):
    """The MI could not be reached, timed out, answered garbage or answered an error."""


class MiCommandError(MiError):
    """The server answered with a JSON-RPC error object (e.g. 500 ``DB url not set``)."""

    def __init__(self, endpoint: str, method: str, code: Any, message: str):
        self.code = code
        self.rpc_message = message
        super().__init__(f"{endpoint}: {method} failed: {code}: {message}")


@dataclass(frozen=True, slots=True)
class MiEndpoint:
    """Where and how to reach one OpenSIPS MI."""

    transport: str  # "http" | "fifo"
    url: str = field(default=DEFAULT_URL, repr=False)  # as given: may hold a password
    fifo: str = DEFAULT_FIFO
    reply_dir: str = DEFAULT_REPLY_DIR
    timeout: float = DEFAULT_TIMEOUT
    origin: str = "default"  # what chose these settings ("--mi-url", a cfg file, "default")

    def __str__(self) -> str:
        return mask_url(self.url) if self.transport == "http" else f"FIFO {self.fifo}"


def check_mi_url(url: str, origin: str = "--mi-url") -> SplitResult:
    """``url`` split into its parts; MiError (password masked) unless it is a usable
    mi_http URL: http or https, a host name or address, and a port from 1 to 65535."""
    def bad(why: str) -> MiError:
        return MiError(f"{origin}: {mask_url(url)!r} is not a usable MI URL: {why} "
                       "(expected e.g. http://127.0.0.1:8888/mi)")

    try:
        parts = urlsplit(url)
    except ValueError as err:  # "Invalid IPv6 URL", invalid characters in the host
        raise bad("malformed IPv6 address" if "IPv6" in str(err) else "malformed host") from None
    if parts.scheme not in ("http", "https"):
        raise bad(f"the scheme must be http or https, not {parts.scheme or 'missing'!r}")
    if "@" in parts.path + parts.query + parts.fragment:
        raise bad("an '@' after the host (percent-encode '/', '?' and '#' in a password "
                  "as %2F, %3F and %23)")
    if not parts.hostname:
        raise bad("no host")
    try:
        port = parts.port
    except ValueError:  # urllib's text quotes the port: never show it
        port = 0
    if port == 0:
        raise bad("the port is not a number from 1 to 65535")
    return parts


def find_opensips_cli_cfg(explicit: str | None = None) -> Path | None:
    """The opensips-cli config file to read: ``explicit`` (must exist), else the first
    of opensips-cli's own search paths that exists, else None."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise MiError(f"{explicit}: opensips-cli config file not found")
        return path
    for candidate in OPENSIPS_CLI_CFG_PATHS:
        path = Path(candidate).expanduser()
        if path.is_file():
            return path
    return None


def read_opensips_cli_cfg(path: Path, instance: str = OPENSIPS_CLI_SECTION) -> dict[str, str]:
    """The MI keys of one opensips-cli instance (INI section; ``[default]`` applies to all)."""
    parser = configparser.ConfigParser(default_section=OPENSIPS_CLI_SECTION, interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (OSError, UnicodeDecodeError, configparser.Error) as err:
        raise MiError(f"{path}: cannot read opensips-cli config: {err}") from None
    section = parser[instance] if parser.has_section(instance) else parser.defaults()
    keys = ("communication_type", "url", "fifo_file", "fifo_reply_dir")
    return {k: section[k].strip() for k in keys if k in section and section[k].strip()}


def resolve_endpoint(*, mi_url: str | None = None, fifo: str | None = None,
                     reply_dir: str | None = None, timeout: float = DEFAULT_TIMEOUT,
                     cli_cfg: str | None = None) -> MiEndpoint:
    """Pick the transport and addresses (see the module docstring for the precedence)."""
    if mi_url and fifo:
        raise MiError("give either --mi-url or --fifo, not both")
    if timeout <= 0:
        raise MiError(f"--timeout must be positive, not {timeout}")
    cfg_path = find_opensips_cli_cfg(cli_cfg)
    cfg = read_opensips_cli_cfg(cfg_path) if cfg_path else {}
    cfg_reply_dir = cfg.get("fifo_reply_dir", DEFAULT_REPLY_DIR)
    if mi_url:
        check_mi_url(mi_url)
        return MiEndpoint("http", url=mi_url, timeout=timeout, origin="--mi-url")
    if fifo:
        return MiEndpoint("fifo", fifo=fifo, reply_dir=reply_dir or cfg_reply_dir, timeout=timeout,
                          origin="--fifo")
    if cfg:
        comm = cfg.get("communication_type", "fifo")
        if comm == "http":
            url = cfg.get("url", DEFAULT_URL)
            check_mi_url(url, origin=f"{cfg_path}: url")
            return MiEndpoint("http", url=url, timeout=timeout, origin=str(cfg_path))
        if comm == "fifo":
            return MiEndpoint("fifo", fifo=cfg.get("fifo_file", DEFAULT_FIFO),
                              reply_dir=reply_dir or cfg_reply_dir, timeout=timeout, origin=str(cfg_path))
        raise MiError(f"{cfg_path}: communication_type {comm!r} is not supported by tlsmgm "
                      "(use fifo or http, or give --mi-url / --fifo)")
    if os.path.exists(DEFAULT_FIFO):
        return MiEndpoint("fifo", fifo=DEFAULT_FIFO, reply_dir=reply_dir or DEFAULT_REPLY_DIR,
                          timeout=timeout)
    return MiEndpoint("http", url=DEFAULT_URL, timeout=timeout)


def build_request(method: str, params: dict[str, Any] | list[Any] | None = None) -> dict[str, Any]:
    """A JSON-RPC 2.0 request object with a fresh id."""
    request: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": secrets.randbelow(2**31)}
    if params:
        request["params"] = params
    return request


def parse_reply(raw: bytes, *, endpoint: str, method: str, request_id: Any) -> Any:
    """The ``result`` of a JSON-RPC 2.0 response; MiError for anything else."""
    text = raw.decode("utf-8", "replace").strip()
    if not text:
        raise MiError(f"{endpoint}: empty reply to {method}")
    try:
        reply = json.loads(text)
    except json.JSONDecodeError:
        raise MiError(f"{endpoint}: the reply to {method} is not JSON: {_excerpt(text)}") from None
    if not isinstance(reply, dict):
        raise MiError(f"{endpoint}: the reply to {method} is not a JSON-RPC response: {_excerpt(text)}")
    if "error" in reply:
        error = reply["error"]
        if isinstance(error, dict):
            raise MiCommandError(endpoint, method, error.get("code", "?"), str(error.get("message", "")))
        raise MiError(f"{endpoint}: malformed JSON-RPC error in the reply to {method}: {_excerpt(text)}")
    if "result" not in reply:
        raise MiError(f"{endpoint}: the reply to {method} has no result: {_excerpt(text)}")
    if reply.get("id") != request_id:
        raise MiError(f"{endpoint}: the reply to {method} answers request id {reply.get('id')!r}, "
                      f"not {request_id!r}")
    return reply["result"]


def _excerpt(text: str, limit: int = 120) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def call(endpoint: MiEndpoint, method: str, params: dict[str, Any] | list[Any] | None = None) -> Any:
    """Run one MI command and return its JSON-RPC ``result``."""
    request = build_request(method, params)
    payload = json.dumps(request, separators=(",", ":")).encode()
    if endpoint.transport == "http":
        raw = _http_exchange(endpoint, payload)
    else:
        raw = _fifo_exchange(endpoint, payload)
    return parse_reply(raw, endpoint=str(endpoint), method=method, request_id=request["id"])


# ---- mi_http -----------------------------------------------------------------------

def http_request_parts(url: str) -> tuple[str, dict[str, str]]:
    """The URL to POST to (no userinfo, no fragment) and the headers for ``url``: a
    ``user:password@`` becomes an ``Authorization: Basic`` header (percent-decoded)."""
    import base64

    parts = check_mi_url(url)
    headers = {"Content-Type": "application/json"}
    if parts.username is not None or parts.password is not None:
        credentials = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
        headers["Authorization"] = "Basic " + base64.b64encode(credentials.encode()).decode()
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname or ""
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")), headers


def _http_exchange(endpoint: MiEndpoint, payload: bytes) -> bytes:
    import http.client
    import socket
    import urllib.error
    import urllib.request

    shown = str(endpoint)
    request_url, headers = http_request_parts(endpoint.url)
    try:
        req = urllib.request.Request(request_url, data=payload, method="POST", headers=headers)
        with urllib.request.urlopen(req, timeout=endpoint.timeout) as resp:
            return resp.read(_MAX_REPLY_BYTES)
    except urllib.error.HTTPError as err:
        body = err.read(_MAX_REPLY_BYTES)
        if body.strip().startswith(b"{"):
            return body  # mi_http may carry a JSON-RPC error object with a non-200 status
        raise MiError(f"{shown}: HTTP {err.code} {err.reason}") from None
    except (TimeoutError, socket.timeout):
        raise MiError(f"{shown}: no answer within {endpoint.timeout:g}s") from None
    except urllib.error.URLError as err:
        reason = err.reason
        if isinstance(reason, (TimeoutError, socket.timeout)):
            raise MiError(f"{shown}: no answer within {endpoint.timeout:g}s") from None
        raise MiError(f"{shown}: cannot reach OpenSIPS's mi_http ({reason}); is OpenSIPS "
                      "running with mi_http loaded?") from None
    except (ValueError, http.client.InvalidURL) as err:  # a URL urllib rejects after all
        raise MiError(f"{shown}: not a usable MI URL ({mask_url(str(err))})") from None
    except http.client.HTTPException as err:  # e.g. a reply that is not HTTP
        raise MiError(f"{shown}: not an HTTP reply ({type(err).__name__})") from None
    except OSError as err:
        raise MiError(f"{shown}: {err}") from None


# ---- mi_fifo -----------------------------------------------------------------------

def _fifo_exchange(endpoint: MiEndpoint, payload: bytes) -> bytes:
    """One request/reply over mi_fifo through a fresh reply FIFO (removed afterwards).

    The reply FIFO is created 0600 and must be writable by OpenSIPS. When OpenSIPS's FIFO
    belongs to another user: as root, the reply FIFO is given to that user (still 0600;
    root reads it anyway). As any other user we cannot give a file away, so the reply FIFO
    becomes 0622 (and so does it when root's chown fails). The trade-off: any local user
    who spots its random name in reply_dir during the exchange can write into it. Nothing
    leaks (only we can read it), but a forged reply is possible: a forged result fails the
    JSON-RPC id check unless the forger also saw the request, a forged error object is
    reported as an error.
    """
    deadline = time.monotonic() + endpoint.timeout
    server_fifo = endpoint.fifo
    try:
        st = os.stat(server_fifo)
    except OSError as err:
        raise MiError(f"FIFO {server_fifo}: {err.strerror}; is OpenSIPS running with mi_fifo loaded?") from None
    if not stat.S_ISFIFO(st.st_mode):
        raise MiError(f"{server_fifo}: not a FIFO")
    name = REPLY_FIFO_PREFIX + secrets.token_hex(8)
    reply_path = os.path.join(endpoint.reply_dir, name)
    try:
        os.mkfifo(reply_path, 0o600)  # fails if the name exists: no symlink games
    except OSError as err:
        raise MiError(f"cannot create the reply FIFO in {endpoint.reply_dir}: {err.strerror} "
                      "(it must be mi_fifo's reply_dir; see --fifo-reply-dir)") from None
    try:
        if st.st_uid != os.geteuid():  # OpenSIPS runs as another user: let it write the reply
            _let_write(reply_path, st.st_uid)
        reply_fd = os.open(reply_path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            _send_request(server_fifo, b":" + name.encode() + b":" + payload + b"\n")
            return _read_reply(reply_fd, deadline, endpoint)
        finally:
            os.close(reply_fd)
    finally:
        try:
            os.unlink(reply_path)
        except OSError:
            pass


def _let_write(reply_path: str, server_uid: int) -> None:
    """Make the reply FIFO writable by ``server_uid`` (see ``_fifo_exchange``)."""
    if os.geteuid() == 0:
        try:
            os.chown(reply_path, server_uid, -1)
            return
        except OSError:
            pass
    os.chmod(reply_path, 0o622)


def _send_request(server_fifo: str, frame: bytes) -> None:
    try:
        fd = os.open(server_fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as err:
        if err.errno == 6:  # ENXIO: the FIFO exists but nobody reads it
            raise MiError(f"FIFO {server_fifo}: nobody is reading it; is OpenSIPS running?") from None
        raise MiError(f"FIFO {server_fifo}: {err.strerror}") from None
    try:
        os.set_blocking(fd, True)
        written = 0
        while written < len(frame):
            written += os.write(fd, frame[written:])
    except OSError as err:
        raise MiError(f"FIFO {server_fifo}: cannot send the request: {err.strerror}") from None
    finally:
        os.close(fd)


def _read_reply(fd: int, deadline: float, endpoint: MiEndpoint) -> bytes:
    """Read until the server closes its end (EOF after it wrote), or the deadline."""
    chunks: list[bytes] = []
    size = 0
    got_data = False
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            if got_data:
                return b"".join(chunks)  # incomplete: parse_reply says what is wrong
            raise MiError(f"FIFO {endpoint.fifo}: no answer within {endpoint.timeout:g}s (OpenSIPS "
                          f"writes the reply into mi_fifo's reply_dir; tlsmgm waited in "
                          f"{endpoint.reply_dir}, see --fifo-reply-dir)")
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            continue
        if not chunk:
            if got_data and _looks_complete(b"".join(chunks)):
                return b"".join(chunks)
            # no writer yet, or one closed mid-reply and may reopen: wait, don't spin
            time.sleep(0.01)
            continue
        got_data = True
        chunks.append(chunk)
        size += len(chunk)
        if size > _MAX_REPLY_BYTES:
            raise MiError(f"FIFO {endpoint.fifo}: reply larger than {_MAX_REPLY_BYTES} bytes")


def _looks_complete(data: bytes) -> bool:
    """True unless ``data`` is the start of a JSON document still being written (the
    server reopens the reply FIFO for each chunk of an asynchronous reply)."""
    text = data.strip()
    if not text.startswith(b"{"):
        return True
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
