"""Output of ``tlsmgm mi`` and ``tlsmgm diff``."""

from __future__ import annotations

import json
from typing import Any

import click

from tlsmgm_cli.render import echo_err, emit_json, emit_table, hint
from tlsmgm_cli.render.safe import visible

SCRIPT_RELOAD_WARNING = ("tls_reload reloads DB-defined domains only: script-defined (modparam) "
                         "domains keep what OpenSIPS read at startup; restart OpenSIPS to apply "
                         "changes to them")


def _side(entry: dict[str, Any]) -> str:
    return {"TLS_DOMAIN_SRV": "server", "TLS_DOMAIN_CLI": "client"}.get(str(entry.get("type")), "?")


def render_tls_list(reply: dict[str, Any], fmt: str) -> None:
    """json: the reply exactly as `tlsmgm list --format mi` prints it; text: a table."""
    if fmt == "json":
        emit_json(reply, indent=4)
        return
    rows = [[d.get("name"), _side(d), "script" if "CERT_FILE" in d else "db",
             d.get("IP ADDRESS FILTERS"), d.get("SIP DOMAIN FILTERS"), d.get("METHOD"),
             d.get("VERIFY_CERT"), d.get("REQ_CLI_CERT"), d.get("CERT_FILE", "(DB)") or "-"]
            for d in reply.get("Domains", [])]
    emit_table(rows, ["name", "side", "source", "addresses", "sip domains", "method", "verify",
                      "require cert", "certificate"])


def render_reload(result: Any, fmt: str) -> None:
    if fmt == "json":
        emit_json(result)
    else:
        click.echo(visible(result if isinstance(result, str) else json.dumps(result, ensure_ascii=False)))
    hint(f"note: {SCRIPT_RELOAD_WARNING}.")


def _value(v: Any) -> str:
    return "(absent)" if v is None else visible(json.dumps(v, ensure_ascii=False))


def render_drift(report, fmt: str, *, endpoint: str, config: str) -> None:
    """``report`` is a core.mi.drift.DriftReport. Text output escapes control characters in
    names and values (they come from the server and the config); json keeps them exact."""
    if fmt == "json":
        emit_json({"server": endpoint, "config": config, **report.to_dict()})
        _drift_notes(report)
        return
    endpoint, config = visible(endpoint), visible(config)
    if not report.has_drift:
        click.echo(f"no drift: {endpoint} holds the {report.expected_count} TLS domain(s) {config} describes")
    else:
        click.echo(f"drift: {len(report.drifts)} TLS domain(s) differ between {endpoint} (live) "
                   f"and {config} (expected)")
        for d in report.drifts:
            _echo_drift(d, "", "server")
    _drift_notes(report)


def _echo_drift(d, prefix: str, where: str) -> None:
    """One differing domain (a core.mi.drift Drift): missing, extra or changed (with its
    field changes); ``where`` is what holds the live domains ("server", "node")."""
    label = f"{prefix}{d.kind:<8} {d.side} domain [{visible(d.name)}] ({d.source})"
    if d.kind == "missing":
        click.echo(f"  {label}: in the config, not on the {where}")
    elif d.kind == "extra":
        click.echo(f"  {label}: on the {where}, not in the config")
    else:
        click.echo(f"  {label}:")
        for c in d.changes:
            click.echo(f"      {visible(c.key)} ({c.group}): expected {_value(c.expected)}, "
                       f"live {_value(c.live)}")


def _drift_notes(report) -> None:
    if not report.has_drift:
        return
    if report.script_drifts:
        n = len(report.script_drifts)
        lead = "a tls_reload would not fix this drift" if report.script_only else \
            f"{n} of the differing domains are script-defined and a tls_reload would not fix them"
        echo_err(f"warning: {lead}: {SCRIPT_RELOAD_WARNING}.")
    if report.reload_drifts:
        hint(f"hint: {len(report.reload_drifts)} DB-defined domain(s) differ; "
             "'tlsmgm mi tls_reload' makes OpenSIPS reload them from the database.")


# ---- several nodes ----------------------------------------------------------------------

_CELL_TEXT = {"ok": "ok", "absent": "-", "unknown": "?"}


def _fleet_cell(cell) -> str:
    text = _CELL_TEXT.get(cell.state, cell.state)
    if cell.changes:
        keys = list(dict.fromkeys(c.key for c in cell.changes))
        text += ": " + ", ".join(keys)
    return text


def render_fleet_drift(report, fmt: str, *, config: str) -> None:
    """``report`` is a core.mi.drift.FleetReport: one table, domains x nodes, then the field
    changes and the unreachable nodes. Node names, domain names and values come from the
    nodes file and the servers: text output shows them through ``visible``."""
    if fmt == "json":
        emit_json({"config": config, **report.to_dict()})
        _fleet_notes(report)
        return
    total, down = len(report.nodes), len(report.unreachable)
    drifting = [n for n in report.nodes if n.has_drift]
    shown_config = visible(config)
    if report.in_sync:
        click.echo(f"in sync: all {total} node(s) hold the {report.expected_count} TLS domain(s) "
                   f"{shown_config} describes")
    elif drifting:
        click.echo(f"drift: {len(drifting)} of {total} node(s) differ from {shown_config} (expected)"
                   + (f"; {down} unreachable" if down else ""))
    else:
        click.echo(f"no drift on the {total - down} node(s) that answered; {down} of {total} unreachable")
    headers = ["domain", "side", "source", "config", *[n.name for n in report.nodes]]
    rows: list[list[Any]] = [["(node)", "", "", "", *["ok" if n.status == "ok" else "unreachable"
                                                        for n in report.nodes]]]
    for row in report.rows:
        rows.append([row.name, row.side, row.source, "yes" if row.in_config else "-",
                     *[_fleet_cell(row.cells[n.name]) for n in report.nodes]])
    emit_table(rows, headers)
    for node in report.nodes:
        if node.status != "ok":
            click.echo(f"  {visible(node.name)}: unreachable: {visible(node.error)} ({visible(node.shown)})")
    for node in drifting:
        for d in node.report.drifts:
            _echo_drift(d, f"{visible(node.name)}: ", "node")
    _fleet_notes(report)


def _fleet_notes(report) -> None:
    down = report.unreachable
    if down:
        names = ", ".join(visible(n.name) for n in down)
        echo_err(f"tlsmgm: error: {len(down)} of {len(report.nodes)} node(s) did not answer: {names}")
    drifts = report.drifts
    script = sorted({visible(n.name) for n in report.nodes if n.report is not None
                     and n.report.script_drifts})
    reload = sorted({visible(n.name) for n in report.nodes if n.report is not None
                     and n.report.reload_drifts})
    if drifts and script:
        echo_err(f"warning: script-defined domains differ on {', '.join(script)}: a tls_reload would "
                 f"not fix them: {SCRIPT_RELOAD_WARNING}.")
    if drifts and reload:
        hint(f"hint: DB-defined domains differ on {', '.join(reload)}; 'tlsmgm mi tls_reload' on each "
             "makes OpenSIPS reload them from the database.")


def render_fleet_tls_list(results, fmt: str) -> None:
    """``results`` are core.mi.nodes.NodeResult: json, an object keyed by node name (each url,
    status and the reply's Domains, or url, status and error); text, a section per node."""
    if fmt == "json":
        out: dict[str, Any] = {}
        for r in results:
            entry: dict[str, Any] = {"url": r.node.shown, "status": r.status}
            if r.ok:
                entry["Domains"] = r.reply["Domains"]
            else:
                entry["error"] = r.error
            out[r.node.name] = entry
        emit_json(out, indent=4)
    else:
        for i, r in enumerate(results):
            if i:
                click.echo()
            head = f"== {visible(r.node.name)} ({visible(r.node.shown)})"
            if not r.ok:
                click.echo(f"{head}: unreachable: {visible(r.error)}")
                continue
            click.echo(f"{head}: {len(r.reply.get('Domains', []))} TLS domain(s)")
            render_tls_list(r.reply, "text")
    down = [r for r in results if not r.ok]
    if down:
        names = ", ".join(visible(r.node.name) for r in down)
        echo_err(f"tlsmgm: error: {len(down)} of {len(results)} node(s) did not answer: {names}")
