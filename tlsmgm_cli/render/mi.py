"""Output of ``tlsmgm mi`` and ``tlsmgm diff``."""

from __future__ import annotations

import json
from typing import Any

import click

from tlsmgm_cli.render import echo_err, emit_json, emit_table, hint

SCRIPT_RELOAD_WARNING = ("tls_reload reloads DB-defined domains only: script-defined (modparam) "
                         "domains keep what OpenSIPS read at startup; restart OpenSIPS to apply "
                         "changes to them")


def _side(entry: dict[str, Any]) -> str:
    return {"TLS_DOMAIN_SRV": "server", "TLS_DOMAIN_CLI": "client"}.get(entry.get("type"), "?")


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
        click.echo(result if isinstance(result, str) else json.dumps(result))
    hint(f"note: {SCRIPT_RELOAD_WARNING}.")


def _value(v: Any) -> str:
    return "(absent)" if v is None else json.dumps(v, ensure_ascii=False)


def render_drift(report, fmt: str, *, endpoint: str, config: str) -> None:
    """``report`` is a core.drift.DriftReport."""
    if fmt == "json":
        emit_json({"server": endpoint, "config": config, **report.to_dict()})
    elif not report.has_drift:
        click.echo(f"no drift: {endpoint} holds the {report.expected_count} TLS domain(s) {config} describes")
    else:
        click.echo(f"drift: {len(report.drifts)} TLS domain(s) differ between {endpoint} (live) "
                   f"and {config} (expected)")
        for d in report.drifts:
            label = f"{d.side} domain [{d.name}] ({d.source})"
            if d.kind == "missing":
                click.echo(f"  missing  {label}: in the config, not on the server")
            elif d.kind == "extra":
                click.echo(f"  extra    {label}: on the server, not in the config")
            else:
                click.echo(f"  changed  {label}:")
                for c in d.changes:
                    click.echo(f"      {c.key} ({c.group}): expected {_value(c.expected)}, "
                               f"live {_value(c.live)}")
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
