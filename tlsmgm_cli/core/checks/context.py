"""What every check module works with: the ``Finding`` it reports and the ``CheckContext``
of one run (time of the check, file resolution, the shared file cache, rule selection)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tlsmgm_cli.core.checks.filecache import FileCache
from tlsmgm_cli.core.checks.rules import ERROR, RULES, STOPS_START_RULES
from tlsmgm_cli.core.domain import DomainSet, TlsDomain
from tlsmgm_cli.core.errors import Loc

if TYPE_CHECKING:
    from tlsmgm_cli.core.matching.matcher import DomainMatcher


@dataclass(slots=True)
class Finding:
    """One problem: a rule, where (domain/side, file:line) and what, in OpenSIPS's words
    where OpenSIPS reports the condition."""

    rule: str
    severity: str
    domain: str | None
    side: str | None
    message: str
    hint: str | None = None
    file: str | None = None
    line: int | None = None
    openssl: str | None = None
    stops_start: bool = False  # OpenSIPS exits at startup on it (behaviour §9)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``check --format json`` (``openssl`` is text-only)."""
        return {"rule": self.rule, "severity": self.severity, "domain": self.domain, "side": self.side,
                "message": self.message, "hint": self.hint, "file": self.file, "line": self.line,
                "stops_start": self.stops_start}


@dataclass
class CheckContext:
    """State of one ``run_checks`` call, handed to every check function."""

    domset: DomainSet
    now: dt.datetime
    warn_days: int
    library: str  # "openssl" | "wolfssl" | "none"
    files: FileCache
    wanted: Callable[[str], bool]
    root: str | None = None
    findings: list[Finding] = field(default_factory=list)

    def matcher(self) -> DomainMatcher:
        """The one domain matcher of this run, built on first use (reachability rules and
        TLS407's initial-domain test share it)."""
        from tlsmgm_cli.core.matching.matcher import DomainMatcher

        matcher: DomainMatcher = self.files.memo(("matcher",), lambda: DomainMatcher(self.domset))
        return matcher

    def add(self, rule_id: str, message: str, *, dom: TlsDomain | None = None, param: str | None = None,
            loc: Loc | None = None, severity: str | None = None, hint: str | None = None,
            openssl: str | None = None, domain: str | None = None, side: str | None = None,
            stops_start: bool | None = None) -> None:
        """Record a finding of ``rule_id`` (dropped when the rule is not selected).
        The location is ``loc``, else where ``dom`` set ``param`` (else its declaration).
        ``stops_start`` defaults to: an error of a STOPS_START_RULES rule about the config
        or a script domain (a failing DB domain is skipped, not fatal)."""
        if not self.wanted(rule_id):
            return
        rule = RULES[rule_id]
        if loc is None and dom is not None:
            loc = dom.where(param)
        severity = severity or rule.severity
        if stops_start is None:
            stops_start = rule_id in STOPS_START_RULES and not (dom is not None and dom.from_db)
        self.findings.append(Finding(
            rule=rule_id, severity=severity,
            domain=dom.name if dom is not None else domain, side=dom.side if dom is not None else side,
            message=message, hint=hint if hint is not None else rule.hint,
            file=loc.file if loc else None, line=loc.line if loc else None, openssl=openssl,
            stops_start=bool(stops_start) and severity == ERROR))

    def resolve(self, path: str) -> str:
        """Where OpenSIPS would open ``path``: relative paths against '/', its default
        working directory (behaviour §6.14), and under ``root`` when checking a copy of the
        server's file tree."""
        absolute = path if os.path.isabs(path) else "/" + path
        if self.root:
            return os.path.join(self.root, absolute.lstrip("/"))
        return absolute
