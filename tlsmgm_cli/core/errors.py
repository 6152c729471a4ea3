"""Errors and diagnostics shared by the whole core.

* ``TlsmgmError`` is raised when a command cannot do its work. Its class says which exit
  status (``tlsmgm_cli.exitcodes``) the CLI ends with, after printing the message on stderr:

  - ``TlsmgmError`` itself is an *operational* failure, ``PROBLEMS`` (1): a file that
    cannot be read or written, a DB or MI server that cannot be reached or answers an
    error, a failed handshake, a port that cannot be bound.
  - ``UsageError`` is a *usage* error, ``USAGE`` (2): a bad option value, a malformed
    argument (address, URL, column, subjectAltName...), ``--force`` needed, or a config
    OpenSIPS would refuse given as the command's input.

  ``exit_code=`` overrides the class's status for one error (e.g. ``diff``: an unreachable
  node is 2, as issue 14 specifies).
* ``Diagnostic`` is a finding collected while reading a config: OpenSIPS would abort on
  ``severity == "error"``; warnings and notes are informative. Diagnostics are returned,
  never raised, so that every problem of a config is reported in one run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tlsmgm_cli.exitcodes import PROBLEMS, USAGE


@dataclass(frozen=True, slots=True)
class Loc:
    """Where something was written: a file and a 1-based line number."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


class TlsmgmError(Exception):
    """An operation that failed (exit status ``PROBLEMS``). ``str(err)`` is the whole
    user-facing message."""

    exit_code = PROBLEMS

    def __init__(self, message: str, loc: Loc | None = None, exit_code: int | None = None):
        self.message = message
        self.loc = loc
        if exit_code is not None:
            self.exit_code = exit_code
        super().__init__(f"{loc}: {message}" if loc else message)


class UsageError(TlsmgmError):
    """The command was given something it cannot use: a bad option value, a malformed
    argument, a config OpenSIPS would refuse (exit status ``USAGE``)."""

    exit_code = USAGE


@dataclass(slots=True)
class Diagnostic:
    """One problem found while reading a config or its domains.

    ``code`` is a short stable identifier of the condition (e.g. ``"no-domain-name"``),
    used by ``check`` to map diagnostics to its TLSxxx rules. ``message`` uses OpenSIPS's
    own wording where OpenSIPS reports the condition.
    """

    severity: str  # "error" | "warning" | "note"
    code: str
    message: str
    loc: Loc | None = None
    domain: str | None = None
    side: str | None = None
    hint: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "file": self.loc.file if self.loc else None,
            "line": self.loc.line if self.loc else None,
            "domain": self.domain,
            "side": self.side,
            "hint": self.hint,
        }

    def __str__(self) -> str:
        where = f"{self.loc}: " if self.loc else ""
        return f"{where}{self.severity}: {self.message}"
