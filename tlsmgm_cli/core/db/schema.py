"""The ``tls_mgm`` table, version 3, exactly as OpenSIPS 3.6 creates it (behaviour §8.1, §8.2,
``scripts/{mysql,postgres,sqlite}/tls_mgm-create.sql``), and OpenSIPS's standard
``version`` table (``scripts/*/standard-create.sql``).

Columns are described once in ``COLUMNS``; the DDL per backend is generated from the same
type table so that a non-default ``db_table`` gets the same shape (constraint and sequence
names follow OpenSIPS's ``<table>_...`` pattern).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tlsmgm_cli.core.errors import UsageError

TABLE_VERSION = 3
DEFAULT_TABLE = "tls_mgm"
BACKEND_NAMES = ("sqlite", "postgres", "mysql")


@dataclass(frozen=True, slots=True)
class Column:
    """One column of the table. ``param`` is the modparam naming it (None: fixed name);
    ``attr`` the ``TlsDomain`` attribute it feeds; ``kind`` int | str | blob;
    ``size`` the CHAR/VARCHAR length or the MySQL BLOB capacity in bytes."""

    name: str
    param: str | None
    attr: str
    kind: str
    size: int | None
    not_null: bool = False
    default: str | None = None  # SQL literal


MYSQL_BLOB_MAX = 65_535
# the INTEGER columns: 32-bit signed on PostgreSQL and MySQL (SQLite holds more)
INT_MIN = -(2**31)
INT_MAX = 2**31 - 1
MYSQL_MEDIUMBLOB_MAX = 16_777_215

# the 17 columns in OpenSIPS's SELECT order (load_info)
COLUMNS: tuple[Column, ...] = (
    Column("id", None, "db_id", "int", None, True),
    Column("domain", "domain_col", "name", "str", 64, True),
    Column("match_ip_address", "match_ip_address_col", "addresses", "str", 255, False, "NULL"),
    Column("match_sip_domain", "match_sip_domain_col", "sip_domains", "str", 255, False, "NULL"),
    Column("type", None, "side", "int", None, True, "1"),
    Column("method", "tls_method_col", "method", "str", 16, False, "'SSLv23'"),
    Column("verify_cert", "verify_cert_col", "verify_cert", "int", None, False, "1"),
    Column("require_cert", "require_cert_col", "require_cert", "int", None, False, "1"),
    Column("certificate", "certificate_col", "certificate", "blob", MYSQL_BLOB_MAX),
    Column("private_key", "private_key_col", "private_key", "blob", MYSQL_BLOB_MAX),
    Column("crl_check_all", "crl_check_all_col", "crl_check_all", "int", None, False, "0"),
    Column("crl_dir", "crl_dir_col", "crl_dir", "str", 255, False, "NULL"),
    Column("ca_list", "ca_list_col", "ca_list", "blob", MYSQL_MEDIUMBLOB_MAX, False, "NULL"),
    Column("ca_dir", "ca_dir_col", "ca_dir", "str", 255, False, "NULL"),
    Column("cipher_list", "ciphers_list_col", "ciphers_list", "str", 255, False, "NULL"),
    Column("dh_params", "dh_params_col", "dh_params", "blob", MYSQL_BLOB_MAX, False, "NULL"),
    Column("ec_curve", "ec_curve_col", "ec_curve", "str", 255, False, "NULL"),
)
COLUMN_NAMES = tuple(c.name for c in COLUMNS)
BY_NAME = {c.name: c for c in COLUMNS}
BLOB_COLUMNS = tuple(c.name for c in COLUMNS if c.kind == "blob")
TYPE_CLIENT, TYPE_SERVER = 1, 2

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def check_identifier(name: str, what: str = "table") -> str:
    """Table and column names are spliced into SQL: allow plain identifiers only."""
    if not _IDENT.match(name or ""):
        raise UsageError(f"unsupported {what} name {name!r} (tlsmgm accepts letters, digits and '_')")
    return name


def column_names(columns: dict[str, str] | None = None) -> list[str]:
    """The 17 column names, honouring the ``*_col`` modparams (``columns`` maps a modparam
    name to the column name; ``id`` and ``type`` are fixed)."""
    columns = columns or {}
    return [check_identifier(columns.get(c.param, c.name) if c.param else c.name, "column")
            for c in COLUMNS]


def _sql_type(col: Column, backend: str) -> str:
    if col.name == "id":
        return {"mysql": "INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL",
                "postgres": "SERIAL PRIMARY KEY NOT NULL",
                "sqlite": "INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL"}[backend]
    if col.kind == "int":
        return "INT(1)" if backend == "mysql" else "INTEGER"
    if col.kind == "str":
        return f"VARCHAR({col.size})" if backend == "postgres" else f"CHAR({col.size})"
    if backend == "postgres":
        return "BYTEA"
    if backend == "mysql" and col.name == "ca_list":
        return "MEDIUMBLOB"
    return "BLOB"


def create_table_sql(backend: str, table: str = DEFAULT_TABLE) -> list[str]:
    """The CREATE TABLE (and, for PostgreSQL, the ALTER SEQUENCE) statements."""
    check_identifier(table)
    lines = []
    for col in COLUMNS:
        text = f"    {col.name} {_sql_type(col, backend)}"
        if col.default is not None:
            text += f" DEFAULT {col.default}"
        if col.not_null and col.name != "id":
            text += " NOT NULL"
        lines.append(text)
    index = "domain_type_idx" if backend == "mysql" else f"{table}_domain_type_idx"
    sep = "  " if backend == "sqlite" else " "  # byte-for-byte as OpenSIPS's scripts
    lines.append(f"    CONSTRAINT {index}{sep}UNIQUE (domain, type)")
    body = ",\n".join(lines)
    tail = ") ENGINE=InnoDB" if backend == "mysql" else ")"
    statements = [f"CREATE TABLE {table} (\n{body}\n{tail}"]
    if backend == "postgres":
        statements.append(f"ALTER SEQUENCE {table}_id_seq MAXVALUE 2147483647 CYCLE")
    return statements


def version_table_sql(backend: str) -> str:
    """OpenSIPS's standard ``version`` table for ``backend``."""
    if backend == "mysql":
        return ("CREATE TABLE version (\n    table_name CHAR(32) NOT NULL,\n"
                "    table_version INT UNSIGNED DEFAULT 0 NOT NULL,\n"
                "    CONSTRAINT t_name_idx UNIQUE (table_name)\n) ENGINE=MyISAM")
    name_type = "VARCHAR(32)" if backend == "postgres" else "CHAR(32)"
    sep = "  " if backend == "sqlite" else " "
    return (f"CREATE TABLE version (\n    table_name {name_type} NOT NULL,\n"
            "    table_version INTEGER DEFAULT 0 NOT NULL,\n"
            f"    CONSTRAINT version_t_name_idx{sep}UNIQUE (table_name)\n)")


def version_insert_sql(table: str = DEFAULT_TABLE) -> str:
    return (f"INSERT INTO version (table_name, table_version) values "
            f"('{check_identifier(table)}','{TABLE_VERSION}')")


def init_script(backend: str, table: str = DEFAULT_TABLE) -> str:
    """The whole script ``db init`` runs, for ``--print-sql``."""
    parts = ["-- OpenSIPS standard-create.sql (run only when the version table is absent)",
             version_table_sql(backend) + ";", "",
             f"-- OpenSIPS {table}-create.sql (tls_mgm schema version {TABLE_VERSION})",
             version_insert_sql(table) + ";"]
    parts += [s + ";" for s in create_table_sql(backend, table)]
    return "\n".join(parts) + "\n"
