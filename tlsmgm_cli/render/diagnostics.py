"""Config diagnostics on stderr: ``file:line: severity: message`` (+ hint), the form
editors and CI logs understand."""

from __future__ import annotations

from collections.abc import Iterable

from tlsmgm_cli.core.errors import Diagnostic
from tlsmgm_cli.render import echo_err, settings
from tlsmgm_cli.render.safe import visible


def format_diagnostic(d: Diagnostic) -> str:
    """``file:line: severity: message`` (+ an indented hint line). Messages quote config
    values and file names, which may hold control characters: each part is escaped
    visibly (``\\x1b``), so one diagnostic is always one or two lines."""
    where = f"{visible(d.loc)}: " if d.loc else ""
    text = f"{where}{d.severity}: {visible(d.message)}"
    if d.hint:
        text += f"\n    hint: {visible(d.hint)}"
    return text


def print_diagnostics(diags: Iterable[Diagnostic], *, min_severity: str = "warning") -> None:
    order = {"error": 0, "warning": 1, "note": 2}
    limit = order[min_severity]
    if settings.quiet:
        limit = 0
    for d in diags:
        if order.get(d.severity, 2) <= limit:
            echo_err(format_diagnostic(d))
