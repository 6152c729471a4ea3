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

Every failure (nothing listening, timeout, a reply that is not JSON-RPC, a JSON-RPC error
object) is raised as ``MiError`` with a message that names the endpoint.
"""

from __future__ import annotations

import configparser
import json
import os
import secrets
import select
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tlsmgm_cli.core.errors import TlsmgmError

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
    url: str = DEFAULT_URL
    fifo: str = DEFAULT_FIFO
    reply_dir: str = DEFAULT_REPLY_DIR
    timeout: float = DEFAULT_TIMEOUT
    origin: str = "default"  # what chose these settings ("--mi-url", a cfg file, "default")

    def __str__(self) -> str:
        return self.url if self.transport == "http" else f"FIFO {self.fifo}"


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
        return MiEndpoint("http", url=mi_url, timeout=timeout, origin="--mi-url")
    if fifo:
        return MiEndpoint("fifo", fifo=fifo, reply_dir=reply_dir or cfg_reply_dir, timeout=timeout,
                          origin="--fifo")
    if cfg:
        comm = cfg.get("communication_type", "fifo")
        if comm == "http":
            return MiEndpoint("http", url=cfg.get("url", DEFAULT_URL), timeout=timeout,
                              origin=str(cfg_path))
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

def _http_exchange(endpoint: MiEndpoint, payload: bytes) -> bytes:
    import socket
    import urllib.error
    import urllib.request

    if not endpoint.url.startswith(("http://", "https://")):
        raise MiError(f"{endpoint.url}: not a usable MI URL (expected http://HOST:PORT/mi)")
    try:
        req = urllib.request.Request(endpoint.url, data=payload, method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=endpoint.timeout) as resp:
            return resp.read(_MAX_REPLY_BYTES)
    except urllib.error.HTTPError as err:
        body = err.read(_MAX_REPLY_BYTES)
        if body.strip().startswith(b"{"):
            return body  # mi_http may carry a JSON-RPC error object with a non-200 status
        raise MiError(f"{endpoint.url}: HTTP {err.code} {err.reason}") from None
    except (TimeoutError, socket.timeout):
        raise MiError(f"{endpoint.url}: no answer within {endpoint.timeout:g}s") from None
    except urllib.error.URLError as err:
        reason = err.reason
        if isinstance(reason, (TimeoutError, socket.timeout)):
            raise MiError(f"{endpoint.url}: no answer within {endpoint.timeout:g}s") from None
        raise MiError(f"{endpoint.url}: cannot reach OpenSIPS's mi_http ({reason}); is OpenSIPS "
                      "running with mi_http loaded?") from None
    except ValueError as err:  # a malformed URL
        raise MiError(f"{endpoint.url}: not a usable MI URL ({err})") from None
    except OSError as err:
        raise MiError(f"{endpoint.url}: {err}") from None


# ---- mi_fifo -----------------------------------------------------------------------

def _fifo_exchange(endpoint: MiEndpoint, payload: bytes) -> bytes:
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
        if st.st_uid != os.geteuid():
            # OpenSIPS runs as another user: let it write the reply; nobody else can read it
            os.chmod(reply_path, 0o622)
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
