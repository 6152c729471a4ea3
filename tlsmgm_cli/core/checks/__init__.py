"""``tlsmgm check``: every rule over a DomainSet (script and DB domains, as loaded), in one run.

* ``rules`` — the rule catalogue: IDs, severities, hints, and which rules stop a start.
* ``context`` — the ``Finding`` and the ``CheckContext`` of one run.
* ``filecache`` — every file ``check`` reads, parsed once per path.
* ``config`` — config rules: diagnostics, tls_method, library modules and load order.
* ``files`` — certificate, key, CA and CRL files as tls_openssl would load them.
* ``certs`` — certificate rules: chain, validity, key strength, EKU, SAN coverage.
* ``crypto`` — ciphers_list, dh_params and ec_curve, compiled with the local OpenSSL.
* ``reach`` — reachability rules answered by the one domain matcher.
* ``expiry`` — expiry data for ``--format prometheus|nagios``.

Implements behaviour §9 (what stops OpenSIPS: §9.1 to §9.4) over the facts of §1 to §8.

:func:`run_checks` turns every reader/model diagnostic into a finding of a mapped rule,
then runs the per-domain rules (config, files, certificates, crypto settings) and the
reachability rules (the domain matcher). Nothing touches the network; files are read once
per path (``FileCache``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from tlsmgm_cli.core.checks.context import CheckContext, Finding
from tlsmgm_cli.core.checks.filecache import FileCache
from tlsmgm_cli.core.checks.rules import (
    ERROR,
    NOTE,
    RULES,
    SEVERITY_ORDER,
    WARNING,
    Rule,
    expand_rule_selection,
)
from tlsmgm_cli.core.domain import DomainSet, TlsDomain
from tlsmgm_cli.core.errors import UsageError
from tlsmgm_cli.core.util import parallel

__all__ = ["CheckReport", "Finding", "Rule", "RULES", "run_checks", "fails"]

ProgressFn = Callable[[int, int], None]
DB_UNREAD_RULES = ("TLS047", "TLS048")


@dataclass
class CheckReport:
    """The findings of one run and their counts."""

    findings: list[Finding] = field(default_factory=list)
    domains: int = 0
    opensips_version: str = "3.6.8"
    partial: bool = False  # --select/--ignore left some rules out

    @property
    def stoppers(self) -> list[Finding]:
        """The findings that stop OpenSIPS at startup."""
        return [f for f in self.findings if f.stops_start]

    @property
    def unreadable(self) -> bool:
        """The config could not be read at all (its preprocessor failed, TLS005 as an
        error): nothing was checked, so whether OpenSIPS starts is unknown."""
        return any(f.rule == "TLS005" and f.severity == ERROR for f in self.findings)

    @property
    def opensips_would_start(self) -> bool | None:
        """False when a finding stops OpenSIPS, None when the config could not be read."""
        if self.stoppers:
            return False
        return None if self.unreadable else True

    @property
    def db_not_checked(self) -> bool:
        """The DB-defined domains could not be read (TLS047/TLS048)."""
        return any(f.rule in DB_UNREAD_RULES for f in self.findings)

    @property
    def unresolved_listeners(self) -> bool:
        """A TLS listener's host name did not resolve here (TLS049): the start depends on
        the server's resolver."""
        return any(f.rule == "TLS049" for f in self.findings)

    @property
    def summary(self) -> dict[str, int]:
        counts = {ERROR: 0, WARNING: 0, NOTE: 0}
        for finding in self.findings:
            counts[finding.severity] = counts.get(finding.severity, 0) + 1
        return {"domains": self.domains, "errors": counts[ERROR], "warnings": counts[WARNING],
                "notes": counts[NOTE]}

    def to_dict(self) -> dict[str, Any]:
        """The ``--format json`` document."""
        return {"findings": [f.to_dict() for f in self.findings], "summary": self.summary,
                "opensips_would_start": self.opensips_would_start}

    def rules_hit(self) -> list[Rule]:
        return [RULES[rid] for rid in sorted({f.rule for f in self.findings})]


def fails(report: CheckReport, fail_on: str) -> bool:
    """Whether some finding is at least as severe as ``fail_on`` (error|warning|note)."""
    limit = SEVERITY_ORDER[fail_on]
    return any(SEVERITY_ORDER.get(f.severity, 2) <= limit for f in report.findings)


def _selector(select: list[str] | None, ignore: list[str] | None) -> Callable[[str], bool]:
    """Whether a rule runs, for ``select``/``ignore``; raises TlsmgmError for an unknown
    rule and for a selection that leaves no rule to run (a check that checks nothing
    must not pass)."""
    try:
        chosen = expand_rule_selection(select)
        dropped = expand_rule_selection(ignore) or set()
    except ValueError as err:
        raise UsageError(str(err)) from None
    if chosen is not None and not chosen:
        raise UsageError(f"--select {','.join(select or [])!r} names no rule "
                         "(see tlsmgm check --list-rules)")
    if not (set(RULES) if chosen is None else chosen) - dropped:
        raise UsageError("--select/--ignore leave no rule to run (see tlsmgm check --list-rules)")
    return lambda rule_id: (chosen is None or rule_id in chosen) and rule_id not in dropped


def run_checks(domset: DomainSet, *, now: dt.datetime | None = None, warn_days: int = 30,
               select: list[str] | None = None, ignore: list[str] | None = None,
               progress: ProgressFn | None = None, root: str | None = None,
               jobs: int | None = None) -> CheckReport:
    """Check ``domset`` (from ``load_domains``) at time ``now`` (default: the current UTC
    time). ``select``/``ignore`` take rule ids or id prefixes (comma lists allowed);
    ``progress(done, total)`` is called after each domain; ``root`` is a directory that
    holds a copy of the server's files (absolute paths are looked up under it); ``jobs``
    is the number of processes (2: a big config is checked in two halves, 1: no fork;
    None: ``$TLSMGM_JOBS`` or ``parallel.DEFAULT_JOBS``)."""
    from tlsmgm_cli.core.cfg.modparams import effective_library
    from tlsmgm_cli.core.checks import config, reach

    if now is None:
        now = dt.datetime.now(dt.timezone.utc)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=dt.timezone.utc)
    ctx = CheckContext(domset=domset, now=now, warn_days=warn_days, library=effective_library(domset),
                       files=FileCache(), wanted=_selector(select, ignore), root=root)
    domains = [d for d in domset.all if d.db_skip is None]
    jobs = parallel.jobs_setting(None) if jobs is None else jobs
    with parallel.gc_paused():
        config.check_config(ctx)
        if len(domains) >= _PARALLEL_MIN_DOMAINS and jobs >= 2:
            _check_domains_in_two_processes(ctx, domains, progress, jobs)
        else:
            _check_domains(ctx, domains, progress)
        reach.check_reachability(ctx)
    if ctx.library == "none":
        _library_none_does_not_abort(ctx.findings)
    version = ".".join(str(n) for n in domset.opensips_version)
    return CheckReport(findings=ctx.findings, domains=len(domains), opensips_version=version,
                       partial=bool(select or ignore))


_PARALLEL_MIN_DOMAINS = 2000


def _check_domains(ctx: CheckContext, domains: list[TlsDomain], progress: ProgressFn | None, *,
                   done_before: int = 0, total: int | None = None) -> None:
    """The per-domain rules, in domain order. Chain verifications are started ahead of the
    checks: their signatures are checked on a second thread while this one goes on with
    the other rules."""
    from tlsmgm_cli.core.checks import certs, config, crypto, files

    total = total if total is not None else len(domains)
    verifier = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tlsmgm-verify")
    try:
        for dom in domains:
            certs.start_chain(ctx, dom, verifier)
        for done, dom in enumerate(domains, done_before + 1):
            config.check_domain(ctx, dom)
            files.check_domain(ctx, dom)
            certs.check_domain(ctx, dom)
            crypto.check_domain(ctx, dom)
            if progress is not None:
                progress(done, total)
    finally:
        verifier.shutdown(cancel_futures=True)  # after an error, drop the queued verifications


def _check_domains_in_two_processes(ctx: CheckContext, domains: list[TlsDomain], progress: ProgressFn | None,
                                   jobs: int) -> None:
    """Many domains: a forked child (sharing the loaded config copy-on-write; forked before
    this run starts its verification thread, and the progress bar runs no thread) checks
    the second half while this process checks the first (``parallel.run_in_two``: if the
    child fails, its half is checked here); the findings keep domain order."""
    from tlsmgm_cli.core.checks import certs, crypto, files  # noqa: F401 - imported before the fork

    mid, total = len(domains) // 2, len(domains)

    def second_half(in_child: bool) -> list[Finding]:
        kept, ctx.findings = ctx.findings, []
        try:
            _check_domains(ctx, domains[mid:], None if in_child else progress, done_before=mid, total=total)
            return ctx.findings
        finally:
            ctx.findings = kept

    found = parallel.run_in_two(lambda: _check_domains(ctx, domains[:mid], progress, total=total),
                                second_half, jobs=jobs)
    ctx.findings.extend(found)
    if progress is not None:
        progress(total, total)


_LIBRARY_LEVEL_CATEGORIES = ("files", "certificates", "crypto")


def _library_none_does_not_abort(findings: list[Finding]) -> None:
    """With tls_library "none" OpenSIPS opens no file and runs none of the library-level
    checks (behaviour §6.1): what would abort startup only breaks the module that borrows the
    domain later, so file/certificate/crypto errors become warnings."""
    for f in findings:
        if f.severity == ERROR and RULES[f.rule].category in _LIBRARY_LEVEL_CATEGORIES:
            f.severity = WARNING
            f.stops_start = False
            f.hint = ((f.hint + " ") if f.hint else "") + (
                "(tls_library is \"none\": OpenSIPS starts without checking this, but the module "
                "that borrows this domain will fail on it)")
