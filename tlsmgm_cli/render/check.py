"""Output of ``tlsmgm check``: text grouped by domain, JSON, SARIF 2.1.0 and GitHub
workflow commands. Machine formats go through ``click.echo`` without colour."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import click

from tlsmgm_cli import __version__
from tlsmgm_cli.core.checks import CheckReport, Finding
from tlsmgm_cli.core.checks.rules import RULES, Rule
from tlsmgm_cli.render import emit_json, emit_table, settings

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


# ---- text -------------------------------------------------------------------------------------
def _group(finding: Finding) -> str:
    if finding.domain is None:
        return "config"
    return f"{finding.side or ''} domain [{finding.domain}]".strip()


def render_text(report: CheckReport) -> None:
    groups: dict[str, list[Finding]] = {"config": []}
    for finding in report.findings:
        groups.setdefault(_group(finding), []).append(finding)
    for title, findings in groups.items():
        if not findings:
            continue
        click.echo(title)
        for f in findings:
            where = f"{f.file}:{f.line}: " if f.file else ""
            click.echo(f"  {where}{f.severity} {f.rule} {f.message}")
            if not settings.quiet:
                if f.hint:
                    click.echo(f"      hint: {f.hint}")
                if f.openssl:
                    click.echo(f"      openssl: {f.openssl}")
        click.echo("")
    s = report.summary
    plural = "s" if s["domains"] != 1 else ""
    click.echo(f"{s['domains']} domain{plural} checked: {s['errors']} error(s), {s['warnings']} warning(s), "
               f"{s['notes']} note(s)")


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
        })
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "tlsmgm", "version": __version__,
                                "rules": [_sarif_rule(r) for r in rules]}},
            "originalUriBaseIds": {SRCROOT: {"uri": root.as_uri() + "/"}},
            "results": results,
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
            props.append(f"file={_escape_property(path)}")
            if f.line:
                props.append(f"line={f.line}")
        props.append(f"title={f.rule}")
        who = f"[{f.domain}] " if f.domain else ""
        lines.append(f"::{_GITHUB_COMMAND.get(f.severity, 'notice')} {','.join(props)}::"
                     f"{_escape_data(who + f.message)}")
    return lines
