"""Several OpenSIPS nodes at once: which MI endpoints to ask, and asking them concurrently.

Nodes come from three places, in this order, all of them usable together:

* ``--mi-url URL`` given more than once (``--mi-url NAME=URL`` names the node; otherwise
  the node is named after the URL's host and port);
* a nodes file (``--nodes FILE``, YAML): a list of mappings, or ``{nodes: [...]}``::

      - name: sip1
        url: http://10.0.0.1:8888/mi
      - name: sip2
        url: https://10.0.0.2:8888/mi
        user: opensips
        password_env: SIP2_MI_PASSWORD      # or: password_file: /etc/tlsmgm/sip2.pw
      - name: local
        fifo: /run/opensips/opensips_fifo   # optional reply_dir:, timeout: per node

  A password is never written in the nodes file itself (only inside the URL, where it is
  still never shown): ``password_env`` names an environment variable, ``password_file`` a
  file whose first line is the password. The file is read through ``core.util.safeio`` with the
  settings-file limit and parsed with ``load_yaml`` (``yaml.safe_load``; a value Python cannot
  hold, such as a 5,000-digit integer, is an error naming its key);
* every instance (INI section) of an opensips-cli config (``--all-instances``) that has an
  MI connection (communication_type, url or fifo_file, its own or inherited from
  ``[default]``); ``[default]`` alone when there is no other section.

Every node keeps its URL as given (it may carry the password) and shows it only through
``MiEndpoint.__str__`` (``core.net.urls.mask_url``). ``query_nodes`` asks all nodes at once in a
thread pool; each request is bounded by its endpoint's timeout, so a silent node costs
at most that long and never stalls the others.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from tlsmgm_cli.core import limits
from tlsmgm_cli.core.errors import TlsmgmError, UsageError
from tlsmgm_cli.core.mi.client import (
    DEFAULT_REPLY_DIR,
    OPENSIPS_CLI_SECTION,
    MiEndpoint,
    MiError,
    check_mi_url,
    cli_cfg_section,
    endpoint_from_cli_cfg,
    parse_opensips_cli_cfg,
)
from tlsmgm_cli.core.util.yamlsafe import UnreadableScalar, load_yaml

#: at most this many nodes are asked at the same time
MAX_PARALLEL_NODES = 32
NODE_KEYS = ("name", "url", "fifo", "reply_dir", "user", "password_env", "password_file", "timeout")
_NAMED_URL = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.\-]*)=(https?://.*)$", re.IGNORECASE | re.DOTALL)


class NodesError(UsageError):
    """The list of nodes cannot be built (bad nodes file, duplicate name, missing secret):
    a usage error."""


@dataclass(slots=True)
class Node:
    """One OpenSIPS to ask. ``problem`` is set when it cannot be asked at all (e.g. an
    opensips-cli instance with a transport tlsmgm cannot speak): it is reported as
    unreachable without a request."""

    name: str
    endpoint: MiEndpoint | None
    origin: str
    problem: str | None = None

    @property
    def shown(self) -> str:
        """Where the node is, password masked."""
        return str(self.endpoint) if self.endpoint is not None else "-"


@dataclass(slots=True)
class NodeResult:
    """What one node answered: ``status`` ``ok`` (``reply`` holds the result) or
    ``unreachable`` (``error`` says why: no answer, refused, HTTP 401, a JSON-RPC error, a
    reply that is not a tls_list reply...)."""

    node: Node
    status: str
    reply: Any = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def url_node_name(url: str) -> str:
    """A node's default name: the URL's host and port (never its userinfo)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    host = f"[{host}]" if ":" in host else host
    try:
        port = parts.port
    except ValueError:
        port = None
    return host if port is None else f"{host}:{port}"


def split_named_url(value: str) -> tuple[str | None, str]:
    """``NAME=URL`` -> (NAME, URL); a bare URL -> (None, URL)."""
    m = _NAMED_URL.match(value)
    return (m.group(1), m.group(2)) if m else (None, value)


def nodes_from_urls(urls: list[str] | tuple[str, ...], *, timeout: float) -> list[Node]:
    """One node per ``--mi-url`` (``NAME=URL`` or a URL)."""
    nodes = []
    for value in urls:
        name, url = split_named_url(value)
        check_mi_url(url)
        nodes.append(Node(name or url_node_name(url), MiEndpoint("http", url=url, timeout=timeout,
                                                                  origin="--mi-url"), "--mi-url"))
    return nodes


def nodes_from_cli_cfg(path: Path, *, timeout: float, reply_dir: str | None = None) -> list[Node]:
    """Every instance of an opensips-cli config that has an MI connection (communication_type,
    url or fifo_file, its own or inherited from ``[default]``); ``[default]`` itself when there
    is no other section. An instance whose transport tlsmgm cannot speak becomes a node with a
    ``problem``."""
    parser = parse_opensips_cli_cfg(path)
    sections = parser.sections() or [OPENSIPS_CLI_SECTION]
    nodes = []
    for section in sections:
        keys = cli_cfg_section(parser, section)
        if not any(k in keys for k in ("communication_type", "url", "fifo_file")):
            continue  # an instance without an MI connection (e.g. database settings only)
        where = f" [{section}]"
        try:
            endpoint = endpoint_from_cli_cfg(keys, cfg_path=path,
                                             timeout=timeout, reply_dir=reply_dir, where=where)
        except MiError as err:
            nodes.append(Node(section, None, f"{path}{where}", problem=str(err)))
            continue
        nodes.append(Node(section, endpoint, endpoint.origin))
    if not nodes:
        raise NodesError(f"{path}: no opensips-cli instance ([section]) sets an MI connection "
                         "(communication_type, url or fifo_file)")
    return nodes


def _with_userinfo(url: str, user: str, password: str | None) -> str:
    parts = urlsplit(url)
    userinfo = quote(user, safe="")
    if password is not None:
        userinfo += ":" + quote(password, safe="")
    return urlunsplit((parts.scheme, f"{userinfo}@{parts.netloc}", parts.path, parts.query, parts.fragment))


def _password(entry: dict[str, Any], where: str, env: dict[str, str]) -> str | None:
    from tlsmgm_cli.core.util.safeio import read_bytes_limited

    if "password_env" in entry:
        var = entry["password_env"]
        if not isinstance(var, str) or not var:
            raise NodesError(f"{where}: password_env must name an environment variable")
        value = env.get(var)
        if not value:
            raise NodesError(f"{where}: the environment variable {var} (password_env) is not set")
        return value
    if "password_file" in entry:
        pw_path = entry["password_file"]
        if not isinstance(pw_path, str) or not pw_path:
            raise NodesError(f"{where}: password_file must be a file path")
        raw = read_bytes_limited(Path(pw_path).expanduser(), limit=limits.SETTINGS_MAX_BYTES,
                                 what="password file")
        try:
            lines = raw.decode("utf-8").splitlines()
        except UnicodeDecodeError:
            raise NodesError(f"{where}: the password file {pw_path} is not UTF-8 text") from None
        if not lines or not lines[0]:
            raise NodesError(f"{where}: the password file {pw_path} is empty")
        return lines[0]
    return None


def _node_from_entry(entry: Any, index: int, path: str, *, timeout: float, reply_dir: str | None,
                     env: dict[str, str]) -> Node:
    from tlsmgm_cli.core.net.urls import mask_url

    where = f"{path}: node {index + 1}"
    if isinstance(entry, UnreadableScalar):
        raise NodesError(f"{where}: {entry.describe()}")
    if not isinstance(entry, dict):
        raise NodesError(f"{where}: expected a mapping with name and url, not a {type(entry).__name__}")
    bad_value = next(((k, v) for k, v in entry.items() if isinstance(v, UnreadableScalar)), None)
    if bad_value is not None:  # e.g. timeout: 9...9 (5,000 digits)
        raise NodesError(f"{where}: {bad_value[0]}: {bad_value[1].describe()}")
    unknown = [str(k) for k in entry if k not in NODE_KEYS]
    if "password" in unknown:
        raise NodesError(f"{where}: a password is never written in the nodes file: use password_env: VAR "
                         "or password_file: PATH")
    if unknown:
        raise NodesError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(NODE_KEYS)})")
    name = entry.get("name")
    if name is not None and (not isinstance(name, str | int) or isinstance(name, bool) or not str(name)):
        raise NodesError(f"{where}: name must be a non-empty string")
    url, fifo = entry.get("url"), entry.get("fifo")
    if (url is None) == (fifo is None):
        raise NodesError(f"{where}: give exactly one of url (mi_http) and fifo (mi_fifo)")
    if not isinstance(url if url is not None else fifo, str):
        raise NodesError(f"{where}: {'url' if url is not None else 'fifo'} must be a string")
    if name is not None:
        where = f"{path}: node {name!r}"
    node_timeout = entry.get("timeout", timeout)
    if isinstance(node_timeout, bool) or not isinstance(node_timeout, int | float) \
            or not 0 < node_timeout <= 86400:
        raise NodesError(f"{where}: timeout must be a number of seconds above 0 (at most 86400)")
    if "password_env" in entry and "password_file" in entry:
        raise NodesError(f"{where}: give password_env or password_file, not both")
    user = entry.get("user")
    if user is not None and not isinstance(user, str):
        raise NodesError(f"{where}: user must be a string")
    if fifo is not None:
        if user is not None or "password_env" in entry or "password_file" in entry:
            raise NodesError(f"{where}: user and password apply to url (mi_http) nodes only")
        rdir = entry.get("reply_dir", reply_dir or DEFAULT_REPLY_DIR)
        if not isinstance(rdir, str):
            raise NodesError(f"{where}: reply_dir must be a directory path")
        endpoint = MiEndpoint("fifo", fifo=fifo, reply_dir=rdir, timeout=float(node_timeout), origin=path)
        return Node(str(name) if name is not None else f"FIFO {fifo}", endpoint, path)
    assert isinstance(url, str)  # exactly one of url and fifo is given, and it is a string (above)
    check_mi_url(url, origin=where)
    password = _password(entry, where, env)
    if user is not None or password is not None:
        if "@" in urlsplit(url).netloc:
            raise NodesError(f"{where}: the url {mask_url(url)} already holds credentials; drop user/"
                             "password_env/password_file or the user@ of the url")
        url = _with_userinfo(url, user or "", password)
    endpoint = MiEndpoint("http", url=url, timeout=float(node_timeout), origin=path)
    return Node(str(name) if name is not None else url_node_name(url), endpoint, path)


def read_nodes_file(path: str, *, timeout: float, reply_dir: str | None = None,
                    env: dict[str, str] | None = None) -> list[Node]:
    """The nodes a YAML nodes file lists (see the module docstring)."""
    import yaml

    from tlsmgm_cli.core.util.safeio import read_bytes_limited

    raw = read_bytes_limited(Path(path).expanduser(), limit=limits.SETTINGS_MAX_BYTES, what="nodes file")
    try:
        data = load_yaml(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise NodesError(f"{path}: the nodes file is not UTF-8 text") from None
    except yaml.YAMLError as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise NodesError(f"{path}: cannot read the nodes file: {first}") from None
    except RecursionError:
        raise NodesError(f"{path}: cannot read the nodes file: nested too deeply") from None
    if isinstance(data, dict) and set(data) == {"nodes"}:
        data = data["nodes"]
    if not isinstance(data, list) or not data:
        raise NodesError(f"{path}: expected a non-empty list of nodes (- name: NAME, url: URL)")
    environ = dict(os.environ) if env is None else env
    return [_node_from_entry(entry, i, path, timeout=timeout, reply_dir=reply_dir, env=environ)
            for i, entry in enumerate(data)]


def check_unique_names(nodes: list[Node]) -> list[Node]:
    """``nodes`` unchanged; NodesError when two share a name (the output is keyed by it)."""
    seen: dict[str, Node] = {}
    for node in nodes:
        if node.name in seen:
            raise NodesError(f"two nodes are named {node.name!r} ({seen[node.name].origin} and "
                             f"{node.origin}): give each a distinct name (--mi-url NAME=URL, or "
                             "name: in the nodes file)")
        seen[node.name] = node
    return nodes


def query_nodes(nodes: list[Node], method: str, *, validate: Any = None) -> list[NodeResult]:
    """Run ``method`` on every node concurrently; results in ``nodes`` order. ``validate
    (reply, origin)`` may raise TlsmgmError for a reply of the wrong shape: the node is then
    reported unreachable with that reason."""
    from concurrent.futures import ThreadPoolExecutor

    from tlsmgm_cli.core.mi.client import call

    def ask(node: Node) -> NodeResult:
        if node.endpoint is None:
            return NodeResult(node, "unreachable", error=node.problem or "cannot be asked")
        shown = str(node.endpoint)
        try:
            reply = call(node.endpoint, method)
            if validate is not None:
                validate(reply, shown)
        except TlsmgmError as err:
            return NodeResult(node, "unreachable", error=str(err).removeprefix(f"{shown}: "))
        return NodeResult(node, "ok", reply=reply)

    if not nodes:
        return []
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_NODES, len(nodes)),
                            thread_name_prefix="tlsmgm-node") as pool:
        return list(pool.map(ask, nodes))


def fleet_requested(mi_urls: list[str] | tuple[str, ...], nodes_file: str | None, all_instances: bool) -> bool:
    """Whether the options ask several nodes (the fleet output), rather than one as before:
    a nodes file, every opensips-cli instance, or more than one --mi-url."""
    return bool(nodes_file) or all_instances or len(mi_urls) > 1


def resolve_nodes(*, mi_urls: list[str] | tuple[str, ...] = (), fifo: str | None = None,
                  reply_dir: str | None = None, timeout: float, cli_cfg: str | None = None,
                  nodes_file: str | None = None, all_instances: bool = False,
                  env: dict[str, str] | None = None) -> list[Node]:
    """Every node the options name: the --mi-url ones, then --fifo, then the nodes file's,
    then the opensips-cli instances; names unique."""
    from tlsmgm_cli.core.mi.client import find_opensips_cli_cfg

    if not 0 < timeout < float("inf"):
        raise MiError(f"--timeout must be a positive number of seconds, not {timeout}")
    nodes = nodes_from_urls(mi_urls, timeout=timeout)
    if fifo:
        nodes.append(Node("fifo", MiEndpoint("fifo", fifo=fifo, reply_dir=reply_dir or DEFAULT_REPLY_DIR,
                                             timeout=timeout, origin="--fifo"), "--fifo"))
    if nodes_file:
        nodes += read_nodes_file(nodes_file, timeout=timeout, reply_dir=reply_dir, env=env)
    if all_instances:
        cfg_path = find_opensips_cli_cfg(cli_cfg)
        if cfg_path is None:
            raise NodesError("--all-instances: no opensips-cli config found (looked for "
                             "~/.opensips-cli.cfg, /etc/opensips-cli.cfg, /etc/opensips/opensips-cli.cfg; "
                             "name one with --cli-config)")
        nodes += nodes_from_cli_cfg(cfg_path, timeout=timeout, reply_dir=reply_dir)
    return check_unique_names(nodes)
