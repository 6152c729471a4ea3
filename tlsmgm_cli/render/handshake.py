"""Output of ``tlsmgm handshake`` (one block per attempt) and ``tlsmgm serve`` (one line
per event). Variables are printed with the same ``$name = 'value'`` code as ``inspect``.
"""

from __future__ import annotations

from typing import Any

import click

from tlsmgm_cli.render import to_json, to_yaml
from tlsmgm_cli.render.inspect import xlog_line


def _chain_lines(chain: list[dict[str, Any]]) -> list[str]:
    lines = ["chain presented by the peer:"] if chain else ["chain presented by the peer: none"]
    for i, cert in enumerate(chain):
        lines.append(f"  #{i} subject {cert['subject']}")
        lines.append(f"     issuer  {cert['issuer']}")
        lines.append(f"     valid   {cert['notBefore']} .. {cert['notAfter']}  serial {cert['serial']}")
    return lines


def handshake_text(result: dict[str, Any]) -> str:
    """A readable block: header, outcome, SIP reply, chain, variables, notes."""
    sni = f"SNI '{result['sni']}'" if result["sni"] is not None else "no SNI"
    domain = f"client domain [{result['domain']}]" if result["domain"] is not None else "no client domain"
    address = f" ({result['address']})" if result["address"] else ""
    lines = [f"handshake with {result['target']}{address}, {domain}, {sni}"]
    vars_ = result["vars"]
    if result["connected"]:
        lines.append(f"connected: {vars_.get('tls_version')} {vars_.get('tls_cipher_info')} "
                     f"in {result['seconds']:.3f} s")
    if result["error"]:
        lines.append(f"FAILED: {result['error']}")
    verify = result.get("verify")
    if verify:
        how = "enforced" if verify.get("enforced") else "evaluated, not enforced (verify_cert=0)"
        lines.append(f"verify result: {verify['code']} {verify['text']} ({how})")
    if result.get("sip_reply"):
        lines.append(f"SIP OPTIONS reply: {result['sip_reply']}")
    if result["chain"] or result["connected"]:
        lines += _chain_lines(result["chain"])
    lines += [xlog_line(name, value) for name, value in vars_.items()]
    lines += [f"note: {note}" for note in result.get("notes", [])]
    return "\n".join(lines)


def emit_handshakes(results: list[dict[str, Any]], fmt: str) -> None:
    """One result as an object (json/yaml) or block; several as a list or blocks."""
    if fmt == "text":
        click.echo("\n\n".join(handshake_text(r) for r in results))
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
        return f"{event}: {record.get('message', '')}"
    sni = f"sni={record['sni']}" if record["sni"] is not None else "no-sni"
    head = f"{record['listener']} <- {record['client']} {sni}: {record['outcome']}"
    if record["domain"]:
        head += f" [{record['domain']}]"
    if record["tls_version"]:
        head += f" {record['tls_version']} {record['cipher']}"
    peer = record["vars"].get("tls_peer_subject")
    if record["vars"]:
        head += f" peer={peer if peer is not None else '<null>'} verified={record['vars'].get('tls_peer_verified')}"
    if record["error"]:
        head += f" - {record['error']}"
    for note in record.get("notes", []):
        head += f" (note: {note})"
    return head


def emit_serve_record(record: dict[str, Any], fmt: str) -> None:
    click.echo(to_json(record, indent=None) if fmt == "json" else serve_line(record))
