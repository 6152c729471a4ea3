"""The tls_mgm SQL table, as OpenSIPS 3.6 defines and reads it.

* ``url`` — OpenSIPS-style DB URLs, passwords kept out of every message.
* ``schema`` — the table, version 3, and its DDL per backend.
* ``backend`` — connections to SQLite, PostgreSQL and MySQL/MariaDB.
* ``rows`` — rows as plain data, read, written, and made from script domains.
* ``load`` — DB rows merged into a ``DomainSet`` with OpenSIPS's rules.
* ``tlsinit`` — what OpenSIPS's domain initialisation does with one domain: fail or not.
* ``validate`` — what ``db import`` validates, and the DB detectors ``check`` uses.
* ``edit`` — ``db add`` / ``db update`` / ``db remove`` arguments.
* ``importer`` — ``db import``: script domains to rows, in one transaction.
* ``export`` — ``db export``: BLOBs to files plus an equivalent modparam snippet.

Implements behaviour §8 (§8.1 to §8.9), the DB URL rules of behaviour §3.5 and,
for DB domains, the initialisation steps of behaviour §6.13.
"""

from tlsmgm_cli.core.db.url import DbUrl, mask_url, parse_db_url

__all__ = ["DbUrl", "mask_url", "parse_db_url"]
