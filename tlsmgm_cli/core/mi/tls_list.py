"""The reply OpenSIPS's MI ``tls_list`` gives for a DomainSet (behaviour §7.1, §7.2, §7.3)."""

from __future__ import annotations

from typing import Any

from tlsmgm_cli.core.cfg.modparams import effective_library
from tlsmgm_cli.core.domain import SERVER, DomainSet, TlsDomain
from tlsmgm_cli.core.tls.methods import MethodError, parse_method


def method_text(dom: TlsDomain, library: str) -> str:
    """METHOD as tls_list shows it: normalised range, UNKNOWN when never parsed."""
    if library == "none":
        return "UNKNOWN" if dom.method else "SSLv23"
    try:
        return parse_method(dom.method, library).name
    except MethodError:
        return "UNKNOWN"  # OpenSIPS would not have started / would have skipped the row


def domain_entry(dom: TlsDomain, library: str) -> dict[str, Any]:
    """One element of the "Domains" array, keys in OpenSIPS's order."""
    entry: dict[str, Any] = {
        "name": dom.name,
        "type": "TLS_DOMAIN_SRV" if dom.side == SERVER else "TLS_DOMAIN_CLI",
        "IP ADDRESS FILTERS": list(dom.eff_addresses),
        "SIP DOMAIN FILTERS": list(dom.eff_sip_domains),
        "METHOD": method_text(dom, library),
        "VERIFY_CERT": dom.eff_verify_cert,
        "REQ_CLI_CERT": dom.eff_require_cert,
        "CRL_CHECKALL": dom.eff_crl_check_all,
    }
    db = dom.from_db
    if not db:
        entry["CERT_FILE"] = dom.eff_certificate or ""
    entry["CRL_DIR"] = dom.crl_dir or ""
    if not db:
        entry["CA_FILE"] = dom.ca_list or ""
    entry["CA_DIR"] = dom.eff_ca_dir
    if not db:
        entry["PKEY_FILE"] = dom.eff_private_key or ""
    entry["CIPHER_LIST"] = dom.ciphers_list or ""
    if not db:
        entry["DH_PARAMS_FILE"] = dom.dh_params or ""
    entry["EC_CURVE"] = dom.ec_curve or ""
    return entry


def tls_list(domset: DomainSet) -> dict[str, Any]:
    """``{"Domains": [...]}``: client domains first, then server domains, each in list
    order; DB rows OpenSIPS skips are left out."""
    library = effective_library(domset)
    return {"Domains": [domain_entry(d, library) for d in domset.all if d.db_skip is None]}
