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
is only ever shown through ``core.net.urls.mask_url``.

Every failure (nothing listening, timeout, a reply that is not JSON-RPC, a JSON-RPC error
object) is raised as ``MiError`` with a message that names the endpoint (password masked).

Limits (``core.limits``): the endpoint's ``timeout`` bounds the whole request, from connect
to the last byte of the reply (a server dripping its reply byte by byte is cut off), and a
reply larger than ``MI_REPLY_MAX_BYTES`` is refused. HTTP 401/403 are named as such; JSON
nested too deeply for Python's parser is refused, never a RecursionError.
"""

from __future__ import annotations

import configparser
import io
import json
import os
import secrets
import select
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, quote, unquote, urlsplit, urlunsplit

from tlsmgm_cli.core import limits
from tlsmgm_cli.core.errors import TlsmgmError, UsageError
from tlsmgm_cli.core.limits import MI_TIMEOUT_S
from tlsmgm_cli.core.net.urls import mask_url

DEFAULT_URL = "http://127.0.0.1:8888/mi"
DEFAULT_FIFO = "/run/opensips/opensips_fifo"
DEFAULT_REPLY_DIR = "/tmp"
DEFAULT_TIMEOUT = MI_TIMEOUT_S
OPENSIPS_CLI_CFG_PATHS = (
    "~/.opensips-cli.cfg",
    "/etc/opensips-cli.cfg",
    "/etc/opensips/opensips-cli.cfg",
)
OPENSIPS_CLI_SECTION = "default"
REPLY_FIFO_PREFIX = "tlsmgm_reply_"


class MiError(TlsmgmError):
    """The MI could not be reached, timed out, answered garbage or answered an error."""


class MiUsageError(MiError, UsageError):
    """The MI options themselves are wrong (a malformed URL, a bad --timeout...)."""


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
    mi_http URL: http or https, a host name or address, and a port from 1 to 65535.

    Refused too, as usage errors rather than failures halfway through the request: a
    control character, space or byte that was not UTF-8 anywhere in the URL (urlsplit
    silently drops CR, LF and TAB, and a CR/LF reaching the request line would inject a
    header), and a host name the IDNA codec cannot encode (a label over 63 characters, an
    empty label). The URL is only ever shown through ``repr`` here, never raw."""
    def bad(why: str) -> MiError:
        return MiUsageError(f"{origin}: {mask_url(url)!r} is not a usable MI URL: {why} "
                            "(expected e.g. http://127.0.0.1:8888/mi)")

    unusable = next((ch for ch in url if ch == " " or not ch.isprintable()), None)
    if unusable is not None:
        if unusable == " ":
            raise bad("it holds a space (percent-encode it as %20)")
        if "\udc80" <= unusable <= "\udcff":  # argv bytes kept by surrogateescape
            raise bad("it holds a byte that is not UTF-8 (percent-encode it, e.g. %FF)")
        raise bad(f"it holds the control character {unusable!r} (it would reach the HTTP request "
                  "as is, e.g. a CR/LF adding a header; percent-encode it)")
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
    try:  # what socket and http.client do with the host: fail now, not mid-request
        parts.hostname.encode("idna")
    except UnicodeError:
        raise bad("the host name is not valid (an empty label, or one longer than 63 "
                  "characters)") from None
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
        from tlsmgm_cli.core.util.safeio import check_regular

        path = Path(explicit).expanduser()
        if not os.path.lexists(path):
            raise MiUsageError(f"{explicit}: opensips-cli config file not found")
        if not _is_devnull(path):  # /dev/null: an empty config, the usual "no config file"
            check_regular(path, what="opensips-cli config file")  # a FIFO or device: refused
        return path
    for candidate in OPENSIPS_CLI_CFG_PATHS:
        path = Path(candidate).expanduser()
        if path.is_file():
            return path
    return None


def _is_devnull(path: Path) -> bool:
    try:
        return os.path.samefile(path, os.devnull)
    except OSError:
        return False


CLI_CFG_KEYS = ("communication_type", "url", "fifo_file", "fifo_reply_dir")


def parse_opensips_cli_cfg(path: Path) -> configparser.ConfigParser:
    """opensips-cli's config file as a ConfigParser (``[default]`` applies to every
    section); read through the safe reader with the settings-file size limit."""
    from tlsmgm_cli.core.util.safeio import read_bytes_limited

    parser = configparser.ConfigParser(default_section=OPENSIPS_CLI_SECTION, interpolation=None)
    if _is_devnull(path):
        return parser
    raw = read_bytes_limited(path, limit=limits.SETTINGS_MAX_BYTES, what="opensips-cli config file")
    try:
        parser.read_string(raw.decode("utf-8"), source=str(path))
    except (UnicodeDecodeError, configparser.Error) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise MiError(f"{path}: cannot read opensips-cli config: {first}") from None
    return parser


def cli_cfg_section(parser: configparser.ConfigParser, instance: str = OPENSIPS_CLI_SECTION) -> dict[str, str]:
    """The MI keys of one instance (section) of a parsed opensips-cli config."""
    section = parser[instance] if parser.has_section(instance) else parser.defaults()
    return {k: section[k].strip() for k in CLI_CFG_KEYS if k in section and section[k].strip()}


def read_opensips_cli_cfg(path: Path, instance: str = OPENSIPS_CLI_SECTION) -> dict[str, str]:
    """The MI keys of one opensips-cli instance (INI section; ``[default]`` applies to all)."""
    return cli_cfg_section(parse_opensips_cli_cfg(path), instance)


def endpoint_from_cli_cfg(cfg: dict[str, str], *, cfg_path: Path | str, timeout: float = DEFAULT_TIMEOUT,
                          reply_dir: str | None = None, where: str = "") -> MiEndpoint:
    """The endpoint one opensips-cli instance's keys (``cli_cfg_section``) describe;
    MiError for an unusable URL or a communication_type tlsmgm cannot speak."""
    origin = f"{cfg_path}{where}"
    comm = cfg.get("communication_type", "fifo")
    if comm == "http":
        url = cfg.get("url", DEFAULT_URL)
        check_mi_url(url, origin=f"{origin}: url")
        return MiEndpoint("http", url=url, timeout=timeout, origin=origin)
    if comm == "fifo":
        return MiEndpoint("fifo", fifo=cfg.get("fifo_file", DEFAULT_FIFO),
                          reply_dir=reply_dir or cfg.get("fifo_reply_dir", DEFAULT_REPLY_DIR),
                          timeout=timeout, origin=origin)
    raise MiError(f"{origin}: communication_type {comm!r} is not supported by tlsmgm "
                  "(use fifo or http, or give --mi-url / --fifo)")


def resolve_endpoint(*, mi_url: str | None = None, fifo: str | None = None,
                     reply_dir: str | None = None, timeout: float = DEFAULT_TIMEOUT,
                     cli_cfg: str | None = None) -> MiEndpoint:
    """Pick the transport and addresses (see the module docstring for the precedence)."""
    if mi_url and fifo:
        raise MiUsageError("give either --mi-url or --fifo, not both")
    if not 0 < timeout < float("inf"):  # NaN too
        raise MiUsageError(f"--timeout must be a positive number of seconds, not {timeout}")
    cfg_path = find_opensips_cli_cfg(cli_cfg)
    cfg = read_opensips_cli_cfg(cfg_path) if cfg_path else {}
    cfg_reply_dir = cfg.get("fifo_reply_dir", DEFAULT_REPLY_DIR)
    if mi_url:
        check_mi_url(mi_url)
        return MiEndpoint("http", url=mi_url, timeout=timeout, origin="--mi-url")
    if fifo:
        return MiEndpoint("fifo", fifo=fifo, reply_dir=reply_dir or cfg_reply_dir, timeout=timeout,
                          origin="--fifo")
    if cfg and cfg_path is not None:
        return endpoint_from_cli_cfg(cfg, cfg_path=cfg_path, timeout=timeout, reply_dir=reply_dir)
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
    except RecursionError:
        raise MiError(f"{endpoint}: the reply to {method} is JSON nested too deeply to be a JSON-RPC "
                      "response") from None
    except (ValueError, OverflowError) as err:  # e.g. a number of more than 4,300 digits
        raise MiError(f"{endpoint}: malformed reply to {method}: it {_undecodable(err)}") from None
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


def _undecodable(err: ValueError | OverflowError) -> str:
    """Why valid-looking JSON could not be decoded, in words (Python's own text for a
    too-long integer advises sys.set_int_max_str_digits(), which no user can act on)."""
    import sys

    if "integer string conversion" in str(err):
        return (f"holds an integer of more than {sys.get_int_max_str_digits():,} digits, which "
                "no JSON-RPC response does")
    return f"cannot be decoded: {str(err).splitlines()[0] if str(err) else type(err).__name__}"


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
    path, query = _percent_encode_non_ascii(parts.path), _percent_encode_non_ascii(parts.query)
    return urlunsplit((parts.scheme, netloc, path, query, "")), headers


def _percent_encode_non_ascii(text: str) -> str:
    """``text`` with every non-ASCII character percent-encoded as UTF-8 (``/é`` ->
    ``/%C3%A9``), as browsers and curl send such a URL: an HTTP request line is ASCII.
    ``check_mi_url`` has already refused controls, spaces and bytes that were not UTF-8."""
    return "".join(ch if ch.isascii() else quote(ch, safe="") for ch in text)


class _Deadline:
    """The end of the whole request: every socket wait gets only the time left."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        remaining = self.end - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("deadline")
        return remaining


class _DeadlineRaw(io.RawIOBase):
    """A socket's read side whose every read waits at most until the deadline."""

    def __init__(self, sock: Any, deadline: _Deadline):
        self._sock = sock
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self._sock.settimeout(self._deadline.left())
        count: int = self._sock.recv_into(buffer)
        return count


class _DeadlineSocket:
    """What ``http.client`` needs of a socket (sendall, makefile, close), bounded by a deadline."""

    def __init__(self, sock: Any, deadline: _Deadline):
        self._sock = sock
        self._deadline = deadline

    def sendall(self, data: bytes) -> None:
        self._sock.settimeout(self._deadline.left())
        self._sock.sendall(data)

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineRaw(self._sock, self._deadline))

    def close(self) -> None:
        """Nothing: http.client closes the connection while the response still reads from
        it (a real socket defers that through makefile's reference count); the owner
        closes the real socket when the exchange is over."""


def _too_large(cap: int) -> str:
    from tlsmgm_cli.core.util.safeio import limit_text

    return f"the reply is larger than the {limit_text(cap)} limit tlsmgm reads (MI reply size)"


def _read_capped(resp: Any, shown: str) -> bytes:
    cap = limits.MI_REPLY_MAX_BYTES
    body: bytes = resp.read(cap + 1)
    if len(body) > cap:
        raise MiError(f"{shown}: {_too_large(cap)}")
    return body


def _http_status_error(shown: str, status: int, reason: str, with_credentials: bool) -> MiError:
    head = f"{shown}: HTTP {status} {reason}".rstrip()
    if status == 401:
        if with_credentials:
            return MiError(f"{head}: the MI endpoint refused the credentials in the URL")
        return MiError(f"{head}: the MI endpoint needs credentials (give them in the URL: "
                       "--mi-url http://USER:PASSWORD@HOST:PORT/mi)")
    if status == 403:
        return MiError(f"{head}: the MI endpoint refuses this client")
    return MiError(f"{shown}: HTTP {status} {reason}".rstrip())


def _http_exchange(endpoint: MiEndpoint, payload: bytes) -> bytes:
    """POST ``payload``; the reply body. ``endpoint.timeout`` bounds the whole exchange
    (connect, send, headers and body), not each wait: a server that drips its reply
    byte by byte is cut off at the deadline."""
    import http.client
    import socket

    shown = str(endpoint)
    request_url, headers = http_request_parts(endpoint.url)
    parts = urlsplit(request_url)
    path = urlunsplit(("", "", parts.path or "/", parts.query, ""))
    deadline = _Deadline(endpoint.timeout)
    conn_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = conn_class(parts.hostname or "", parts.port, timeout=endpoint.timeout)
    real_sock = None
    try:
        conn.timeout = deadline.left()
        conn.connect()
        real_sock = conn.sock
        conn.sock = _DeadlineSocket(real_sock, deadline)
        conn.request("POST", path, body=payload, headers={**headers, "Connection": "close"})
        resp = conn.getresponse()
        body = _read_capped(resp, shown)
        if resp.status == 200:
            return body
        if resp.status in (401, 403):
            raise _http_status_error(shown, resp.status, resp.reason, "Authorization" in headers)
        if body.strip().startswith(b"{"):
            return body  # mi_http may carry a JSON-RPC error object with a non-200 status
        raise _http_status_error(shown, resp.status, resp.reason, "Authorization" in headers)
    except (TimeoutError, socket.timeout):
        raise MiError(f"{shown}: no answer within {endpoint.timeout:g}s (--timeout bounds the "
                      "whole request)") from None
    except ConnectionRefusedError:
        raise MiError(f"{shown}: cannot reach OpenSIPS's mi_http (Connection refused); is OpenSIPS "
                      "running with mi_http loaded?") from None
    except socket.gaierror as err:
        raise MiError(f"{shown}: cannot reach OpenSIPS's mi_http (unknown host: {err.strerror}); is "
                      "the URL right?") from None
    except UnicodeError:  # a host or path check_mi_url let through that IDNA/ASCII cannot encode
        raise MiUsageError(f"{shown}: not a usable MI URL (it cannot be encoded for the request)") from None
    except http.client.InvalidURL as err:  # a URL http.client rejects after all
        raise MiError(f"{shown}: not a usable MI URL ({mask_url(str(err))})") from None
    except http.client.HTTPException as err:  # e.g. a reply that is not HTTP
        raise MiError(f"{shown}: not an HTTP reply ({type(err).__name__})") from None
    except (ssl_error_types()) as err:
        raise MiError(f"{shown}: TLS with the MI endpoint failed: {err}") from None
    except OSError as err:
        raise MiError(f"{shown}: cannot reach OpenSIPS's mi_http ({err.strerror or err}); is OpenSIPS "
                      "running with mi_http loaded?") from None
    finally:
        conn.close()
        if real_sock is not None:
            real_sock.close()


def ssl_error_types() -> tuple[type[BaseException], ...]:
    """ssl.SSLError when ssl is already loaded (an https URL), else nothing to catch."""
    import sys

    ssl = sys.modules.get("ssl")
    return (ssl.SSLError,) if ssl is not None else ()


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
        if size > limits.MI_REPLY_MAX_BYTES:
            raise MiError(f"FIFO {endpoint.fifo}: {_too_large(limits.MI_REPLY_MAX_BYTES)}")


def _looks_complete(data: bytes) -> bool:
    """True unless ``data`` is the start of a JSON document still being written (the
    server reopens the reply FIFO for each chunk of an asynchronous reply)."""
    text = data.strip()
    if not text.startswith(b"{"):
        return True
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    except (RecursionError, ValueError, OverflowError):
        return True  # complete or not (an integer of 5,000 digits...), parse_reply refuses it
    return True
