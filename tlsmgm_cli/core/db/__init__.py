"""The tls_mgm SQL table: URLs (``url``), DDL (``schema``), connections (``backend``),
rows (``rows``), OpenSIPS's init checks (``tlsinit``), import validation and DB detectors
(``validate``), ``importer`` and ``export``. DB-defined domains are merged into a
``DomainSet`` by ``tlsmgm_cli.core.db.load``."""

from tlsmgm_cli.core.db.url import DbUrl, mask_url, parse_db_url

__all__ = ["DbUrl", "mask_url", "parse_db_url"]
