"""Checks for the DB: what ``db import`` validates before writing, and the DB-specific
detectors ``check`` maps to its rules.

``validate_for_import`` runs the check engine (``tlsmgm_cli.core.checks.run_checks``) and
keeps the findings about the domains being imported.
``row_findings`` adds the row-level checks (values too long for the column, BLOB sizes,
the default key fallback that triggers OpenSIPS's from_file bug).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tlsmgm_cli.core.cfg.modparams import effective_library
from tlsmgm_cli.core.db.rows import TlsRow
from tlsmgm_cli.core.db.schema import (
    BY_NAME,
    COLUMNS,
    INT_MAX,
    INT_MIN,
    MYSQL_BLOB_MAX,
    MYSQL_MEDIUMBLOB_MAX,
    TYPE_CLIENT,
)
from tlsmgm_cli.core.db.tlsinit import looks_like_path
from tlsmgm_cli.core.domain import DomainSet, TlsDomain
from tlsmgm_cli.core.errors import Diagnostic
from tlsmgm_cli.core.tls.methods import MethodError, parse_method
from tlsmgm_cli.core.x509.pem import pem_blocks

NEAR_LIMIT = 0.9  # warn from 90 % of a MySQL BLOB's capacity
_BLOB_ATTRS = {"certificate": "certificate", "private_key": "private_key", "ca_list": "ca_list",
               "dh_params": "dh_params"}


def _diag(severity: str, code: str, message: str, dom: TlsDomain | TlsRow, **extra: Any) -> Diagnostic:
    if isinstance(dom, TlsDomain):
        return Diagnostic(severity, code, message, dom.where(), dom.name, dom.side, extra=extra)
    return Diagnostic(severity, code, message, None, dom.domain, dom.side_name, extra=extra)


def validate_for_import(domset: DomainSet, names: Iterable[tuple[str, str]] | None = None) -> list[Any]:
    """Findings (objects with ``.severity``, ``.domain``, ``.side``, ``.message``) for the
    script domains ``names`` ((side, name) pairs; None = all), config diagnostics about
    them included. Row-level checks: ``row_findings``."""
    keys = set(names) if names is not None else {d.key for d in domset.all}
    from tlsmgm_cli.core.checks import run_checks  # lazily: the check engine uses this module

    # the check engine maps the config diagnostics itself
    report = run_checks(domset)
    return [f for f in report.findings if (f.side, f.domain) in keys]


def row_findings(row: TlsRow, backend: str | None = None) -> list[Diagnostic]:
    """Values the table cannot hold, BLOB sizes, and the default-key fallback."""
    found: list[Diagnostic] = []
    for name in ("domain", "match_ip_address", "match_sip_domain", "method", "crl_dir", "ca_dir",
                 "cipher_list", "ec_curve"):
        value = getattr(row, name)
        size = BY_NAME[name].size
        if value is not None and size and len(value) > size:
            found.append(_diag("error", "db-value-too-long",
                               f"{name} is {len(value)} characters, the column holds {size}", row))
    for column in COLUMNS:
        value = getattr(row, column.name)
        if column.kind == "int" and value is not None and not INT_MIN <= value <= INT_MAX:
            found.append(_diag("error", "db-value-out-of-range",
                               f"{column.name} is {value}, out of range for an INTEGER column "
                               f"({INT_MIN} to {INT_MAX})", row))
    for name in _BLOB_ATTRS:
        found += blob_size_findings(row, name, len(getattr(row, name) or b""), backend)
    if row.private_key is None and not (row.type == TYPE_CLIENT and row.certificate is None):
        found.append(_diag(
            "warning", "db-default-key-fallback",
            "private_key is NULL: OpenSIPS loads the default key file for this row, and then "
            "(from_file bug) reads the key BLOB of every later DB domain of the same type as a file "
            "name, so those rows are skipped", row))
    return found


def blob_size_findings(row: TlsDomain | TlsRow, column: str, size: int,
                       backend: str | None) -> list[Diagnostic]:
    """MySQL BLOB holds 65,535 bytes (ca_list: MEDIUMBLOB, 16 MiB); a longer value fails
    (strict mode) or is cut. PostgreSQL and SQLite have no such limit: say so as a note."""
    limit = MYSQL_MEDIUMBLOB_MAX if column == "ca_list" else MYSQL_BLOB_MAX
    kind = "MEDIUMBLOB" if column == "ca_list" else "BLOB"
    if size > limit:
        severity = "error" if backend in ("mysql", None) else "note"
        return [_diag(severity, "db-blob-near-limit",
                      f"{column} is {size:,} bytes: more than a MySQL {kind} holds ({limit:,})", row)]
    if size >= NEAR_LIMIT * limit and backend in ("mysql", None):
        return [_diag("warning", "db-blob-near-limit",
                      f"{column} is {size:,} bytes, {size * 100 // limit} % of a MySQL {kind} "
                      f"({limit:,}): a longer chain will not fit", row)]
    return []


def db_diagnostics(domset: DomainSet, backend: str | None = None) -> list[Diagnostic]:
    """DB-specific findings on the DB domains of ``domset`` (rows OpenSIPS rejects, skips
    or half-adds are already diagnostics of the load: db-row-*, db-half-added-row)."""
    library = effective_library(domset)
    found: list[Diagnostic] = []
    for dom in domset.all:
        if not dom.from_db:
            continue
        for attr in _BLOB_ATTRS:
            text = getattr(dom, attr)
            if not text:
                continue
            if looks_like_path(text):
                found.append(_diag("error", "db-path-in-blob",
                                   f"{attr} holds the file name {text.strip()!r}, not PEM content: "
                                   "OpenSIPS cannot load it and skips the row", dom))
            found += blob_size_findings(dom, attr, len(text.encode("utf-8", "surrogateescape")), backend)
        found += _ignored_pem(dom)
        if dom.method and library != "none":
            try:
                parse_method(dom.method, library)
            except MethodError as err:
                found.append(_diag("error", "db-bad-method",
                                   f"method {dom.method!r}: {err}; OpenSIPS skips the row", dom))
    return found


def _ignored_pem(dom: TlsDomain) -> list[Diagnostic]:
    """PEM blocks OpenSIPS reads past: only the first private key of ``private_key`` and
    the first DH parameters of ``dh_params`` are used."""
    found = []
    for attr, wanted in (("private_key", b"PRIVATE KEY"), ("dh_params", b"DH PARAMETERS")):
        text = getattr(dom, attr)
        if not text:
            continue
        blocks = pem_blocks(text.encode("utf-8", "surrogateescape"))
        extra = len(blocks) - 1 if any(label.endswith(wanted) for label, _ in blocks) else 0
        if extra > 0:
            found.append(_diag("warning", "db-extra-certs-ignored",
                               f"{attr} holds {len(blocks)} PEM blocks: OpenSIPS uses only the first "
                               f"{wanted.decode().lower()} and ignores the other {extra}", dom))
    return found
