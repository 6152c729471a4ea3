"""Output of ``tlsmgm inspect``: text tables, xlog lines, JSON/YAML, one raw value.

Certificate strings are untrusted: the text table always shows control characters
escaped (``render.safe.visible``); xlog lines and ``--var`` values stay byte-exact unless
standard output is a terminal; JSON/YAML stay exact (they escape controls themselves).

Each inspected certificate is a dict ``{"source", "index", "vars", "extra"}`` where
``vars`` maps ``$tls_*`` names (without ``$``) to a string or ``None`` (NULL); with
``--text`` it also has ``"x509"`` (``core.x509.text.x509_text``), shown in text as a
second section laid out like ``openssl x509 -text -noout``.
"""

from __future__ import annotations

from typing import Any

import click

from tlsmgm_cli.render import emit_json, emit_table, emit_yaml, is_tty
from tlsmgm_cli.render.safe import visible

NULL_TEXT = "<null>"  # how xlog prints a NULL pseudo-variable


def _label(item: dict[str, Any]) -> str:
    return f"{visible(item['source'])} #{item['index']}"


def _to_terminal() -> bool:
    """Whether standard output is a terminal (raw bytes are then escaped, see safe.py)."""
    return is_tty()


def _extra_rows(extra: dict[str, Any]) -> list[tuple[str, str]]:
    rows = []
    for key, value in extra.items():
        if key == "verify":
            value = f"{value['code']} {value['text']} (depth {value['depth']})"
        elif isinstance(value, list):
            value = ", ".join(value)
        rows.append((key, NULL_TEXT if value is None else visible(value)))
    return rows


def _public_key_lines(key: dict[str, Any]) -> list[str]:
    lines = [f"Public Key Algorithm: {key['algorithm']}"]
    if key["bits"] is not None:
        lines.append(f"    Public-Key: ({key['bits']} bit)")
    else:
        lines.append(f"    Public-Key: {key['type']} (size unknown)")
    if key["exponent"] is not None:
        lines.append(f"    Exponent: {key['exponent']} (0x{key['exponent']:x})")
    if key["curve"] is not None:
        lines.append(f"    ASN1 OID: {key['curve']}")
    if key["nist_curve"] is not None:
        lines.append(f"    NIST CURVE: {key['nist_curve']}")
    return lines


def x509_lines(x: dict[str, Any]) -> list[str]:
    """The ``x509`` object as ``openssl x509 -text -noout`` lays it out (4-space steps),
    fingerprints last. Every line is terminal-safe (``visible``)."""
    lines = [
        f"Version: {x['version']} (0x{x['version'] - 1:x})",
        "Serial Number:",
        f"    {x['serial']}",
        f"Signature Algorithm: {x['signature_algorithm']}",
        f"Issuer: {x['issuer']}",
        "Validity",
        f"    Not Before: {x['not_before'] or '<bad time>'}",
        f"    Not After : {x['not_after'] or '<bad time>'}",
        f"Subject: {x['subject']}",
        "Subject Public Key Info:",
        *("    " + line for line in _public_key_lines(x["public_key"])),
    ]
    if x["extensions"]:
        lines.append("X509v3 extensions:")
        for ext in x["extensions"]:
            lines.append(f"    {ext['name']}:{' critical' if ext['critical'] else ''}")
            lines += [f"        {line}" if line else "" for line in ext["lines"]]
    lines.append(f"SHA1 Fingerprint={x['fingerprints']['sha1']}")
    lines.append(f"SHA256 Fingerprint={x['fingerprints']['sha256']}")
    return [visible(line) for line in lines]


def render_text(items: list[dict[str, Any]]) -> None:
    """A variable/value table per certificate, then its extra facts, then (``--text``)
    the whole certificate decoded."""
    for n, item in enumerate(items):
        if n:
            click.echo()
        rows = [("$" + name, NULL_TEXT if value is None else visible(value)) for name, value in item["vars"].items()]
        emit_table(rows, ["variable", "value"], title=_label(item))
        emit_table(_extra_rows(item["extra"]), ["extra", "value"])
        if "x509" in item:
            click.echo(f"Certificate {_label(item)} (as 'openssl x509 -text -noout' shows it):")
            for line in x509_lines(item["x509"]):
                click.echo(f"    {line}" if line else "")


def xlog_line(name: str, value: str | None) -> str:
    """``$tls_peer_subject = '/C=...'``; NULL as a bare ``<null>``."""
    return f"${name} = {NULL_TEXT}" if value is None else f"${name} = '{value}'"


def render_xlog(items: list[dict[str, Any]]) -> None:
    """Lines like OpenSIPS's TLS debug block, one block per certificate: byte for byte
    what OpenSIPS logs, except on a terminal, where control characters are escaped."""
    tty = _to_terminal()
    for n, item in enumerate(items):
        if n:
            click.echo()
        click.echo(f"# {_label(item)}")
        for name, value in item["vars"].items():
            click.echo(xlog_line(name, visible(value) if tty and value is not None else value))
        if "x509" in item:  # comment lines, so the block stays a valid xlog excerpt
            for line in x509_lines(item["x509"]):
                click.echo(f"#   {line}".rstrip())


def render_json(items: list[dict[str, Any]]) -> None:
    emit_json(items)


def render_yaml(items: list[dict[str, Any]]) -> None:
    emit_yaml(items)


def render_var(items: list[dict[str, Any]], name: str) -> bool:
    """Print ``name``'s raw value for each certificate; a NULL prints nothing.
    Returns False if any value was NULL."""
    all_set = True
    tty = _to_terminal()
    for item in items:
        value = item["vars"].get(name)
        if value is None:
            all_set = False
        else:
            click.echo(visible(value) if tty else value)
    return all_set


RENDERERS = {"text": render_text, "xlog": render_xlog, "json": render_json, "yaml": render_yaml}
