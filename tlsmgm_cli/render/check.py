"""Output of ``tlsmgm check``: text grouped by domain, JSON, SARIF 2.1.0 and GitHub
workflow commands. Machine formats go through ``click.echo`` without colour."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import click

from tlsmgm_cli import __version__
from tlsmgm_cli.core.checks import DB_UNREAD_RULES, CheckReport, Finding
from tlsmgm_cli.core.checks.rules import RULES, Rule
from tlsmgm_cli.render import emit_json, emit_table, settings
from tlsmgm_cli.render.safe import visible, visible_lines

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"
_SARIF_LEVEL = {"error": "error", "warning": "warning", "note": "note"}
_GITHUB_COMMAND = {"error": "error", "warning": "warning", "note": "notice"}


def render_report(report: CheckReport, fmt: str, config: str) -> None:
    if fmt == "json":
        emit_json(report.to_dict())
    elif fmt == "sarif":
        emit_json(sarif_log(report, config))
    elif fmt == "github":
        for line in github_lines(report):
            click.echo(line)
    else:
        render_text(report)


# ---- text ---------------------------------------------------------------------------------------
def _group(finding: Finding) -> str:
    if finding.domain is None:
        return "config"
    return f"{finding.side or ''} domain [{visible(finding.domain)}]".strip()


def _where(f: Finding) -> str:
    if f.file:
        return f"{visible(f.file)}:{f.line}" if f.line else visible(f.file)
    if f.domain is not None:
        return _group(f)
    return "the config"


def start_verdict(report: CheckReport, limit: int = 5) -> str:
    """The last line of the text summary: would OpenSIPS start with this config?"""
    release = f"OpenSIPS {report.opensips_version}"
    stoppers = report.stoppers
    if stoppers:
        shown = ", ".join(f"{f.rule} at {_where(f)}" for f in stoppers[:limit])
        more = f", and {len(stoppers) - limit} more" if len(stoppers) > limit else ""
        n = len(stoppers)
        return (f"{release} would not start: {n} finding{'s' if n != 1 else ''} stop{'' if n != 1 else 's'} "
                f"it ({shown}{more}).")
    if report.unreadable:
        return (f"Whether {release} would start is unknown: the config could not be read through its "
                "preprocessor (TLS005), so nothing was checked.")
    caveats = []
    if report.db_not_checked:
        rules = sorted({f.rule for f in report.findings if f.rule in DB_UNREAD_RULES})
        caveats.append(f"the DB-defined domains were not checked ({', '.join(rules)})")
    if report.unresolved_listeners:
        caveats.append("a listener's host name must resolve on the server (TLS049)")
    if report.partial:
        caveats.append("only the selected rules ran")
    if caveats:
        return f"{release} would start with this config as far as checked: " + "; ".join(caveats) + "."
    errors = report.summary["errors"]
    if errors:
        return (f"{release} would start with this config (none of the {errors} error(s) stops it; "
                "they break connections, not the start).")
    return f"{release} would start with this config."


def render_text(report: CheckReport) -> None:
    groups: dict[str, list[Finding]] = {"config": []}
    for finding in report.findings:
        groups.setdefault(_group(finding), []).append(finding)
    for title, findings in groups.items():
        if not findings:
            continue
        click.echo(title)
        for f in findings:
            where = f"{visible(f.file)}:{f.line}: " if f.file else ""
            stops = " [stops OpenSIPS at startup]" if f.stops_start else ""
            click.echo(f"  {where}{f.severity} {f.rule} {visible(f.message)}{stops}")
            if not settings.quiet:
                if f.hint:
                    click.echo(f"      hint: {visible(f.hint)}")
                if f.openssl:
                    click.echo(f"      openssl: {visible(f.openssl)}")
        click.echo("")
    s = report.summary
    plural = "s" if s["domains"] != 1 else ""
    click.echo(f"{s['domains']} domain{plural} checked: {s['errors']} error(s), {s['warnings']} warning(s), "
               f"{s['notes']} note(s)")
    click.echo(start_verdict(report))


# ---- rule catalogue -------------------------------------------------------------------------
def render_rules(fmt: str) -> None:
    rules = list(RULES.values())
    if fmt in ("json", "sarif"):
        emit_json([r.to_dict() for r in rules])
        return
    emit_table([[r.id, r.severity, r.category, r.title] for r in rules], ["rule", "severity", "category", "title"],
               plain=True)


# ---- SARIF 2.1.0 ------------------------------------------------------------------------------
def _sarif_rule(rule: Rule) -> dict[str, Any]:
    help_text = rule.hint + (f"\nEquivalent check: {rule.openssl}" if rule.openssl else "")
    return {
        "id": rule.id,
        "name": "".join(w.capitalize() for w in rule.title.replace("/", " ").split() if w.isalnum()) or rule.id,
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": f"{rule.title}. {rule.hint}"},
        "help": {"text": help_text},
        "defaultConfiguration": {"level": _SARIF_LEVEL[rule.severity]},
        "properties": {"category": rule.category, "tags": ["tls", "opensips", rule.category]},
    }


def _artifact(path: str, base: Path) -> dict[str, Any]:
    absolute = Path(os.path.abspath(path))
    try:
        return {"uri": absolute.relative_to(base).as_posix(), "uriBaseId": SRCROOT}
    except ValueError:
        return {"uri": absolute.as_uri()}


def _fingerprint(f: Finding, uri: str) -> str:
    """Stable across runs: no line numbers, no dates (messages of expiry rules change daily)."""
    text = "|".join((f.rule, f.side or "", f.domain or "", uri))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def sarif_log(report: CheckReport, config: str, base: str | None = None) -> dict[str, Any]:
    """The SARIF log of ``report``; URIs are relative to ``base`` (default: the working
    directory, i.e. the repository root in CI) through ``%SRCROOT%``."""
    root = Path(os.path.abspath(base or os.getcwd()))
    rules = list(RULES.values())
    index = {rule.id: i for i, rule in enumerate(rules)}
    results = []
    for f in report.findings:
        artifact = _artifact(f.file or config, root)
        results.append({
            "ruleId": f.rule,
            "ruleIndex": index[f.rule],
            "level": _SARIF_LEVEL.get(f.severity, "note"),
            "message": {"text": f.message + (f" (domain [{f.domain}])" if f.domain else "")},
            "locations": [{"physicalLocation": {"artifactLocation": artifact,
                                                "region": {"startLine": max(f.line or 1, 1)}}}],
            "partialFingerprints": {"tlsmgmFinding/v1": _fingerprint(f, artifact["uri"])},
            "properties": {"stops_start": f.stops_start},
        })
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "tlsmgm", "version": __version__,
                                "rules": [_sarif_rule(r) for r in rules]}},
            "originalUriBaseIds": {SRCROOT: {"uri": root.as_uri() + "/"}},
            "results": results,
            "properties": {"opensips_would_start": report.opensips_would_start,
                           "opensips_version": report.opensips_version},
        }],
    }


# ---- GitHub workflow commands ----------------------------------------------------------------
def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_lines(report: CheckReport) -> list[str]:
    """``::error file=…,line=…,title=TLSxxx::message`` lines (workspace-relative paths)."""
    lines = []
    for f in report.findings:
        props = []
        if f.file:
            path = os.path.relpath(f.file) if not os.path.relpath(f.file).startswith("..") else f.file
            props.append(f"file={_escape_property(visible(path))}")
            if f.line:
                props.append(f"line={f.line}")
        props.append(f"title={f.rule}")
        who = f"[{f.domain}] " if f.domain else ""
        stops = " [stops OpenSIPS at startup]" if f.stops_start else ""
        # CI logs render ANSI sequences: untrusted text goes through visible_lines
        lines.append(f"::{_GITHUB_COMMAND.get(f.severity, 'notice')} {','.join(props)}::"
                     f"{_escape_data(visible_lines(who + f.message) + stops)}")
    return lines


# ---- monitoring: Prometheus textfile collector, Nagios/Icinga plugin --------------------------
CHECK_SERVICE = "TLSMGM CHECK"
SEVERITY_NAMES = ("error", "warning", "note")


def prometheus_check(report: CheckReport, expiries: list[Any], config: str, now: Any,
                     duration: float) -> bytes:
    """The node_exporter textfile-collector exposition of a check run, written by
    prometheus-client's own exposition code. ``expiries`` are ``core.checks.expiry.CertExpiry``;
    every series has a ``config`` label so that several configs can share a textfile
    directory."""
    from tlsmgm_cli.render.monitoring import label_value, prometheus_client

    client = prometheus_client()
    reg = client.CollectorRegistry()
    gauge = client.Gauge
    cert_labels = ["config", "domain", "side", "file"]
    expiry = gauge("tlsmgm_check_certificate_expiry_seconds",
                   "Seconds from the check until the notAfter of the domain's certificate (negative: "
                   "expired); file is the path OpenSIPS opens, or db:<row id> for a DB-held certificate",
                   cert_labels, registry=reg)
    not_after = gauge("tlsmgm_check_certificate_not_after_timestamp_seconds",
                      "The notAfter of the domain's certificate (Unix time)", cert_labels, registry=reg)
    findings = gauge("tlsmgm_check_findings", "Findings of the check, by rule severity (error, warning, note)",
                     ["config", "severity"], registry=reg)
    by_rule = gauge("tlsmgm_check_rule_findings", "Findings of the check per rule that has any",
                    ["config", "rule", "severity"], registry=reg)
    would_start = gauge("tlsmgm_check_opensips_would_start",
                        "1 when OpenSIPS would start with this config (no finding stops it)", ["config"],
                        registry=reg)
    domains = gauge("tlsmgm_check_domains", "TLS domains checked (script and DB)", ["config"], registry=reg)
    stamp = gauge("tlsmgm_check_timestamp_seconds", "When the check ran (Unix time; --now if given)",
                  ["config"], registry=reg)
    took = gauge("tlsmgm_check_duration_seconds", "Seconds the check took", ["config"], registry=reg)
    cfg = label_value(config)
    for item in expiries:
        labels = (cfg, label_value(item.domain), item.side, label_value(item.file))
        expiry.labels(*labels).set(round(item.seconds_left))
        not_after.labels(*labels).set(round(item.not_after.timestamp()))
    summary = report.summary
    for severity, key in zip(SEVERITY_NAMES, ("errors", "warnings", "notes"), strict=True):
        findings.labels(cfg, severity).set(summary[key])
    counts: dict[tuple[str, str], int] = {}
    for f in report.findings:
        counts[(f.rule, f.severity)] = counts.get((f.rule, f.severity), 0) + 1
    for (rule, severity), n in sorted(counts.items()):
        by_rule.labels(cfg, rule, severity).set(n)
    would_start.labels(cfg).set(1 if report.opensips_would_start else 0)  # unknown (unreadable): 0
    domains.labels(cfg).set(summary["domains"])
    stamp.labels(cfg).set(round(now.timestamp()))
    took.labels(cfg).set(round(duration, 3))
    return client.generate_latest(reg)


def _rules_text(findings: list[Finding], limit: int = 5) -> str:
    rules = sorted({f.rule for f in findings})
    more = f", +{len(rules) - limit} more" if len(rules) > limit else ""
    return ", ".join(rules[:limit]) + more


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def nagios_check(report: CheckReport, expiries: list[Any], warn_days: float, crit_days: float
                 ) -> tuple[str, int]:
    """(the status line with perfdata, the plugin status). CRITICAL: a finding that stops
    OpenSIPS, any other error, or a certificate expiring within ``crit_days``; WARNING: a
    warning, or a certificate expiring within ``warn_days``; notes alone are OK."""
    from tlsmgm_cli.render.monitoring import (
        DAY_S,
        NAGIOS_CRITICAL,
        NAGIOS_OK,
        NAGIOS_WARNING,
        perf_item,
        status_line,
    )

    status = NAGIOS_OK
    parts: list[str] = []
    errors = [f for f in report.findings if f.severity == "error"]
    warnings = [f for f in report.findings if f.severity == "warning"]
    notes = [f for f in report.findings if f.severity == "note"]
    stoppers = report.stoppers
    if stoppers:
        status = NAGIOS_CRITICAL
        parts.append(f"OpenSIPS {report.opensips_version} would not start: {_plural(len(stoppers), 'finding')} "
                     f"stop{'s' if len(stoppers) == 1 else ''} it ({_rules_text(stoppers)})")
    others = [f for f in errors if not f.stops_start]
    if others:
        status = NAGIOS_CRITICAL
        parts.append(f"{_plural(len(others), 'error')} ({_rules_text(others)})")
    if warnings:
        status = max(status, NAGIOS_WARNING)
        parts.append(f"{_plural(len(warnings), 'warning')} ({_rules_text(warnings)})")
    if notes:
        parts.append(f"{_plural(len(notes), 'note')} ({_rules_text(notes)})")
    soonest = min(expiries, key=lambda e: e.seconds_left, default=None)
    if soonest is not None:
        days = soonest.seconds_left / DAY_S
        if days < crit_days:
            status = NAGIOS_CRITICAL
        elif days < warn_days:
            status = max(status, NAGIOS_WARNING)
        when = f"expired {-days:.1f} days ago" if days < 0 else f"expires in {days:.1f} days"
        parts.append(f"next certificate {when} ({soonest.side} domain [{soonest.domain}], {soonest.file})")
    if not stoppers:
        parts.insert(0, f"{_plural(report.summary['domains'], 'domain')} checked, "
                        f"OpenSIPS {report.opensips_version} would start" + ("" if report.findings else ", no findings"))
    perf: list[str] = []
    used: set[str] = set()
    for item in expiries:
        label = f"days_left_{item.domain}_{item.side}"
        n = 2
        while label in used:  # a DB row named like a script domain: keep labels unique
            label = f"days_left_{item.domain}_{item.side}_{n}"
            n += 1
        used.add(label)
        perf.append(perf_item(label, item.seconds_left / DAY_S, warn=f"{warn_days:g}:", crit=f"{crit_days:g}:"))
    summary = report.summary
    perf.append(perf_item("errors", summary["errors"], crit="0", minimum="0", digits=0))
    perf.append(perf_item("warnings", summary["warnings"], warn="0", minimum="0", digits=0))
    perf.append(perf_item("notes", summary["notes"], minimum="0", digits=0))
    return status_line(CHECK_SERVICE, status, "; ".join(parts), perf), status


def nagios_unknown(message: str) -> str:
    """The status line of a check that could not run (UNKNOWN)."""
    from tlsmgm_cli.render.monitoring import NAGIOS_UNKNOWN, status_line

    return status_line(CHECK_SERVICE, NAGIOS_UNKNOWN, message)


def report_bytes(report: CheckReport, fmt: str, config: str) -> bytes:
    """The json, sarif or github output as bytes (for --output)."""
    from tlsmgm_cli.render import to_json

    if fmt == "json":
        return (to_json(report.to_dict()) + "\n").encode()
    if fmt == "sarif":
        return (to_json(sarif_log(report, config)) + "\n").encode()
    return "".join(line + "\n" for line in github_lines(report)).encode()
