"""The one way tests run tlsmgm, in-process (``run``) or as a real process (``run_proc``).

Both fail the test when the run hit an internal error (exit status 70, "internal error"
or a Python traceback in the output), whatever exit status the test expected: a crash
must never pass for an expected failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

from click.testing import CliRunner, Result

from tlsmgm_cli import exitcodes
from tlsmgm_cli.cli import cli

MARKERS = ("internal error", "Traceback (most recent call last)")


def assert_no_internal_error(exit_code: int, *outputs: str | bytes | None) -> None:
    text = "\n".join(o.decode(errors="replace") if isinstance(o, bytes) else (o or "") for o in outputs)
    assert exit_code != exitcodes.INTERNAL, f"internal error (exit {exit_code}):\n{text}"
    for marker in MARKERS:
        assert marker not in text, f"the run hit an internal error:\n{text}"


def run(*args: str | os.PathLike[str], input: str | bytes | None = None,
        env: dict[str, str] | None = None, **kwargs: Any) -> Result:
    """``tlsmgm ARGS`` through click's CliRunner; stdout and stderr stay separate (a path
    argument is passed as its text)."""
    result = CliRunner().invoke(cli, [os.fspath(a) for a in args], input=input, env=env, **kwargs)
    check_result(result)
    return result


def check_result(result: Result) -> None:
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"uncaught {type(result.exception).__name__}: {result.exception}") \
            from result.exception
    assert_no_internal_error(result.exit_code, result.output, result.stderr)


def run_proc(args: Sequence[str], *, input: str | bytes | None = None, timeout: float = 60,
             env: dict[str, str] | None = None, **kwargs: Any) -> subprocess.CompletedProcess:
    """``python -m tlsmgm_cli ARGS`` as a real process (pipes, signals, real stdin)."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("TLSMGM_DEBUG", None)
    text = not isinstance(input, bytes)
    proc = subprocess.run([sys.executable, "-m", "tlsmgm_cli", *args], input=input, capture_output=True,
                          timeout=timeout, env=full_env, text=text, **kwargs)
    assert_no_internal_error(proc.returncode, proc.stdout, proc.stderr)
    return proc
