"""Rendering for ``tlsmgm list``."""

from __future__ import annotations

from typing import Any

import click

from tlsmgm_cli.render import echo_err, emit_json, emit_table, emit_yaml, hint, is_tty, to_json
from tlsmgm_cli.render.safe import visible


def render_mi(reply: dict[str, Any], domset) -> None:
    skipped = [d for d in domset.all if d.db_skip is not None]
    for d in skipped:
        echo_err(f"warning: DB {d.side} domain [{visible(d.name)}] (id {d.db_id}) is left out: "
                 f"OpenSIPS skips it ({visible(d.db_skip)})")
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


def render_domains(doc: dict[str, Any], fmt: str, layout: str = "auto") -> None:
    """``doc`` = {"config", "globals", "domains": [view, ...]}.

    ``layout`` (text/plain formats): ``"table"`` (``--wide``), ``"compact"`` (``--compact``:
    one block per domain, one ``key: value`` line per field) or ``"auto"``: on a terminal,
    the table when it fits the terminal's width, else the compact blocks; piped, the plain
    table (scripts read it)."""
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
    rows = [_row(v, with_certs) for v in views]
    width = _terminal_width() if is_tty() else None
    if layout == "compact":
        _emit_compact(views, width)
    elif fmt == "plain" or width is None:
        emit_table(rows, headers, plain=True)
    elif layout == "table":
        _emit_rich_table(rows, headers, width, fold=False)
    elif not _emit_rich_table(rows, headers, width, fold=True, only_if_fits=True):
        layout = "compact"
        _emit_compact(views, width)
    if not views:
        hint("no TLS domains defined (OpenSIPS would drop every TLS connection)")
    g = doc["globals"]
    extras = [f"{k}={g[k]}" for k in ("client_tls_domain_avp", "client_sip_domain_avp", "db_url")
              if g.get(k)]
    if g["tls_library"] != "auto":
        extras.insert(0, f"tls_library={g['tls_library']}")
    if extras:  # part of the listing: on stdout, so a redirect keeps it
        line = visible("globals: " + ", ".join(extras))
        click.echo("\n" + _wrap(line, width, "  ") if layout == "compact" and views else line)


def _row(v: dict[str, Any], with_certs: bool) -> list[Any]:
    row = [_name_text(v), v["side"], [address_text(a) for a in v["addresses"]], v["sip_domains"], v["method"],
           f"{int(v['verify_cert'])}/{int(v['require_cert'])}", v["certificate"] or "-"]
    if with_certs:
        row.append(_cert_cell(v))
    return [_safe_cell(c) for c in row]


def _name_text(v: dict[str, Any]) -> str:
    name = v["name"] + (" (db)" if v["source"] == "db" else "")
    if v.get("db_skip"):
        name += " [SKIPPED]"
    return name


def _terminal_width() -> int:
    """The terminal's width in columns (COLUMNS when set, as rich honours it)."""
    import shutil

    return max(shutil.get_terminal_size(fallback=(80, 24)).columns, 20)


def _emit_rich_table(rows: list[list[Any]], headers: list[str], width: int, *, fold: bool,
                     only_if_fits: bool = False) -> bool:
    """The rich table; ``fold=False`` (``--wide``) never folds a cell: lines may pass the
    terminal's width. With ``only_if_fits``, nothing is printed (False returned) when the
    table's natural width exceeds ``width``."""
    from rich.markup import escape
    from rich.table import Table

    from tlsmgm_cli.render import console

    table = Table(show_lines=False, header_style="bold")
    for h in headers:
        table.add_column(escape(h), overflow="fold" if fold else "ignore", no_wrap=not fold)
    for r in rows:
        table.add_row(*[escape(visible(_cell_text(c))) for c in r])
    out = console()
    natural = out.measure(table, options=out.options.update_width(100_000)).maximum
    if only_if_fits and natural > width:
        return False
    if not fold:
        out.width = max(natural, width)
    out.print(table)
    return True


def _cell_text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell_text(x) for x in value) if value else "-"
    return str(value)


def _emit_compact(views: list[dict[str, Any]], width: int | None) -> None:
    """One block per domain: its name, then one ``key: value`` line per field, a blank
    line between blocks. On a terminal, a value longer than the line continues on the
    next lines (indented), never past ``width``."""
    blocks = []
    for v in views:
        fields = [("name", _name_text(v)), ("side", v["side"]),
                  ("addresses", ", ".join(address_text(a) for a in v["addresses"]) or "-"),
                  ("sip domains", ", ".join(v["sip_domains"]) or "-"), ("method", v["method"]),
                  ("verify/require", f"{int(v['verify_cert'])}/{int(v['require_cert'])}")]
        for key, label in (("certificate", "certificate"), ("private_key", "private key"),
                           ("ca_list", "ca list"), ("ca_dir", "ca dir"), ("crl_dir", "crl dir"),
                           ("dh_params", "dh params")):
            if v.get(key) or key == "certificate":
                fields.append((label, v.get(key) or "-"))
        if "cert" in v:
            fields.append(("cert", _cert_cell(v) or "-"))
        inner = None if width is None else width - 2
        lines = [_wrap(visible(f"name: {fields[0][1]}"), width, "    ")]
        lines += ["  " + _wrap(visible(f"{key}: {value}"), inner, "    ").replace("\n", "\n  ")
                  for key, value in fields[1:]]
        blocks.append("\n".join(lines))
    if blocks:
        click.echo("\n\n".join(blocks))


def _wrap(line: str, width: int | None, indent: str) -> str:
    """``line`` cut into lines of at most ``width`` columns (at ', ' or spaces when it can,
    else anywhere); unchanged when ``width`` is None (piped)."""
    if width is None or len(line) <= width:
        return line
    import textwrap

    return "\n".join(textwrap.wrap(line, width=width, subsequent_indent=indent, break_on_hyphens=False,
                                   break_long_words=True, drop_whitespace=True)) or line


def address_text(address: str) -> str:
    """A filter as ``check`` and ``match`` show it: ``*``, ``1.2.3.4:5061``, ``[::1]:5071``
    (the MI format keeps OpenSIPS's own uncompressed form)."""
    from tlsmgm_cli.core.net.addresses import socket_text, split_key

    split = split_key(address) if address != "*" else None
    if split is None:
        return address
    try:
        return socket_text(*split)
    except ValueError:
        return address


def _safe_cell(value: Any) -> Any:
    """Untrusted strings (names, patterns, paths, certificate names) reach a terminal
    only through ``visible``."""
    if isinstance(value, str):
        return visible(value)
    if isinstance(value, (list, tuple)):
        return [_safe_cell(v) for v in value]
    return value
