"""Connections to SQLite (stdlib), PostgreSQL (psycopg 3) and MySQL/MariaDB (PyMySQL).

``connect(url)`` returns a ``Database``: a thin DB-API wrapper that knows its placeholder
and identifier quoting, runs explicit transactions, and turns every driver error into a
``TlsmgmError`` whose text names the masked URL and never the password.
"""

from __future__ import annotations

import importlib
import os
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from tlsmgm_cli.core import limits
from tlsmgm_cli.core.db.schema import (
    DEFAULT_TABLE,
    TABLE_VERSION,
    check_identifier,
    create_table_sql,
    version_insert_sql,
    version_table_sql,
)
from tlsmgm_cli.core.db.url import DbUrl, parse_db_url
from tlsmgm_cli.core.errors import TlsmgmError

DRIVERS = {"postgres": ("psycopg", "postgres"), "mysql": ("pymysql", "mysql")}
PRIVATE_FILE_MODE = 0o600  # the tls_mgm table holds PEM private keys


class DbError(TlsmgmError):
    """A database operation failed (message already masked)."""


def _driver(backend: str) -> Any:
    module, extra = DRIVERS[backend]
    try:
        return importlib.import_module(module)
    except ImportError:
        raise DbError(f"the {backend} backend needs the '{module}' package: "
                      f"pip install 'tlsmgm[{extra}]' (or pip install '.[{extra}]' in a source tree)"
                      ) from None


class Database:
    """One open connection. Use as a context manager (closes on exit)."""

    def __init__(self, url: DbUrl, conn: Any):
        self.url = url
        self.backend = url.backend
        self.conn = conn
        self.placeholder = "?" if self.backend == "sqlite" else "%s"
        self._in_tx = False

    # -- plumbing ------------------------------------------------------------------------
    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.conn.close()
        except Exception:  # noqa: BLE001 - closing a broken connection must not mask the real error
            pass

    def error(self, err: BaseException, doing: str) -> DbError:
        """A DbError for a driver exception, with the password scrubbed and the timeout
        that ended the wait named."""
        text = self.url.scrub(" ".join(str(err).split()) or type(err).__name__)
        return DbError(f"{self.url.masked()}: {doing} failed: {text}{_timeout_note(err, text)}")

    def quote(self, ident: str) -> str:
        check_identifier(ident, "column")
        return f"`{ident}`" if self.backend == "mysql" else f'"{ident}"'

    def execute(self, sql: str, params: Sequence[Any] = (), *, doing: str = "query") -> Any:
        cur = self.conn.cursor()
        try:
            cur.execute(sql, tuple(params))
        except Exception as err:  # noqa: BLE001 - any driver error becomes a DbError
            raise self.error(err, doing) from None
        return cur

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]], *, doing: str) -> None:
        cur = self.conn.cursor()
        try:
            cur.executemany(sql, [tuple(r) for r in rows])
        except Exception as err:  # noqa: BLE001
            raise self.error(err, doing) from None

    def query(self, sql: str, params: Sequence[Any] = (), *, doing: str = "query") -> list[tuple[Any, ...]]:
        cur = self.execute(sql, params, doing=doing)
        try:
            return [tuple(r) for r in cur.fetchall()]
        except Exception as err:  # noqa: BLE001
            raise self.error(err, doing) from None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All statements inside commit together or not at all."""
        if self._in_tx:
            yield
            return
        self._begin()
        self._in_tx = True
        try:
            yield
        except BaseException:
            self._in_tx = False
            self._end("ROLLBACK")
            raise
        self._in_tx = False
        self._end("COMMIT")

    def _begin(self) -> None:
        try:
            if self.backend == "sqlite":
                self.conn.execute("BEGIN IMMEDIATE")
            elif self.backend == "mysql":
                self.conn.begin()
            else:
                self.conn.execute("BEGIN")
        except Exception as err:  # noqa: BLE001
            raise self.error(err, "starting a transaction") from None

    def _end(self, verb: str) -> None:
        try:
            if self.backend == "mysql":
                (self.conn.commit if verb == "COMMIT" else self.conn.rollback)()
            else:
                self.conn.execute(verb)
        except Exception as err:  # noqa: BLE001
            if verb == "COMMIT":
                raise self.error(err, "committing") from None

    # -- schema --------------------------------------------------------------------------
    def table_exists(self, table: str) -> bool:
        check_identifier(table)
        if self.backend == "sqlite":
            sql = "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?"
        elif self.backend == "postgres":
            sql = "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() " \
                  "AND table_name = %s"
        else:
            sql = "SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() " \
                  "AND table_name = %s"
        return bool(self.query(sql, (table,), doing="looking up a table"))

    def table_version(self, table: str = DEFAULT_TABLE) -> int | None:
        """The ``version`` table's entry for ``table`` (None: no version table; 0: no row),
        as OpenSIPS's ``db_check_table_version`` reads it."""
        if not self.table_exists("version"):
            return None
        rows = self.query(f"SELECT table_version FROM version WHERE table_name = {self.placeholder}",
                          (table,), doing="reading the version table")
        return int(rows[0][0]) if rows else 0

    def init_schema(self, table: str = DEFAULT_TABLE) -> list[str]:
        """Create the version table (when absent), the version row and the table, in one
        transaction where the backend allows it. Returns the statements run. Raises when
        the table already exists."""
        if self.table_exists(table):
            raise DbError(f"{self.url.masked()}: table '{table}' already exists "
                          f"(version {self.table_version(table)}); nothing done")
        statements = [] if self.table_exists("version") else [version_table_sql(self.backend)]
        statements.append(version_insert_sql(table))
        statements += create_table_sql(self.backend, table)
        with self.transaction():
            for sql in statements:
                self.execute(sql, doing="creating the schema")
        return statements

    # -- file permissions ----------------------------------------------------------------
    def exposed_sqlite_file(self, table: str = DEFAULT_TABLE) -> tuple[str, int] | None:
        """``(path, mode)`` when this is an SQLite file that group or others can read and
        ``table`` holds rows (PEM private keys anyone on the host can then copy); else None."""
        if self.backend != "sqlite":
            return None
        path = sqlite_path(self.url)
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode)
        except OSError:
            return None
        if not mode & (stat.S_IRGRP | stat.S_IROTH):
            return None
        if not self.query(f"SELECT 1 FROM {check_identifier(table)} LIMIT 1", doing="counting rows"):
            return None
        return path, mode


def sqlite_path(url: DbUrl) -> str:
    """The file an SQLite URL names (``sqlite:////x`` and ``sqlite:///x`` both mean ``/x``)."""
    return "/" + url.database.lstrip("/")


def _create_private_file(path: str) -> None:
    """Create ``path`` empty with mode 0600 unless it exists, so that SQLite (whose journal
    and WAL files copy the database file's mode) never makes a key store the umask allows
    others to read."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE_MODE)
    except FileExistsError:
        return
    except OSError as err:
        raise DbError(f"cannot create the SQLite database {path}: {err.strerror or err}") from None
    os.close(fd)


def connect(url: str | DbUrl, *, create: bool = False) -> Database:
    """Open a connection. SQLite files are never created unless ``create`` (a typo in the
    path must not silently produce an empty database); a created file has mode 0600."""
    parsed = url if isinstance(url, DbUrl) else parse_db_url(url)
    if parsed.backend == "sqlite":
        import sqlite3
        from urllib.parse import quote

        if create:
            _create_private_file(sqlite_path(parsed))
        mode = "rwc" if create else "rw"
        # sqlite_path: "//x" would read as a URI authority; '?', '#' and '%' must not end the path
        path = quote(sqlite_path(parsed))
        try:
            conn = sqlite3.connect(f"file:{path}?mode={mode}", uri=True,
                                   isolation_level=None, timeout=limits.DB_LOCK_TIMEOUT_S)
        except sqlite3.Error as err:
            raise DbError(f"{parsed.masked()}: cannot open the SQLite database: {err}") from None
        return Database(parsed, conn)
    driver = _driver(parsed.backend)
    connect_s = limits.DB_CONNECT_TIMEOUT_S
    lock_s = limits.DB_LOCK_TIMEOUT_S
    try:
        if parsed.backend == "postgres":
            # libpq's connect_timeout bounds the whole start-up (TCP, TLS, authentication);
            # lock_timeout ends a wait for a row or table lock, statement_timeout any statement
            options = (f"-c lock_timeout={int(lock_s * 1000)} "
                       f"-c statement_timeout={int(limits.DB_STATEMENT_TIMEOUT_S * 1000)}")
            conn = driver.connect(host=parsed.host or "localhost", port=parsed.port or 5432,
                                  user=parsed.user, password=parsed.password, dbname=parsed.database,
                                  connect_timeout=max(1, round(connect_s)), options=options,
                                  autocommit=True)
        else:
            # PyMySQL's connect_timeout covers only the TCP connect: the server's greeting and
            # the authentication are reads, bounded by read_timeout
            conn = driver.connect(host=parsed.host or "localhost", port=parsed.port or 3306,
                                  user=parsed.user or "", password=parsed.password or "",
                                  database=parsed.database, connect_timeout=connect_s,
                                  read_timeout=connect_s, write_timeout=connect_s,
                                  init_command=f"SET SESSION innodb_lock_wait_timeout = {max(1, round(lock_s))}, "
                                               f"SESSION lock_wait_timeout = {max(1, round(lock_s))}",
                                  autocommit=True, charset="utf8mb4")
            # after the start-up, one reply may take as long as a statement may run
            _set_mysql_timeouts(conn, limits.DB_STATEMENT_TIMEOUT_S)
    except Exception as err:  # noqa: BLE001 - driver errors vary; all become DbError
        text = parsed.scrub(" ".join(str(err).split()) or type(err).__name__)
        if _is_timeout(err, text):
            text = f"no answer within the {connect_s:g} s connect timeout ({text})"
        raise DbError(f"{parsed.masked()}: cannot connect: {text}") from None
    return Database(parsed, conn)


def _set_mysql_timeouts(conn: Any, seconds: float) -> None:
    """PyMySQL re-applies these before each read/write (pymysql >= 1.0)."""
    if hasattr(conn, "_read_timeout") and hasattr(conn, "_write_timeout"):
        conn._read_timeout = seconds
        conn._write_timeout = seconds


def _is_timeout(err: BaseException, text: str) -> bool:
    if isinstance(err, TimeoutError):
        return True
    cause = err.__cause__ or err.__context__
    if isinstance(cause, TimeoutError):
        return True
    low = text.lower()
    return "timed out" in low or "timeout expired" in low


def _timeout_note(err: BaseException, text: str) -> str:
    """Which of tlsmgm's limits ended a wait (lock, statement, read), as a suffix."""
    low = text.lower()
    if "lock timeout" in low or "lock wait timeout" in low or "database is locked" in low:
        return (f" (gave up waiting for a lock held by another connection after the "
                f"{limits.DB_LOCK_TIMEOUT_S:g} s lock timeout)")
    if "statement timeout" in low:
        return f" (stopped by the {limits.DB_STATEMENT_TIMEOUT_S:g} s statement timeout)"
    if _is_timeout(err, text):
        return f" (no reply within the {limits.DB_STATEMENT_TIMEOUT_S:g} s database read timeout)"
    return ""


__all__ = ["Database", "DbError", "connect", "TABLE_VERSION"]
