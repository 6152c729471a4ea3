"""What the config reader returns: the top-level statements of an opensips.cfg.

``cfgparse.read_config()`` flattens includes and returns a ``ParsedConfig`` whose
``statements`` are in the order OpenSIPS would execute them, each with the ``Loc``
(file, line) where it starts. Route blocks and other statements tlsmgm does not need are
skipped; only what tls_mgm, proto_tls and the socket list depend on is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tlsmgm_cli.core.errors import Diagnostic, Loc


@dataclass(slots=True)
class Modparam:
    """``modparam("module-regex", "param", value)``.

    ``value`` is a ``str`` when written as (possibly folded) quoted strings, after escape
    processing; an ``int`` when written as a number or yes/no/on/off/true/false/
    enable/disable (OpenSIPS's INT_PARAM). A bare identifier (e.g. an unexpanded m4 macro)
    is kept as its text with ``kind == "id"``: OpenSIPS would reject it as a syntax error.
    """

    module: str
    param: str
    value: str | int
    kind: str  # "str" | "int" | "id"
    loc: Loc
    raw: str = ""  # the value as written in the source
    #: (line, column) of the closing ``)``, where OpenSIPS reports a failed modparam
    close: tuple[int, int] = (0, 0)

    @property
    def is_str(self) -> bool:
        return self.kind == "str"


@dataclass(slots=True)
class Loadmodule:
    """``loadmodule "path/name.so"``; ``name`` is the module name (basename without .so)."""

    path: str
    name: str
    loc: Loc


@dataclass(slots=True)
class Socket:
    """``socket=proto:host[:port[-end]] [attributes]`` or the deprecated ``listen=``.

    ``host`` is as written (IPv4, IPv6 without brackets, hostname, interface name, ``*``
    or an unexpanded placeholder), except that the host name of a TLS listener is
    replaced by the IP it resolves to, as OpenSIPS does at startup (``hostname`` then
    keeps the name as written); ``port`` is None when absent (OpenSIPS then uses the
    protocol default: 5061 for tls). ``attrs`` holds the socket attributes by lower-case
    keyword: ``as`` -> "host[:port]", ``use_workers`` -> int, ``tos`` -> int,
    ``tag`` -> str, ``use_auto_scaling_profile`` -> str, flags (``anycast``, ``frag``,
    ``reuse_port``, ``accept_subdomain``, ``*proxy_protocol``) -> True.
    """

    keyword: str  # "socket" | "listen"
    proto: str  # lower case: udp, tcp, tls, ws, wss, sctp, hep_udp, bin, ...
    host: str
    port: int | None
    loc: Loc
    port_end: int | None = None
    attrs: dict[str, str | int | bool] = field(default_factory=dict)
    text: str = ""  # the whole definition as written
    hostname: str | None = None  # the host name as written, when ``host`` is its resolved IP


@dataclass(slots=True)
class Assign:
    """Any other top-level ``name = value`` (mpath, log_level, tls_certificate...)."""

    name: str
    value: str | int | None
    kind: str  # "str" | "int" | "id" | "other"
    loc: Loc
    raw: str = ""


Statement = Modparam | Loadmodule | Socket | Assign


@dataclass(slots=True)
class ParsedConfig:
    """A whole config, includes flattened."""

    path: str
    statements: list[Statement] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # every file read, main first
    preprocessor: str | None = None

    @property
    def modparams(self) -> list[Modparam]:
        return [s for s in self.statements if isinstance(s, Modparam)]

    @property
    def loadmodules(self) -> list[Loadmodule]:
        return [s for s in self.statements if isinstance(s, Loadmodule)]

    @property
    def sockets(self) -> list[Socket]:
        return [s for s in self.statements if isinstance(s, Socket)]

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]
