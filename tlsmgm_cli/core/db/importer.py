"""``db import``: script domains -> rows, compared with the table, written in one
transaction (all rows or none)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

from tlsmgm_cli.core.db.backend import Database
from tlsmgm_cli.core.db.rows import TlsRow, insert_rows, is_text, row_from_domain, update_row
from tlsmgm_cli.core.db.schema import DEFAULT_TABLE
from tlsmgm_cli.core.domain import DomainSet, TlsDomain
from tlsmgm_cli.core.errors import TlsmgmError, UsageError


@dataclass(slots=True)
class RowChange:
    """An existing row and what it becomes; ``changed`` lists the differing columns."""

    old: TlsRow
    new: TlsRow
    changed: list[str]


@dataclass(slots=True)
class ImportPlan:
    inserts: list[TlsRow] = field(default_factory=list)
    updates: list[RowChange] = field(default_factory=list)
    unchanged: list[TlsRow] = field(default_factory=list)

    @property
    def writes(self) -> int:
        return len(self.inserts) + len(self.updates)


def select_domains(domset: DomainSet, names: Iterable[str] | None) -> list[TlsDomain]:
    """The script domains to import, in declaration order (reverse of list order, so that
    rows fetched in insertion order rebuild OpenSIPS's list order). ``names`` selects by
    name (server and client domains of that name); an unknown name is an error."""
    script = [d for d in domset.all if not d.from_db]
    if names is None:
        chosen = script
    else:
        wanted = list(dict.fromkeys(names))
        missing = [n for n in wanted if not any(d.name == n for d in script)]
        if missing:
            raise UsageError("no TLS domain named " + ", ".join(repr(n) for n in missing)
                             + " in the config")
        chosen = [d for d in script if d.name in wanted]
    servers = [d for d in chosen if d.side == "server"]
    clients = [d for d in chosen if d.side == "client"]
    return list(reversed(servers)) + list(reversed(clients))


def rows_for(domains: Iterable[TlsDomain],
             read: Callable[[str, str], bytes] | None = None) -> list[TlsRow]:
    """Rows for script domains (files read into BLOBs). Raises TlsmgmError naming the first
    file that cannot be read, or the first value that is not UTF-8 text."""
    rows: list[TlsRow] = []
    for dom in domains:
        row = row_from_domain(dom) if read is None else row_from_domain(dom, read)
        for column, value in asdict(row).items():
            if isinstance(value, str) and not is_text(value):
                raise TlsmgmError(f"{dom.side} domain [{dom.name}]: {column} holds bytes that are not UTF-8 "
                                  f"('{value}'); the tls_mgm table holds text, so nothing is written")
        rows.append(row)
    return rows


def plan_import(rows: Iterable[TlsRow], existing: Iterable[TlsRow]) -> ImportPlan:
    """Compare ``rows`` with the table's rows by (domain, type)."""
    by_key = {r.key: r for r in existing}
    plan = ImportPlan()
    for row in rows:
        old = by_key.get(row.key)
        if old is None:
            plan.inserts.append(row)
            continue
        new_content, old_content = row.content(), old.content()
        changed = [c for c in new_content if new_content[c] != old_content[c]]
        if changed:
            plan.updates.append(RowChange(old, row, changed))
        else:
            plan.unchanged.append(old)
    return plan


def apply_import(db: Database, plan: ImportPlan, table: str = DEFAULT_TABLE,
                 columns: dict[str, str] | None = None,
                 progress: Callable[[int], None] | None = None) -> None:
    """Write the plan in one transaction: on any error nothing is changed. ``progress(n)``
    is called after each written row."""
    with db.transaction():
        insert_rows(db, plan.inserts, table, columns, progress=progress)
        for n, change in enumerate(plan.updates, len(plan.inserts) + 1):
            update_row(db, change.new, change.changed, table, columns)
            if progress:
                progress(n)
