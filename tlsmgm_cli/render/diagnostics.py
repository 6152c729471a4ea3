"""Config diagnostics on stderr: ``file:line: severity: message`` (+ hint), the form
editors and CI logs understand."""

from __future__ import annotations

from collections.abc import Iterable

from tlsmgm_cli.core.errors import Diagnostic
from tlsmgm_cli.render import echo_err, settings


def format_diagnostic(d: Diagnostic) -> str:
    where = f"{d.loc}: " if d.loc else ""
    text = f"{where}{d.severity}: {d.message}"
    if d.hint:
        text += f"\n    hint: {d.hint}"
    return text


def print_diagnostics(diags: Iterable[Diagnostic], *, min_severity: str = "warning") -> None:
    order = {"error": 0, "warning": 1, "note": 2}
    limit = order[min_severity]
    if settings.quiet:
        limit = 0
    for d in diags:
        if order.get(d.severity, 2) <= limit:
            echo_err(format_diagnostic(d))
