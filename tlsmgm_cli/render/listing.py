"""Rendering for ``tlsmgm list``."""

from __future__ import annotations

from typing import Any

import click

from tlsmgm_cli.render import echo_err, emit_json, emit_table, emit_yaml, hint, to_json


def render_mi(reply: dict[str, Any], domset) -> None:
    skipped = [d for d in domset.all if d.db_skip is not None]
    for d in skipped:
        echo_err(f"warning: DB {d.side} domain [{d.name}] (id {d.db_id}) is left out: "
                 f"OpenSIPS skips it ({d.db_skip})")
    # one domain per line: readable, and the C JSON encoder (an indented dump is ~10x slower
    # on 10,000 domains)
    domains = reply["Domains"]
    if not domains:
        emit_json(reply, indent=None)
        return
    body = ",\n".join("  " + to_json(d, indent=None) for d in domains)
    click.echo('{"Domains": [\n' + body + "\n]}")


def _cert_cell(view: dict[str, Any]) -> str:
    cert = view.get("cert")
    if cert is None:
        return "-" if "cert" in view else ""
    if "error" in cert:
        return f"unreadable: {cert['error']}"
    sans = ", ".join(cert["sans"])
    if cert["sans_total"] > len(cert["sans"]):
        sans += f", +{cert['sans_total'] - len(cert['sans'])}"
    parts = [f"CN={cert['subject_cn']}" if cert["subject_cn"] else "no CN"]
    if sans:
        parts.append(f"SAN {sans}")
    parts.append(f"until {cert['not_after'][:10]} ({cert['days_left']}d)")
    return "; ".join(parts)


def render_domains(doc: dict[str, Any], fmt: str) -> None:
    """``doc`` = {"config", "globals", "domains": [view, ...]}."""
    if fmt == "json":
        emit_json(doc)
        return
    if fmt == "yaml":
        emit_yaml(doc)
        return
    views = doc["domains"]
    with_certs = any("cert" in v for v in views)
    headers = ["name", "side", "addresses", "sip domains", "method", "verify/require", "certificate"]
    if with_certs:
        headers.append("cert")
    rows = []
    for v in views:
        name = v["name"] + (" (db)" if v["source"] == "db" else "")
        if v.get("db_skip"):
            name += " [SKIPPED]"
        row = [name, v["side"], v["addresses"], v["sip_domains"], v["method"],
               f"{int(v['verify_cert'])}/{int(v['require_cert'])}", v["certificate"] or "-"]
        if with_certs:
            row.append(_cert_cell(v))
        rows.append(row)
    emit_table(rows, headers, plain=True if fmt == "plain" else None)
    if not views:
        hint("no TLS domains defined (OpenSIPS would drop every TLS connection)")
    g = doc["globals"]
    extras = [f"{k}={g[k]}" for k in ("client_tls_domain_avp", "client_sip_domain_avp", "db_url")
              if g.get(k)]
    if g["tls_library"] != "auto":
        extras.insert(0, f"tls_library={g['tls_library']}")
    if extras:
        hint("globals: " + ", ".join(extras))
