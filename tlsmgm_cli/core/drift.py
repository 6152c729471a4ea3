"""Drift between what a running OpenSIPS holds (its MI ``tls_list`` reply) and what the
config (and DB) say it should hold (``core.mi.tls_list`` of the loaded DomainSet).

Domains are paired by (name, type); key order inside a domain object does not matter,
the order of the filter arrays does (it is OpenSIPS's stored order). A domain is
script-defined when its entry has ``CERT_FILE`` (tls_list omits the file keys for DB
domains, spec §5.5). ``tls_reload`` reloads DB domains only and leaves script domains
untouched (spec §5.4), so drift in script domains needs a restart.

tls_list shows paths, not file contents: a certificate renewed in place under the same
path is not drift here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
    the shape OpenSIPS gives (spec §10)."""
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
    return reply["Domains"]


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
