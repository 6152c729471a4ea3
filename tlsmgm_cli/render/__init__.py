"""All output formatting lives in this package.

Commands hand plain data (dicts, lists, dataclasses turned into dicts) to these helpers.
Human formats: a rich table on a terminal, a plain tabulate table when piped.
Machine formats (json, yaml, sarif, ...) never carry colour or markup and go through
``click.echo`` so they are byte-stable. rich, tabulate and yaml are imported lazily.
Command-specific renderers live in submodules (``render/check.py``, ...).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Sequence
from typing import Any

import click


class _Settings:
    quiet = False
    verbose = 0
    no_color = bool(os.environ.get("NO_COLOR"))


settings = _Settings()


def is_tty(stream: Any = None) -> bool:
    stream = stream or sys.stdout
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def console(stderr: bool = False):
    """A rich Console honouring --no-color / NO_COLOR (imported lazily): with either, no
    escape sequence at all is written (no colour, no bold), even on a terminal."""
    from rich.console import Console

    if settings.no_color:
        return Console(stderr=stderr, no_color=True, color_system=None, highlight=False,
                       soft_wrap=False, emoji=False)
    return Console(stderr=stderr, highlight=False, soft_wrap=False, emoji=False)


def to_json(obj: Any, *, indent: int | None = 2) -> str:
    from tlsmgm_cli.render.safe import json_text

    return json_text(json.dumps(obj, indent=indent, ensure_ascii=False, default=_json_default))


def _json_default(o: Any) -> Any:
    if hasattr(o, "to_dict"):
        return o.to_dict()
    if hasattr(o, "isoformat"):
        return o.isoformat()
    if isinstance(o, (set, frozenset)):
        return sorted(o)
    if isinstance(o, bytes):
        return o.decode("utf-8", "replace")
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def emit_json(obj: Any, *, indent: int | None = 2) -> None:
    click.echo(to_json(obj, indent=indent))


def to_yaml(obj: Any) -> str:
    import yaml

    # round-trip through JSON so dataclasses/dates are plain types
    plain = json.loads(to_json(obj, indent=None))
    return yaml.safe_dump(plain, sort_keys=False, allow_unicode=True, default_flow_style=False)


def emit_yaml(obj: Any) -> None:
    click.echo(to_yaml(obj), nl=False)


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (list, tuple)):
        return ", ".join(_cell(x) for x in v) if v else "-"
    return str(v)


def emit_table(rows: Iterable[Sequence[Any]], headers: Sequence[str], *, title: str | None = None,
               plain: bool | None = None) -> None:
    """A rich table on a terminal, a tabulate table otherwise (or when plain=True).

    Cells are untrusted text (domain names, filters, certificate names, MI replies):
    control characters are shown escaped (``\\x1b``), never sent to the terminal, and on
    the rich path markup in them is shown literally."""
    from tlsmgm_cli.render.safe import visible

    rows = [[visible(_cell(c)) for c in r] for r in rows]
    headers = [visible(h) for h in headers]
    title = visible(title) if title is not None else None
    if plain is None:
        plain = not is_tty()
    if plain:
        from tabulate import tabulate

        if title and not settings.quiet:
            click.echo(title)
        click.echo(tabulate(rows, headers=list(headers), tablefmt="simple", disable_numparse=True))
        return
    from rich.table import Table

    table = Table(title=_escape(title) if title is not None else None, show_lines=False,
                  header_style="bold")
    for h in headers:
        table.add_column(_escape(h), overflow="fold")
    for r in rows:
        table.add_row(*[_escape(c) for c in r])
    console().print(table)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def echo_err(message: str) -> None:
    """A diagnostic line on stderr (never coloured: editors parse file:line). Control
    characters from untrusted text in it are escaped visibly; line breaks stay."""
    from tlsmgm_cli.render.safe import visible_lines

    click.echo(visible_lines(message), err=True)


def hint(message: str) -> None:
    """A hint for humans on stderr, suppressed by -q (escaped like ``echo_err``)."""
    if not settings.quiet:
        from tlsmgm_cli.render.safe import visible_lines

        click.echo(visible_lines(message), err=True)
