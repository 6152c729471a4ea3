"""The one fork helper of tlsmgm, and the one garbage-collector pause.

:func:`run_in_two` splits a piece of work in two: this process does the first half while a
forked child (sharing everything loaded so far copy-on-write) does the second and sends
its result back pickled. The child is always reaped (``try``/``finally``), and any failure
of the child (an exception, a crash, a signal, nothing sent) makes this process do the
second half itself: forking can make a run faster, never different.

It forks only when it is asked to (``jobs`` >= 2: ``check --jobs`` / ``TLSMGM_JOBS``; the
work is split in two at most, so more than 2 means 2; the off switch is ``1``), where
``os.fork`` exists, not on macOS (a process that has used the system frameworks cannot be
forked safely) and with 2 or more CPUs. The caller must fork before it starts any thread.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from collections.abc import Callable, Iterator
from typing import TypeVar

from tlsmgm_cli.core.errors import UsageError

R = TypeVar("R")

JOBS_ENV = "TLSMGM_JOBS"
#: two processes: ``check`` of 10,000 domains took 2.2-3.0 s with jobs 2 against 4.4-5.2 s with
#: jobs 1 on 2 CPUs (bench/bench_check.py --jobs 1,2,1,2)
DEFAULT_JOBS = 2


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector (reference counting still frees everything).
    A run that keeps what it parses alive until it ends (a loaded config, every parsed
    certificate) makes the collector's full passes rescan a growing heap that holds no
    garbage: a sixth of ``check``'s time on 10,000 domains."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def jobs_setting(value: int | str | None, *, default: int = DEFAULT_JOBS) -> int:
    """The number of processes asked for: ``value`` (an option), else ``$TLSMGM_JOBS``,
    else ``default``; a UsageError unless it is a whole number >= 1."""
    source = "--jobs"
    if value is None:
        value = os.environ.get(JOBS_ENV) or None
        source = JOBS_ENV
    if value is None:
        return default
    try:
        jobs = int(value)
    except ValueError:
        raise UsageError(f"{source} must be a whole number >= 1 (1 = one process), not {value!r}") from None
    if jobs < 1:
        raise UsageError(f"{source} must be >= 1 (1 = one process), not {jobs}")
    return jobs


def can_fork() -> bool:
    """Whether forking is safe and useful here: ``os.fork`` exists, not macOS, 2+ CPUs."""
    return hasattr(os, "fork") and sys.platform != "darwin" and (os.cpu_count() or 1) > 1


def run_in_two(first: Callable[[], None], second: Callable[[bool], R], *, jobs: int) -> R:
    """``first()`` in this process and ``second(True)`` in a forked child, at the same time;
    the child's result (picklable) is returned. With ``jobs`` < 2, where forking is not
    possible, or when the child fails, ``second(False)`` runs here after ``first()``.
    ``second``'s argument says whether it runs in the child (where it must not report
    progress, print, or touch this process's state)."""
    if jobs < 2 or not can_fork():
        first()
        return second(False)
    import pickle

    for stream in (sys.stdout, sys.stderr):  # nothing buffered may be written twice
        with contextlib.suppress(Exception):
            stream.flush()
    read_fd, write_fd = os.pipe()
    try:
        pid = os.fork()
    except OSError:  # no memory or process slot for a child: do it all here
        os.close(read_fd)
        os.close(write_fd)
        first()
        return second(False)
    if pid == 0:  # the child: send the result, exit without any cleanup of the parent's
        status = 1
        try:
            os.close(read_fd)
            result = second(True)
            with os.fdopen(write_fd, "wb") as pipe:
                pickle.dump(result, pipe, protocol=pickle.HIGHEST_PROTOCOL)
            status = 0
        finally:
            os._exit(status)
    os.close(write_fd)
    received = b""
    status = -1
    try:
        first()
    finally:
        try:
            with os.fdopen(read_fd, "rb") as pipe:
                received = pipe.read()
        finally:
            _, status = os.waitpid(pid, 0)
    if status == 0 and received:
        try:
            returned: R = pickle.loads(received)
            return returned
        except Exception:  # noqa: BLE001 - a damaged result is a failed child: redo its half
            pass
    return second(False)
