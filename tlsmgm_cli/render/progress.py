"""The one progress bar of tlsmgm: a transient rich bar on stderr for long runs.

Shown only when it helps a human watching a terminal: stderr is a terminal, the output
format is a human one, neither ``-q`` nor ``--no-color`` (NO_COLOR) was given and there
are at least ``min_items`` items.
Otherwise nothing is shown and rich is not even imported. Commands pass the yielded
callable to the core as a plain ``progress`` callback (the core never imports rich)::

    with progress_bar("checking domains", len(domains), human=fmt == "text") as advance:
        report = run_checks(..., progress=advance)

``advance`` is ``None`` when no bar is shown, so the core can skip its progress work
(``insert_rows`` batches its INSERTs when it has no callback).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tlsmgm_cli.render import is_tty, settings

# below this many items a run is short enough not to need a bar
PROGRESS_MIN_ITEMS = 200
_REFRESH_SECONDS = 0.1

# advance(done) or advance(done, total): the number of items finished so far
Advance = Callable[..., None]


def progress_wanted(total: int, *, human: bool = True, min_items: int = PROGRESS_MIN_ITEMS) -> bool:
    """Whether a bar would be shown for ``total`` items (see the module docstring)."""
    # a bar redraws itself with cursor escapes: --no-color / NO_COLOR means none at all
    return (human and not settings.quiet and not settings.no_color and total >= min_items
            and is_tty(sys.stderr))


@contextmanager
def progress_bar(label: str, total: int, *, human: bool = True,
                 min_items: int = PROGRESS_MIN_ITEMS) -> Iterator[Advance | None]:
    """A context manager yielding ``advance(done, total=None)`` while a bar labelled
    ``label`` is shown, or ``None`` (and showing nothing) when no bar is wanted. The bar
    disappears when the block ends, leaving only the command's real output."""
    if not progress_wanted(total, human=human, min_items=min_items):
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from tlsmgm_cli.render import console

    # no refresh thread (auto_refresh=False): the core may fork (check, match --batch), and
    # a fork must not copy a thread that could hold the console's locks
    bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   console=console(stderr=True), transient=True, auto_refresh=False)
    task = bar.add_task(label, total=total)
    last_refresh = 0.0

    def advance(done: int, total_now: int | None = None) -> None:
        nonlocal last_refresh
        if total_now is None:
            bar.update(task, completed=done)
        else:
            bar.update(task, completed=done, total=total_now)
        now = time.monotonic()
        if now - last_refresh >= _REFRESH_SECONDS or done >= (total_now or total):
            last_refresh = now
            bar.refresh()

    with bar:
        yield advance
