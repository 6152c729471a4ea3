"""The exit statuses of every tlsmgm command, named once.

======== ===== ==========================================================================
name     value meaning
======== ===== ==========================================================================
OK         0   all is well: no finding at the failing level, every query matched
PROBLEMS   1   findings, no match, or an operational failure (file, network, database)
USAGE      2   the command line is wrong (bad option, missing argument, bad value), or the
               input it names cannot be used as what it was given as (e.g. a config that
               cannot be read or that OpenSIPS would refuse)
INTERNAL  70   a bug in tlsmgm (EX_SOFTWARE): please report it with TLSMGM_DEBUG=1
======== ===== ==========================================================================

The core raises ``core.errors.TlsmgmError`` (PROBLEMS) or ``core.errors.UsageError``
(USAGE); the CLI turns either into a message on stderr and its ``exit_code``. One
exception is specified: ``diff`` exits USAGE when an OpenSIPS node cannot be reached
(issue 14), where the ``mi`` commands exit PROBLEMS.

``reached()`` records the worst status a run has come to so far, before its output is
written: when the reader of a pipe goes away early (``tlsmgm check | head -2``), the
command exits with that status instead of 0, so ``set -o pipefail`` still sees a failure.
"""

from __future__ import annotations

OK = 0
PROBLEMS = 1
USAGE = 2
INTERNAL = 70

_reached = OK


def reached(status: int) -> None:
    """Record that the run has come to ``status`` (the worst one is kept)."""
    global _reached
    if status > _reached and status != INTERNAL:
        _reached = status


def status_so_far() -> int:
    """The worst status recorded by ``reached`` in this process."""
    return _reached


def reset() -> None:
    """Forget the recorded status (for the start of a command run)."""
    global _reached
    _reached = OK
