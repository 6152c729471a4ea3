"""Output of ``tlsmgm db``: the import diff, validation findings and summaries. BLOBs are
shown by size and SHA-256 prefix; private keys only as "changed"."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import click

from tlsmgm_cli.render import echo_err, hint, settings
from tlsmgm_cli.render.safe import visible

_SECRET = ("private_key",)


def _show(column: str, value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bytes):
        if column in _SECRET:
            return f"<{len(value)} bytes, not shown>"
        return f"<{len(value)} bytes sha256:{hashlib.sha256(value).hexdigest()[:12]}>"
    return repr(value)


def import_diff_lines(plan: Any) -> list[str]:
    """``+`` new rows, ``~`` changed rows (one line per column), ``=`` unchanged count."""
    lines = []
    for row in plan.inserts:
        lines.append(f"+ {row.side_name} domain '{row.domain}'")
        for column, value in row.content().items():
            if column not in ("domain", "type") and value is not None:
                lines.append(f"    {column}: {_show(column, value)}")
    for change in plan.updates:
        lines.append(f"~ {change.new.side_name} domain '{change.new.domain}' (id {change.old.id})")
        for column in change.changed:
            old, new = getattr(change.old, column), getattr(change.new, column)
            if column in _SECRET:
                lines.append(f"    {column}: changed (key material not shown)")
            else:
                lines.append(f"    {column}: {_show(column, old)} -> {_show(column, new)}")
    if plan.unchanged:
        lines.append(f"= {len(plan.unchanged)} row(s) already identical")
    return lines


def print_import_diff(plan: Any) -> None:
    for line in import_diff_lines(plan) or ["(nothing to do)"]:
        click.echo(visible(line))  # domain names and column values come from untrusted files


def print_findings(findings: Iterable[Any]) -> None:
    """Validation findings on stderr: ``severity: [side domain] message`` (-q keeps only
    errors)."""
    for f in findings:
        if settings.quiet and f.severity != "error":
            continue
        where = f"{f.side} domain [{f.domain}]: " if getattr(f, "domain", None) else ""
        echo_err(f"{f.severity}: {where}{f.message}")


def print_import_summary(plan: Any, table: str, masked_url: str, *, dry_run: bool,
                         allowed_errors: int = 0) -> None:
    verb = "would write" if dry_run else "wrote"
    despite = f"; despite {allowed_errors} error(s): --allow-errors" if allowed_errors else ""
    click.echo(f"{verb} {len(plan.inserts)} new and {len(plan.updates)} changed row(s) to "
               f"{table} at {masked_url} ({len(plan.unchanged)} unchanged{despite})")
    if not dry_run and plan.writes:
        hint("OpenSIPS reads the table at startup and on `opensips-cli -x mi tls_reload`.")


def print_sources(sources: dict[str, str]) -> None:
    """Which file each PEM column of `db add/update` was read from (absolute paths)."""
    for column, path in sources.items():
        click.echo(f"{column}: read from {visible(path)}")


def print_edit_done(plan: Any, *, removed_id: int | None) -> None:
    """``added server domain 'x'`` after `db add/update/remove` (the name escaped)."""
    row_id = f" (id {removed_id})" if removed_id is not None else ""
    click.echo(visible(f"{plan.done} {plan.side} domain '{plan.domain}'{row_id}"))


def print_export_result(result: Any) -> None:
    for reason in result.skipped:
        echo_err(f"warning: left out of the snippet: {reason}")
    click.echo(visible(f"wrote {len(result.files)} file(s); cfg snippet: {result.snippet}"))
