"""Rows of the ``tls_mgm`` table as plain data, read from and written to a ``Database``,
and made from script-defined domains (``db import``).

A ``TlsRow`` holds the 17 columns under their default names. Strings are ``str``, BLOBs
``bytes`` (exactly as stored), NULL is ``None``.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

from tlsmgm_cli.core.db.backend import Database
from tlsmgm_cli.core.db.schema import (
    BLOB_COLUMNS,
    BY_NAME,
    COLUMN_NAMES,
    DEFAULT_TABLE,
    TYPE_CLIENT,
    TYPE_SERVER,
    check_identifier,
    column_names,
)
from tlsmgm_cli.core.domain import SERVER, TlsDomain
from tlsmgm_cli.core.errors import TlsmgmError


@dataclass(slots=True)
class TlsRow:
    """One row; ``id`` is None for a row not yet inserted."""

    id: int | None = None
    domain: str | None = None
    match_ip_address: str | None = None
    match_sip_domain: str | None = None
    type: int | None = None
    method: str | None = None
    verify_cert: int | None = None
    require_cert: int | None = None
    certificate: bytes | None = None
    private_key: bytes | None = None
    crl_check_all: int | None = None
    crl_dir: str | None = None
    ca_list: bytes | None = None
    ca_dir: str | None = None
    cipher_list: str | None = None
    dh_params: bytes | None = None
    ec_curve: str | None = None

    @property
    def key(self) -> tuple[str | None, int | None]:
        """The unique (domain, type) pair."""
        return (self.domain, self.type)

    @property
    def side_name(self) -> str:
        names: dict[int | None, str] = {TYPE_SERVER: "server", TYPE_CLIENT: "client"}
        return names.get(self.type, f"type {self.type}")

    def values(self, *, with_id: bool = False) -> list[Any]:
        names = COLUMN_NAMES if with_id else COLUMN_NAMES[1:]
        return [getattr(self, n) for n in names]

    def content(self) -> dict[str, Any]:
        """Every column but ``id`` (what a diff compares)."""
        data = asdict(self)
        del data["id"]
        return data


_INT64_MAX = (1 << 63) - 1
_LEADING_INT = re.compile(rb"[ \t\n\f\r\v]*([+-]?)0*([0-9]+)")


def _sqlite_int(value: Any) -> int:
    """An integer column's value as ``sqlite3_column_int64`` reads it (SQLite stores any type
    in any column): an int as is; a real truncated, out-of-range ones saturated (NaN 0);
    text or a blob by its leading integer (``sqlite3Atoi64``: 'abc' is 0, '12abc' is 12),
    saturated. Other backends only ever hand over ints."""
    if isinstance(value, bool) or isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if math.isnan(value):
            return 0
        if math.isinf(value):
            return _INT64_MAX if value > 0 else -_INT64_MAX - 1
        return max(min(int(value), _INT64_MAX), -_INT64_MAX - 1)
    raw = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else bytes(value)
    m = _LEADING_INT.match(raw)
    if m is None:
        return 0
    digits = m.group(2)
    number = int(digits) if len(digits) <= 19 else _INT64_MAX + 1  # longer: only an overflow
    number = -number if m.group(1) == b"-" else number
    return max(min(number, _INT64_MAX), -_INT64_MAX - 1)


ROW_FIELDS = tuple(f.name for f in fields(TlsRow))
assert ROW_FIELDS == COLUMN_NAMES


def _normalise(name: str, value: Any) -> Any:
    """Driver values -> str / bytes / int / None, as OpenSIPS's DB layer sees them."""
    if value is None:
        return None
    kind = BY_NAME[name].kind
    if kind == "blob":
        if isinstance(value, memoryview):
            return value.tobytes()
        if isinstance(value, str):  # e.g. SQLite TEXT stored by another tool in a BLOB column
            return value.encode("utf-8", "surrogateescape")
        return bytes(value)
    if kind == "int":
        return _sqlite_int(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "surrogateescape")
    return str(value)


def fetch_rows(db: Database, table: str = DEFAULT_TABLE, columns: dict[str, str] | None = None,
               ) -> list[TlsRow]:
    """SELECT of the 17 columns, no WHERE, no ORDER BY: rows in the order the server gives
    them, as OpenSIPS's load_info reads them."""
    names = column_names(columns)
    sql = f"SELECT {', '.join(db.quote(n) for n in names)} FROM {check_identifier(table)}"
    rows = db.query(sql, doing=f"reading table '{table}'")
    return [TlsRow(**{f: _normalise(f, v) for f, v in zip(COLUMN_NAMES, r, strict=True)}) for r in rows]


def _where_key(db: Database, names: list[str]) -> str:
    return f"{db.quote(names[1])} = {db.placeholder} AND {db.quote(names[4])} = {db.placeholder}"


def insert_rows(db: Database, rows: Sequence[TlsRow], table: str = DEFAULT_TABLE,
                columns: dict[str, str] | None = None,
                progress: Callable[[int], None] | None = None) -> None:
    """INSERT every row (``id`` generated by the DB). ``progress(n)`` is called after each
    row; call inside ``db.transaction()`` for all-or-nothing."""
    names = column_names(columns)[1:]
    sql = (f"INSERT INTO {check_identifier(table)} ({', '.join(db.quote(n) for n in names)}) "
           f"VALUES ({', '.join([db.placeholder] * len(names))})")
    if progress is None:
        db.executemany(sql, [r.values() for r in rows], doing=f"inserting into '{table}'")
        return
    for n, row in enumerate(rows, 1):
        db.execute(sql, row.values(), doing=f"inserting {row.side_name} domain '{row.domain}'")
        progress(n)


def update_row(db: Database, row: TlsRow, changed: Iterable[str], table: str = DEFAULT_TABLE,
               columns: dict[str, str] | None = None, key: tuple[str, int] | None = None) -> int:
    """UPDATE the ``changed`` columns of the row identified by ``key`` (default: the row's
    own (domain, type)). Returns the number of rows changed."""
    names = column_names(columns)
    by_field = dict(zip(COLUMN_NAMES, names, strict=True))
    changed = [c for c in changed if c != "id"]
    if not changed:
        return 0
    sets = ", ".join(f"{db.quote(by_field[c])} = {db.placeholder}" for c in changed)
    domain, dtype = key or row.key
    cur = db.execute(f"UPDATE {check_identifier(table)} SET {sets} WHERE {_where_key(db, names)}",
                     [getattr(row, c) for c in changed] + [domain, dtype],
                     doing=f"updating {row.side_name} domain '{domain}'")
    count: int = cur.rowcount
    return count


def delete_row(db: Database, domain: str, dtype: int, table: str = DEFAULT_TABLE,
               columns: dict[str, str] | None = None) -> int:
    names = column_names(columns)
    cur = db.execute(f"DELETE FROM {check_identifier(table)} WHERE {_where_key(db, names)}",
                     [domain, dtype], doing=f"deleting domain '{domain}'")
    count: int = cur.rowcount
    return count


# -- script domain -> row -------------------------------------------------------------------
def resolve_path(path: str) -> str:
    """OpenSIPS resolves relative paths against its working directory, '/' by default."""
    return path if os.path.isabs(path) else os.path.join("/", path)


def read_blob_file(path: str, what: str, *, cwd: bool = False) -> bytes:
    """A file's bytes for a BLOB column (a regular file within limits.PKI_FILE_MAX_BYTES);
    TlsmgmError names the file and why. A relative ``path`` resolves against '/' (as
    OpenSIPS reads its config), or against the current directory with ``cwd`` (a path typed
    on the command line, as opensips-cli reads it)."""
    from tlsmgm_cli.core.limits import PKI_FILE_MAX_BYTES
    from tlsmgm_cli.core.util.safeio import UnsafeInput, read_bytes_limited

    real = os.path.abspath(path) if cwd else resolve_path(path)
    try:
        return read_bytes_limited(real, limit=PKI_FILE_MAX_BYTES, what=f"{what} file")
    except UnsafeInput as err:
        note = "" if real == path or cwd else " (relative paths resolve against '/', as in OpenSIPS)"
        raise TlsmgmError(f"{err}{note}", exit_code=err.exit_code) from None


def _csv_for(stored: list[str] | None) -> str | None:
    """A filter list (stored order: reverse CSV) back to the CSV text OpenSIPS would store
    in that order."""
    if stored is None:
        return None
    return ", ".join(reversed(stored))


def row_from_domain(dom: TlsDomain, read: Callable[[str, str], bytes] = read_blob_file) -> TlsRow:
    """The row that makes OpenSIPS build the same domain from the DB: file parameters
    become BLOBs holding the files' whole contents (chains included); unset values NULL
    (so OpenSIPS applies the same defaults)."""
    def blob(param: str) -> bytes | None:
        value = getattr(dom, param)
        return read(value, f"[{dom.name}] {param}") if value else None

    return TlsRow(
        domain=dom.name,
        match_ip_address=_csv_for(dom.addresses),
        match_sip_domain=_csv_for(dom.sip_domains),
        type=TYPE_SERVER if dom.side == SERVER else TYPE_CLIENT,
        method=dom.method,
        verify_cert=dom.verify_cert,
        require_cert=dom.require_cert,
        certificate=blob("certificate"),
        private_key=blob("private_key"),
        crl_check_all=dom.crl_check_all,
        crl_dir=dom.crl_dir,
        ca_list=blob("ca_list"),
        ca_dir=dom.ca_dir,
        cipher_list=dom.ciphers_list,
        dh_params=blob("dh_params"),
        ec_curve=dom.ec_curve,
    )


def is_text(value: str) -> bool:
    """Whether ``value`` can go into a text column: no lone surrogate (argv or config
    bytes that were not UTF-8, kept by ``surrogateescape``)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def blob_text(value: bytes | None) -> str | None:
    """A BLOB as the text a ``TlsDomain`` holds (byte-exact via surrogateescape)."""
    return None if value is None else value.decode("utf-8", "surrogateescape")


__all__ = ["is_text", "TlsRow", "fetch_rows", "insert_rows", "update_row", "delete_row", "row_from_domain",
           "read_blob_file", "blob_text", "BLOB_COLUMNS"]
