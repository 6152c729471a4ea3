"""Output of ``tlsmgm inspect``: text tables, xlog lines, JSON/YAML, one raw value.

Each inspected certificate is a dict ``{"source", "index", "vars", "extra"}`` where
``vars`` maps ``$tls_*`` names (without ``$``) to a string or ``None`` (NULL).
"""

from __future__ import annotations

from typing import Any

import click

from tlsmgm_cli.render import emit_json, emit_table, emit_yaml

NULL_TEXT = "<null>"  # how xlog prints a NULL pseudo-variable


def _label(item: dict[str, Any]) -> str:
    return f"{item['source']} #{item['index']}"


def _extra_rows(extra: dict[str, Any]) -> list[tuple[str, str]]:
    rows = []
    for key, value in extra.items():
        if key == "verify":
            value = f"{value['code']} {value['text']} (depth {value['depth']})"
        elif isinstance(value, list):
            value = ", ".join(value)
        rows.append((key, NULL_TEXT if value is None else str(value)))
    return rows


def render_text(items: list[dict[str, Any]]) -> None:
    """A variable/value table per certificate, then its extra facts."""
    for n, item in enumerate(items):
        if n:
            click.echo()
        rows = [("$" + name, NULL_TEXT if value is None else value) for name, value in item["vars"].items()]
        emit_table(rows, ["variable", "value"], title=_label(item))
        emit_table(_extra_rows(item["extra"]), ["extra", "value"])


def xlog_line(name: str, value: str | None) -> str:
    """``$tls_peer_subject = '/C=...'``; NULL as a bare ``<null>``."""
    return f"${name} = {NULL_TEXT}" if value is None else f"${name} = '{value}'"


def render_xlog(items: list[dict[str, Any]]) -> None:
    """Lines like OpenSIPS's TLS debug block, one block per certificate."""
    for n, item in enumerate(items):
        if n:
            click.echo()
        click.echo(f"# {_label(item)}")
        for name, value in item["vars"].items():
            click.echo(xlog_line(name, value))


def render_json(items: list[dict[str, Any]]) -> None:
    emit_json(items)


def render_yaml(items: list[dict[str, Any]]) -> None:
    emit_yaml(items)


def render_var(items: list[dict[str, Any]], name: str) -> bool:
    """Print ``name``'s raw value for each certificate; a NULL prints nothing.
    Returns False if any value was NULL."""
    all_set = True
    for item in items:
        value = item["vars"].get(name)
        if value is None:
            all_set = False
        else:
            click.echo(value)
    return all_set


RENDERERS = {"text": render_text, "xlog": render_xlog, "json": render_json, "yaml": render_yaml}
