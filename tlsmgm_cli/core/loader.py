"""One call from a config path (and optional DB) to the DomainSet OpenSIPS would hold."""

from __future__ import annotations

from tlsmgm_cli.core.domain import DomainSet
from tlsmgm_cli.core.util.parallel import gc_paused


def load_domains(config: str, *, preprocessor: str | None = None, cfg_dir: str = "/etc/opensips/",
                 opensips_version: tuple[int, int, int] = (3, 6, 8), db_url: str | None = None,
                 use_db: bool = True, after_reload: bool = False) -> DomainSet:
    """Read ``config`` (includes followed, optional preprocessor), apply the tls_mgm
    modparams, and - when ``use_db`` and a DB URL is known (``db_url`` argument, else the
    config's ``db_url`` modparam) - merge the DB-defined domains in OpenSIPS's order.

    Raises TlsmgmError when the config cannot be read at all; every other problem is a
    Diagnostic in ``DomainSet.diagnostics`` (config reader's first)."""
    from tlsmgm_cli.core.cfg.modparams import build_domains
    from tlsmgm_cli.core.cfg.parse import read_config

    with gc_paused():  # the reader allocates many objects and no cycles: ~15% faster
        parsed = read_config(config, preprocessor=preprocessor)
        domset = build_domains(parsed, cfg_dir=cfg_dir, opensips_version=opensips_version)
    domset.diagnostics[:0] = parsed.diagnostics
    domset.after_reload = after_reload
    url = db_url or domset.globals.db_url
    if use_db and url:
        _merge_db(domset, url, explicit=db_url is not None)
    _add_matching_diagnostics(domset)
    return domset


def _merge_db(domset: DomainSet, url: str, *, explicit: bool) -> None:
    """DB domains in front of the script ones. A DB tlsmgm cannot read is an error when
    the user named it (--db: ``db-named-unreachable``), and a warning when it only comes
    from the config's db_url (``db-unreachable``: the script domains are still worth
    listing and checking on a machine without the DB). Either way the diagnostic names the
    URL (password masked) and says that the DB domains were left out."""
    from tlsmgm_cli.core.db.load import merge_db_domains
    from tlsmgm_cli.core.errors import Diagnostic, TlsmgmError
    from tlsmgm_cli.core.net.urls import mask_url

    try:
        merge_db_domains(domset, url)
    except TlsmgmError as err:
        masked = mask_url(url)
        detail = err.message.removeprefix(f"{masked}: ")
        what = (f"cannot read the DB domains from {masked}: {detail}; the DB-defined domains were "
                "not loaded, so they were not checked or listed (script domains only)")
        if explicit:
            domset.diagnostics.append(Diagnostic(
                "error", "db-named-unreachable", what,
                hint="check the URL given with --db (or TLSMGM_DB), or pass --no-db for an offline run"))
            return
        domset.diagnostics.append(Diagnostic(
            "warning", "db-unreachable", what, domset.globals.locs.get("db_url"),
            hint="run where the DB is reachable, pass --db URL to point at a reachable copy of the "
                 "tls_mgm table, or --no-db to check the script domains only on purpose"))


def _add_matching_diagnostics(domset: DomainSet) -> None:
    """mod_init aborts on more than 64 patterns per address key (behaviour §4.4, §9.2)."""
    from tlsmgm_cli.core.matching.matcher import matching_diagnostics

    domset.diagnostics.extend(matching_diagnostics(domset))
