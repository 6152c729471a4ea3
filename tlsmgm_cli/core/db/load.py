"""DB-defined TLS domains, merged into a script ``DomainSet`` the way OpenSIPS 3.6.8's
``load_info``/``db_add_domain``/``init_tls_domains`` do it
(behaviour §8.3, §8.4, §8.5, §8.6, §8.8, §8.9; the list order of §4.3).

* Rows OpenSIPS *rejects* (no name, type not 1/2, duplicate (name, type)) never become
  domains: each gives a warning diagnostic with OpenSIPS's wording.
* Rows OpenSIPS *skips at init* (bad PEM, key mismatch, bad method, cipher list, curve...)
  stay in the set with ``db_skip`` = the reason, plus a warning
  ``Failed to init TLS domain 'x', skipping...``; ``tls_list`` and the matcher leave them out.
* A row whose ``match_ip_address`` is ``''`` or unparsable is *half added* (OpenSIPS bug): it
  stays as a script-like domain with defaults and makes OpenSIPS exit at startup (error).
* Loaded DB domains go in front of the script domains, in reverse fetch order.
"""

from __future__ import annotations

from tlsmgm_cli.core.cfg.modparams import effective_library
from tlsmgm_cli.core.db.rows import TlsRow, blob_text
from tlsmgm_cli.core.db.schema import DEFAULT_TABLE, TABLE_VERSION, TYPE_CLIENT, TYPE_SERVER
from tlsmgm_cli.core.db.tlsinit import falls_back_to_default_key, init_failure, init_steps
from tlsmgm_cli.core.domain import CLIENT, SERVER, DomainSet, TlsDomain
from tlsmgm_cli.core.errors import Diagnostic
from tlsmgm_cli.core.net.addresses import AddressError, parse_address_item, split_csv


def merge_db_domains(domset: DomainSet, url: str) -> None:
    """Read the tls_mgm table at ``url`` (honouring ``db_table`` and the ``*_col`` params)
    and merge its domains into ``domset``. Connection problems raise ``TlsmgmError``
    (password masked); a wrong table version or a failed query is an error diagnostic,
    like the mod_init failure it is in OpenSIPS."""
    from tlsmgm_cli.core.db.backend import DbError, connect
    from tlsmgm_cli.core.db.rows import fetch_rows

    table = domset.globals.db_table or DEFAULT_TABLE
    with connect(url) as db:
        version = db.table_version(table)
        if version != TABLE_VERSION:
            found = "no 'version' table" if version is None else \
                f"no row for '{table}'" if version == 0 else f"version {version}"
            domset.diagnostics.append(Diagnostic(
                "error", "db-table-version",
                f"invalid table version for '{table}' in {db.url.masked()}: found {found}, "
                f"expected {TABLE_VERSION}; OpenSIPS refuses to start (Unable to load domains info "
                "from DB)", hint="create the table with `tlsmgm db init --db URL`"))
            return
        try:
            rows = fetch_rows(db, table, domset.globals.columns)
        except DbError as err:
            domset.diagnostics.append(Diagnostic(
                "error", "db-query-failed", f"{err} (OpenSIPS: DB query failed)"))
            return
    add_db_rows(domset, rows)


def _parse_addresses(value: str) -> tuple[list[str], bool]:
    """Filters in stored (prepended) order and whether the whole value parsed. Items
    before the first bad one are kept, as OpenSIPS has already linked them."""
    if value.startswith("*"):
        return ["*"], True
    parsed: list[str] = []
    for item in split_csv(value):
        try:
            parsed.insert(0, parse_address_item(item))
        except AddressError:
            return parsed, False
    return parsed, True


def _reject(domset: DomainSet, row: TlsRow, reason: str, code: str, side: str | None = None) -> None:
    who = f"TLS domain '{row.domain}' id: {row.id}" if row.domain else f"TLS domain id: {row.id}"
    domset.diagnostics.append(Diagnostic(
        "warning", code, f"{reason}; failed to add {who}, skipping...",
        domain=row.domain, side=side, extra={"db_id": row.id}))


def _db_flag(value: int | None) -> int | None:
    """An int column as OpenSIPS's ``int_vals``: a C int (SQLite's wider integers keep
    their low 32 bits, ``sqlite3_column_int``), NULL read as -1, and -1 -- stored or
    NULL -- keeps the creation default (behaviour §5.3)."""
    if value is None:
        return None
    value = ((value & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000
    return None if value == -1 else value


def _domain_from_row(domset: DomainSet, row: TlsRow, side: str) -> TlsDomain:
    """Columns -> TlsDomain (NULL/'' strings unset, NULL or -1 ints keep the default)."""
    sip = None if row.match_sip_domain is None else list(reversed(split_csv(row.match_sip_domain)))
    return TlsDomain(
        name=row.domain or "", side=side, source="db", db_id=row.id,
        sip_domains=sip,
        method=row.method or None,
        verify_cert=_db_flag(row.verify_cert), require_cert=_db_flag(row.require_cert),
        crl_check_all=_db_flag(row.crl_check_all),
        certificate=blob_text(row.certificate) or None,
        private_key=blob_text(row.private_key) or None,
        ca_list=blob_text(row.ca_list) or None,
        dh_params=blob_text(row.dh_params) or None,
        crl_dir=row.crl_dir or None, ca_dir=row.ca_dir or None,
        ciphers_list=row.cipher_list or None, ec_curve=row.ec_curve or None,
        cfg_dir=domset.cfg_dir, opensips_version=domset.opensips_version)


def add_db_rows(domset: DomainSet, rows: list[TlsRow]) -> None:
    """Apply OpenSIPS's per-row rules to ``rows`` (in fetch order) and merge the result
    into ``domset`` (see the module docstring)."""
    script = {SERVER: list(domset.server), CLIENT: list(domset.client)}
    added: dict[str, list[TlsDomain]] = {SERVER: [], CLIENT: []}  # fetch order
    for row in rows:
        if not row.domain:
            _reject(domset, row, "TLS domain in DB must have a name", "db-row-no-name")
            continue
        dtype = row.type or 0
        if dtype not in (TYPE_CLIENT, TYPE_SERVER):
            _reject(domset, row, f"unknown TLS domain type [{dtype}] in DB", "db-row-bad-type")
            continue
        side = SERVER if dtype == TYPE_SERVER else CLIENT
        if any(d.name == row.domain for d in script[side] + added[side]):
            msg = (f"Domain name: [{row.domain}] already defined" if side == SERVER
                   else f"Domain: [{row.domain}] already defined")
            _reject(domset, row, msg, "db-row-duplicate", side)
            continue
        if row.match_ip_address is None:
            dom = _domain_from_row(domset, row, side)
            domset.diagnostics.append(Diagnostic(
                "note", "db-null-filter", f"match_ip_address of TLS domain '{row.domain}' id: {row.id} "
                "is NULL: OpenSIPS logs an error and uses '*'", domain=row.domain, side=side))
        else:
            addresses, complete = _parse_addresses(row.match_ip_address)
            if not complete:
                added[side].append(_half_added(domset, row, side, addresses))
                continue
            dom = _domain_from_row(domset, row, side)
            dom.addresses = addresses
        added[side].append(dom)
    for side in (SERVER, CLIENT):
        db_first = list(reversed(added[side]))  # OpenSIPS prepends each new domain
        if side == SERVER:
            domset.server[:0] = db_first
        else:
            domset.client[:0] = db_first
    mark_init_failures(domset)


def _half_added(domset: DomainSet, row: TlsRow, side: str, addresses: list[str]) -> TlsDomain:
    """The half-added domain of a row whose match_ip_address does not parse (behaviour §8.6): it
    behaves as a script domain with defaults. OpenSIPS exits at startup when that domain
    fails to initialise - normally, since the default CFG_DIR certificate and key rarely
    exist - and starts (with a stray domain) when they load."""
    dom = TlsDomain(name=row.domain or "", side=side, source="script", db_id=row.id,
                    addresses=addresses or None, cfg_dir=domset.cfg_dir,
                    opensips_version=domset.opensips_version)
    reason = init_failure(dom, effective_library(domset))
    what = (f"match_ip_address {row.match_ip_address!r} of TLS domain '{row.domain}' id: {row.id} does "
            "not parse: OpenSIPS leaves the domain half added (no DB flag, default certificate and "
            "key files)")
    if reason:
        severity, message = "error", (f"{what} and then fails to start ({reason}) - one bad row takes "
                                      "the whole server down")
    else:
        severity, message = "warning", (f"{what}; it starts only because the default certificate and "
                                        "key load, and the stray domain survives tls_reload")
    domset.diagnostics.append(Diagnostic(
        severity, "db-half-added-row", message, domain=row.domain, side=side, extra={"db_id": row.id},
        hint="write 'IP:port' items (port mandatory) or '*', or NULL for any address"))
    return dom


def mark_init_failures(domset: DomainSet) -> None:
    """Set ``db_skip`` on every DB domain OpenSIPS's init would drop (each list in order,
    modelling the from_file bug as observed, behaviour §8.8: the flag is set only by a
    domain that reaches the private-key step and loads the default key *file*; a domain
    that fails earlier, e.g. at its missing default certificate, never sets it)."""
    library = effective_library(domset)
    for domains in (domset.server, domset.client):
        key_from_file = False  # never reset inside OpenSIPS's loop
        last_db = max((i for i, d in enumerate(domains) if d.from_db), default=-1)
        for dom in domains[:last_db + 1]:  # the flag only matters to a later DB domain
            result = init_steps(dom, library, key_blob_as_file=key_from_file and dom.from_db)
            if dom.from_db and result.reason and dom.db_skip is None:
                dom.db_skip = result.reason
                domset.diagnostics.append(Diagnostic(
                    "warning", "db-row-skipped",
                    f"Failed to init TLS domain '{dom.name}', skipping... ({result.reason})",
                    domain=dom.name, side=dom.side, extra={"db_id": dom.db_id}))
            if result.reached_key and falls_back_to_default_key(dom):
                key_from_file = True
