"""OpenSIPS-style database URLs, and keeping their passwords out of every message.

Forms accepted (as OpenSIPS's ``db_url``):

* ``mysql://user:password@host:port/database``
* ``postgres://user:password@host:port/database`` (``postgresql://`` too)
* ``sqlite:///absolute/path.db``

``mask_url`` (``core.net.urls.mask_url``, re-exported here) is the only way a URL may be shown
to a user; ``scrub`` removes the password from any text (driver error messages may echo the
connection string).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tlsmgm_cli.core.errors import TlsmgmError, UsageError
from tlsmgm_cli.core.net.urls import MASK, is_secret_name, mask_url

__all__ = ["BACKENDS", "DEFAULT_PORTS", "DbUrl", "mask_url", "parse_db_url"]

BACKENDS = {"mysql": "mysql", "postgres": "postgres", "postgresql": "postgres", "sqlite": "sqlite"}
DEFAULT_PORTS = {"mysql": 3306, "postgres": 5432}


@dataclass(frozen=True, slots=True)
class DbUrl:
    """A parsed URL. ``backend`` is ``sqlite``, ``postgres`` or ``mysql``; for SQLite only
    ``database`` (the file path) is used."""

    scheme: str
    backend: str
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    host: str | None = None
    port: int | None = None
    database: str = ""
    params: dict[str, str] = field(default_factory=dict)

    def masked(self) -> str:
        """The URL with the password (and secret-looking query parameters) as ``***``."""
        if self.backend == "sqlite":
            return f"{self.scheme}://{self.database}" if self.database.startswith("/") \
                else f"{self.scheme}:///{self.database}"
        auth = ""
        if self.user is not None:  # the password itself is never put into the text
            auth = self.user + (f":{MASK}" if self.password is not None else "") + "@"
        host = self.host or ""
        if host and ":" in host:
            host = f"[{host}]"
        port = f":{self.port}" if self.port is not None else ""
        query = "?" + "&".join(f"{k}={v}" for k, v in self.params.items()) if self.params else ""
        return mask_url(f"{self.scheme}://{auth}{host}{port}/{self.database}{query}")

    def scrub(self, text: str) -> str:
        """``text`` with every occurrence of the password (and of secret query values) masked."""
        secrets = [self.password] + [v for k, v in self.params.items() if is_secret_name(k)]
        for secret in filter(None, secrets):
            text = text.replace(secret, MASK)
        return text

    def __str__(self) -> str:
        return self.masked()


def _bad(url: str, why: str) -> TlsmgmError:
    return UsageError(f"bad database URL {mask_url(url)!r}: {why} (expected e.g. "
                      "mysql://user:pass@host:3306/opensips, postgres://user:pass@host/opensips "
                      "or sqlite:///var/lib/opensips/opensips.db)")


def parse_db_url(url: str) -> DbUrl:
    """Parse an OpenSIPS DB URL; raises TlsmgmError (password masked) when malformed."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise _bad(url, "no scheme")
    backend = BACKENDS.get(scheme.lower())
    if backend is None:
        raise _bad(url, f"unsupported scheme '{scheme}' (tlsmgm reads mysql, postgres and sqlite)")
    rest, _, query = rest.partition("?")
    params: dict[str, str] = {}
    for item in filter(None, query.split("&")):
        key, _, value = item.partition("=")
        params[key] = value
    if backend == "sqlite":
        if not rest.startswith("/"):
            raise _bad(url, "SQLite needs an absolute path: sqlite:///path/to/file.db")
        return DbUrl(scheme, backend, database=rest, params=params)
    at = rest.rfind("@")
    userinfo, hostpart = (rest[:at], rest[at + 1:]) if at >= 0 else (None, rest)
    user = password = None
    if userinfo is not None:
        user, colon, pw = userinfo.partition(":")
        password = pw if colon else None
    hostport, slash, database = hostpart.partition("/")
    if not slash or not database:
        raise _bad(url, "no database name after the host")
    host, port = _split_hostport(url, hostport)
    return DbUrl(scheme, backend, user or None, password, host or None, port, database, params)


def _split_hostport(url: str, hostport: str) -> tuple[str, int | None]:
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise _bad(url, "unterminated '[' in the host")
        host, tail = hostport[1:end], hostport[end + 1:]
        port_text = tail[1:] if tail.startswith(":") else None
    else:
        host, colon, port_text_raw = hostport.rpartition(":") if hostport.count(":") == 1 \
            else (hostport, "", "")
        if not colon:
            host, port_text = hostport, None
        else:
            port_text = port_text_raw
    if port_text is None or port_text == "":
        return host, None
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise _bad(url, f"port '{port_text}' is not a number from 1 to 65535")
    return host, int(port_text)
