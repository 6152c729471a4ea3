"""Output of ``tlsmgm handshake`` (one block per attempt) and ``tlsmgm serve`` (one line
per event). Variables are printed with the same ``$name = 'value'`` code as ``inspect``.
"""

from __future__ import annotations

from typing import Any

import click

from tlsmgm_cli.render import to_json, to_yaml
from tlsmgm_cli.render.inspect import xlog_line
from tlsmgm_cli.render.safe import visible


def _chain_lines(chain: list[dict[str, Any]]) -> list[str]:
    lines = ["chain presented by the peer:"] if chain else ["chain presented by the peer: none"]
    for i, cert in enumerate(chain):
        lines.append(f"  #{i} subject {visible(cert['subject'])}")
        lines.append(f"     issuer  {visible(cert['issuer'])}")
        lines.append(f"     valid   {cert['notBefore']} .. {cert['notAfter']}  serial {cert['serial']}")
    return lines


def handshake_text(result: dict[str, Any]) -> str:
    """A readable block: header, outcome, SIP reply, chain, variables, notes."""
    sni = f"SNI '{visible(result['sni'])}'" if result["sni"] is not None else "no SNI"
    domain = f"client domain [{visible(result['domain'])}]" if result["domain"] is not None else "no client domain"
    address = f" ({result['address']})" if result["address"] else ""
    dest = result.get("destination")
    if dest is not None and dest["proto"] not in ("tls", "wss"):
        return "\n".join([f"destination {visible(result['address'])} of {visible(result['target'])}: "
                          f"{dest['proto'].upper()} (via {visible(dest['via'] or dest['host'])}), not TLS",
                          f"not handshaked: {visible(result['error'])}"])
    lines = [f"handshake with {visible(result['target'])}{address}, {domain}, {sni}"]
    if dest is not None and dest["host"] != dest["ip"]:
        lines.append(f"destination: {visible(result['address'])} {dest['proto'].upper()}, "
                     f"{visible(dest['host'])} via {visible(dest['via'])}"
                     + (" (equal SRV priority: OpenSIPS draws the order per request)" if dest["weighted"] else ""))
    vars_ = result["vars"]
    if result["connected"]:
        took = result.get("handshake_seconds")
        took = result["seconds"] if took is None else took
        lines.append(f"connected: {visible(vars_.get('tls_version'))} {visible(vars_.get('tls_cipher_info'))} "
                     f"(TLS handshake in {took:.3f} s)")
    if result["error"]:
        lines.append(f"FAILED: {visible(result['error'])}")
    verify = result.get("verify")
    if verify:
        how = "enforced" if verify.get("enforced") else "evaluated, not enforced (verify_cert=0)"
        lines.append(f"verify result: {verify['code']} {verify['text']} ({how})")
    if result.get("sip_reply"):
        waited = result.get("sip_seconds")
        after = f" after {waited:.3f} s" if waited is not None else ""
        lines.append(f"SIP OPTIONS reply: {visible(result['sip_reply'])}{after}")
    if result["chain"] or result["connected"]:
        lines += _chain_lines(result["chain"])
    lines += [xlog_line(name, None if value is None else visible(value)) for name, value in vars_.items()]
    lines += [f"note: {visible(note)}" for note in result.get("notes", [])]
    return "\n".join(lines)


def resolution_text(resolution: dict[str, Any]) -> str:
    """``--explain``: each step of resolving a SIP destination, then the destinations.
    Names and records come from DNS: every one goes through ``visible``."""
    lines = [f"resolving {visible(resolution['target'])} as OpenSIPS does for sending:"]
    for step in resolution["steps"]:
        if step["query"]:
            answer = "; ".join(visible(a) for a in step["answer"]) if step["answer"] \
                else visible(step["error"] or "no answer")
            line = f"  {visible(step['query'])} -> {answer}"
            if step["decision"]:
                line += f": {visible(step['decision'])}"
        else:
            line = f"  {visible(step['decision'])}"
        lines.append(line)
    dests = resolution["destinations"]
    if dests:
        lines.append("destinations, in OpenSIPS's failover order:")
        for d in dests:
            ip = f"[{d['ip']}]" if ":" in d["ip"] else d["ip"]
            lines.append(f"  {visible(ip)}:{d['port']} {d['proto'].upper()} ({visible(d['host'])}"
                         + (f", {visible(d['via'])}" if d["via"] else "") + ")")
    elif resolution["error"]:
        lines.append(f"no destination: {visible(resolution['error'])}")
    return "\n".join(lines)


def emit_handshakes(results: list[dict[str, Any]], fmt: str, *,
                    resolution: dict[str, Any] | None = None) -> None:
    """One result as an object (json/yaml) or block; several as a list or blocks. With
    ``resolution`` (``--explain``), text output starts with the resolution steps."""
    if fmt == "text":
        blocks = [resolution_text(resolution)] if resolution is not None else []
        click.echo("\n\n".join(blocks + [handshake_text(r) for r in results]))
        return
    payload: Any = results[0] if len(results) == 1 else results
    if fmt == "json":
        click.echo(to_json(payload))
    else:
        click.echo(to_yaml(payload), nl=False)


def serve_line(record: dict[str, Any]) -> str:
    """One human line per serve event."""
    event = record.get("event")
    if event == "listening":
        return f"listening on {record['bind']} for listener {record['listener']} (Ctrl-C stops)"
    if event != "connection":
        return f"{event}: {visible(record.get('message', ''))}"
    sni = f"sni={visible(record['sni'])}" if record["sni"] is not None else "no-sni"
    head = f"{record['listener']} <- {record['client']} {sni}: {record['outcome']}"
    if record["domain"]:
        head += f" [{visible(record['domain'])}]"
    if record["tls_version"]:
        head += f" {record['tls_version']} {record['cipher']}"
    peer = record["vars"].get("tls_peer_subject")
    if record["vars"]:
        head += f" peer={visible(peer) if peer is not None else '<null>'} verified={record['vars'].get('tls_peer_verified')}"
    if record["error"]:
        head += f" - {visible(record['error'])}"
    for note in record.get("notes", []):
        head += f" (note: {visible(note)})"
    return head


def emit_serve_record(record: dict[str, Any], fmt: str) -> None:
    click.echo(to_json(record, indent=None) if fmt == "json" else serve_line(record))
