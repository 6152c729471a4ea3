"""Drift between what a running OpenSIPS holds (its MI ``tls_list`` reply) and what the
config (and DB) say it should hold (``core.mi.tls_list`` of the loaded DomainSet).

Domains are paired by (name, type); key order inside a domain object does not matter,
the order of the filter arrays does (it is OpenSIPS's stored order). A domain is
script-defined when its entry has ``CERT_FILE`` (tls_list omits the file keys for DB
domains, behaviour §7.1). ``tls_reload`` reloads DB domains only and leaves script domains
untouched (behaviour §7.5), so drift in script domains needs a restart.

tls_list shows paths, not file contents: a certificate renewed in place under the same
path is not drift here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from tlsmgm_cli.core.errors import TlsmgmError

DOMAIN_TYPES = {"TLS_DOMAIN_SRV": "server", "TLS_DOMAIN_CLI": "client"}

# tls_list key -> the kind of drift it is, in tls_list key order
FIELD_GROUPS: dict[str, str] = {
    "IP ADDRESS FILTERS": "filters",
    "SIP DOMAIN FILTERS": "filters",
    "METHOD": "method",
    "VERIFY_CERT": "flags",
    "REQ_CLI_CERT": "flags",
    "CRL_CHECKALL": "flags",
    "CERT_FILE": "files",
    "CRL_DIR": "files",
    "CA_FILE": "files",
    "CA_DIR": "files",
    "PKEY_FILE": "files",
    "CIPHER_LIST": "ciphers",
    "DH_PARAMS_FILE": "files",
    "EC_CURVE": "ciphers",
}
_IDENTITY_KEYS = ("name", "type")


@dataclass(slots=True)
class FieldChange:
    """One key whose value differs; ``None`` means the key is absent on that side."""

    key: str
    group: str
    expected: Any
    live: Any

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "group": self.group, "expected": self.expected, "live": self.live}


@dataclass(slots=True)
class DomainDrift:
    """A domain missing from the server, extra on the server, or different."""

    name: str
    type: str  # TLS_DOMAIN_SRV | TLS_DOMAIN_CLI
    kind: str  # "missing" (in the config, not live) | "extra" (live only) | "changed"
    source: str  # "script" | "db" ("script" when either side is script-defined)
    changes: list[FieldChange] = field(default_factory=list)

    @property
    def side(self) -> str:
        return DOMAIN_TYPES[self.type]

    @property
    def reload_fixes(self) -> bool:
        """Whether an MI tls_reload can bring the server in line (DB domains only)."""
        return self.source == "db"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "side": self.side, "kind": self.kind,
                "source": self.source, "reload_fixes": self.reload_fixes,
                "changes": [c.to_dict() for c in self.changes]}


@dataclass(slots=True)
class DriftReport:
    drifts: list[DomainDrift]
    live_count: int
    expected_count: int

    @property
    def has_drift(self) -> bool:
        return bool(self.drifts)

    @property
    def script_drifts(self) -> list[DomainDrift]:
        return [d for d in self.drifts if not d.reload_fixes]

    @property
    def reload_drifts(self) -> list[DomainDrift]:
        return [d for d in self.drifts if d.reload_fixes]

    @property
    def script_only(self) -> bool:
        """Drift exists and none of it is in DB domains: tls_reload would change nothing."""
        return self.has_drift and not self.reload_drifts

    def to_dict(self) -> dict[str, Any]:
        return {"drift": self.has_drift, "live_domains": self.live_count,
                "expected_domains": self.expected_count, "script_only": self.script_only,
                "domains": [d.to_dict() for d in self.drifts]}


def validate_tls_list(reply: Any, *, origin: str = "the server") -> list[dict[str, Any]]:
    """The ``Domains`` array of a tls_list reply; TlsmgmError when the reply does not have
    the shape OpenSIPS gives (behaviour §7.1)."""
    def garbage(why: str) -> TlsmgmError:
        return TlsmgmError(f"{origin}: the tls_list reply is not what OpenSIPS's tls_list returns: {why}")

    if not isinstance(reply, dict) or not isinstance(reply.get("Domains"), list):
        raise garbage('expected an object {"Domains": [...]}')
    for i, dom in enumerate(reply["Domains"]):
        if not isinstance(dom, dict):
            raise garbage(f"Domains[{i}] is not an object")
        if not isinstance(dom.get("name"), str):
            raise garbage(f"Domains[{i}] has no string 'name'")
        if dom.get("type") not in DOMAIN_TYPES:
            raise garbage(f"Domains[{i}] ({dom['name']!r}) has type {dom.get('type')!r}, "
                          "not TLS_DOMAIN_SRV or TLS_DOMAIN_CLI")
        for key, value in dom.items():  # OpenSIPS gives strings, booleans and string arrays only
            if isinstance(value, list) and all(isinstance(v, _SCALARS) for v in value):
                continue
            if not isinstance(value, _SCALARS):
                raise garbage(f"Domains[{i}] ({dom['name']!r}) key {key!r} holds a nested "
                              f"{type(value).__name__}, not a string, boolean or array of strings")
    return cast("list[dict[str, Any]]", reply["Domains"])  # each entry checked above


_SCALARS = (str, bool, int, float, type(None))


def _source(entry: dict[str, Any]) -> str:
    return "script" if "CERT_FILE" in entry else "db"


def _field_changes(expected: dict[str, Any], live: dict[str, Any]) -> list[FieldChange]:
    keys = [k for k in FIELD_GROUPS if k in expected or k in live]
    keys += sorted(k for k in set(expected) | set(live)
                   if k not in FIELD_GROUPS and k not in _IDENTITY_KEYS)
    return [FieldChange(k, FIELD_GROUPS.get(k, "other"), expected.get(k), live.get(k))
            for k in keys if expected.get(k) != live.get(k) or (k in expected) != (k in live)]


def _by_identity(domains: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for dom in domains:
        grouped.setdefault((dom["name"], dom["type"]), []).append(dom)
    return grouped


def compare_tls_list(live_reply: Any, expected_reply: dict[str, Any], *,
                     origin: str = "the server") -> DriftReport:
    """Compare a live tls_list reply with the predicted one. Drifts come in the expected
    reply's order, then the live-only domains in the live order."""
    live = validate_tls_list(live_reply, origin=origin)
    expected = validate_tls_list(expected_reply, origin="the config")
    live_by_id = _by_identity(live)
    drifts: list[DomainDrift] = []
    for ident, entries in _by_identity(expected).items():
        live_entries = live_by_id.pop(ident, [])
        for i, exp in enumerate(entries):
            if i >= len(live_entries):
                drifts.append(DomainDrift(ident[0], ident[1], "missing", _source(exp)))
                continue
            got = live_entries[i]
            changes = _field_changes(exp, got)
            if changes:
                source = "script" if "script" in (_source(exp), _source(got)) else "db"
                drifts.append(DomainDrift(ident[0], ident[1], "changed", source, changes))
        for got in live_entries[len(entries):]:
            drifts.append(DomainDrift(ident[0], ident[1], "extra", _source(got)))
    for ident, entries in live_by_id.items():
        drifts.extend(DomainDrift(ident[0], ident[1], "extra", _source(got)) for got in entries)
    return DriftReport(drifts, live_count=len(live), expected_count=len(expected))


# ---- several nodes --------------------------------------------------------------------

#: a cell of the domains x nodes matrix
IN_SYNC = "ok"  # the node holds the domain as the config says
ABSENT = "absent"  # neither the config nor the node has it (another node does): consistent
UNKNOWN = "unknown"  # the node did not answer


@dataclass(slots=True)
class FleetNode:
    """One node of a fleet diff: its answer compared with the config, or why there is none."""

    name: str
    shown: str  # where it is, password masked
    origin: str
    status: str  # "ok" | "unreachable"
    error: str | None = None
    report: DriftReport | None = None

    @property
    def has_drift(self) -> bool:
        return self.report is not None and self.report.has_drift

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "url": self.shown, "origin": self.origin,
                               "status": self.status, "error": self.error,
                               "drift": self.has_drift if self.report is not None else None}
        if self.report is not None:
            out.update(live_domains=self.report.live_count, script_only=self.report.script_only,
                       differing_domains=len(self.report.drifts))
        return out


@dataclass(slots=True)
class FleetCell:
    """What one node holds of one domain: ``state`` is ``ok``, ``absent``, ``unknown``, or
    the drift kinds joined by ``+`` (``missing``, ``extra``, ``changed``)."""

    state: str
    changes: list[FieldChange] = field(default_factory=list)
    source: str | None = None  # of the drift, when there is one

    @property
    def drift(self) -> bool:
        return self.state not in (IN_SYNC, ABSENT, UNKNOWN)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"state": self.state, "drift": self.drift}
        if self.drift:
            out["reload_fixes"] = self.source == "db"
        if self.changes:
            out["changes"] = [c.to_dict() for c in self.changes]
        return out


@dataclass(slots=True)
class FleetRow:
    """One domain (name, type) of the config or of any node, across every node."""

    name: str
    type: str
    in_config: bool
    source: str  # "script" | "db": the config's entry, else the first node's that holds it
    cells: dict[str, FleetCell] = field(default_factory=dict)

    @property
    def side(self) -> str:
        return DOMAIN_TYPES[self.type]

    @property
    def drift(self) -> bool:
        return any(c.drift for c in self.cells.values())

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "side": self.side, "in_config": self.in_config,
                "source": self.source, "drift": self.drift,
                "nodes": {name: cell.to_dict() for name, cell in self.cells.items()}}


@dataclass(slots=True)
class FleetReport:
    nodes: list[FleetNode]
    rows: list[FleetRow]
    expected_count: int

    @property
    def has_drift(self) -> bool:
        return any(n.has_drift for n in self.nodes)

    @property
    def unreachable(self) -> list[FleetNode]:
        return [n for n in self.nodes if n.status != "ok"]

    @property
    def in_sync(self) -> bool:
        return not self.has_drift and not self.unreachable

    @property
    def drifts(self) -> list[DomainDrift]:
        """Every node's drifts, node after node."""
        return [d for n in self.nodes if n.report is not None for d in n.report.drifts]

    def to_dict(self) -> dict[str, Any]:
        return {"in_sync": self.in_sync, "drift": self.has_drift,
                "unreachable": [n.name for n in self.unreachable],
                "expected_domains": self.expected_count,
                "nodes": [n.to_dict() for n in self.nodes],
                "domains": [r.to_dict() for r in self.rows]}


def compare_fleet(answers: list[tuple[str, str, str, Any, str | None]],
                  expected_reply: dict[str, Any]) -> FleetReport:
    """Compare every node's tls_list reply with the predicted one. ``answers`` holds, per
    node, ``(name, shown, origin, reply, error)``: ``reply`` None means the node did not
    answer (``error`` says why). A reply of the wrong shape makes the node unreachable with
    that reason. Rows: the config's domains in its order, then the domains only nodes hold,
    in node order."""
    expected = validate_tls_list(expected_reply, origin="the config")
    nodes: list[FleetNode] = []
    held: list[list[dict[str, Any]]] = []  # the domains of each node that answered
    for name, shown, origin, reply, error in answers:
        if reply is None:
            nodes.append(FleetNode(name, shown, origin, "unreachable", error or "no answer"))
            continue
        try:
            report = compare_tls_list(reply, expected_reply, origin=shown)
        except TlsmgmError as err:
            nodes.append(FleetNode(name, shown, origin, "unreachable", str(err).removeprefix(f"{shown}: ")))
            continue
        nodes.append(FleetNode(name, shown, origin, "ok", report=report))
        held.append(reply["Domains"])
    rows: dict[tuple[str, str], FleetRow] = {}
    for dom in expected:
        ident = (dom["name"], dom["type"])
        if ident not in rows:
            rows[ident] = FleetRow(ident[0], ident[1], True, _source(dom))
    for domains in held:
        for dom in domains:
            ident = (dom["name"], dom["type"])
            if ident not in rows:
                rows[ident] = FleetRow(ident[0], ident[1], False, _source(dom))
    drifts_by_node = {node.name: _drifts_by_identity(node.report) for node in nodes}
    for row in rows.values():
        for node in nodes:
            row.cells[node.name] = _cell(row, node, drifts_by_node[node.name])
    return FleetReport(nodes, list(rows.values()), expected_count=len(expected))


def _drifts_by_identity(report: DriftReport | None) -> dict[tuple[str, str], list[DomainDrift]]:
    grouped: dict[tuple[str, str], list[DomainDrift]] = {}
    for d in report.drifts if report is not None else []:
        grouped.setdefault((d.name, d.type), []).append(d)
    return grouped


def _cell(row: FleetRow, node: FleetNode, drifts: dict[tuple[str, str], list[DomainDrift]]) -> FleetCell:
    if node.report is None:
        return FleetCell(UNKNOWN)
    mine = drifts.get((row.name, row.type), [])
    if not mine:
        return FleetCell(IN_SYNC if row.in_config else ABSENT)
    kinds = list(dict.fromkeys(d.kind for d in mine))
    source = "script" if any(d.source == "script" for d in mine) else "db"
    return FleetCell("+".join(kinds), [c for d in mine for c in d.changes], source)
