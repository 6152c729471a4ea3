"""Plain-data views of domains for ``tlsmgm list`` (every field, defaults applied,
with provenance), including a short summary of each domain's certificate."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from tlsmgm_cli.core.cfg.modparams import effective_library
from tlsmgm_cli.core.domain import DomainSet, TlsDomain
from tlsmgm_cli.core.mi.tls_list import method_text
from tlsmgm_cli.core.x509.pem import CERTIFICATE_LABELS, is_pem, pem_blocks

_FILE_PARAMS = ("certificate", "private_key", "ca_list", "dh_params")


def _loc_text(dom: TlsDomain, param: str | None = None) -> dict[str, Any]:
    loc = dom.where(param)
    return {"file": loc.file if loc else None, "line": loc.line if loc else None}


def _value_view(dom: TlsDomain, param: str, value: str | None) -> str | None:
    """Paths as they are; DB PEM content described, never printed (keys above all)."""
    if value and dom.file_is_content(param):
        return f"<PEM in DB, {len(value.encode('utf-8', 'replace'))} bytes>"
    return value


def certificate_summary(dom: TlsDomain, now: _dt.datetime | None = None) -> dict[str, Any] | None:
    """CN, first SANs and notAfter of the domain's (effective) certificate, or the reason it
    could not be read. None when the domain has no certificate (cert-less client)."""
    source = dom.eff_certificate
    if source is None:
        return None
    from cryptography import x509

    from tlsmgm_cli.core.cfg.parse import holds_private_key
    from tlsmgm_cli.core.limits import PKI_FILE_MAX_BYTES
    from tlsmgm_cli.core.util.safeio import UnsafeInput, read_bytes_limited

    in_db = dom.file_is_content("certificate")
    label = "the DB certificate" if in_db else source  # DB content is never quoted (it may be a key)
    try:
        if in_db:
            data = source.encode("utf-8", "surrogateescape")
        else:
            data = read_bytes_limited(source, limit=PKI_FILE_MAX_BYTES, what="certificate")
        if holds_private_key(data) and not any(b.label in CERTIFICATE_LABELS for b in pem_blocks(data)):
            return {"error": f"{label}: holds a private key, not a certificate"}
        certs = x509.load_pem_x509_certificates(data) if is_pem(data) \
            else [x509.load_der_x509_certificate(data)]
    except UnsafeInput as err:
        return {"error": err.message}
    except ValueError:
        return {"error": f"{label}: not a PEM/DER certificate"}
    from tlsmgm_cli.core.x509.facts import cert_summary

    try:
        summary = cert_summary(certs[0], now)
    except ValueError as err:  # an extension cryptography cannot read
        return {"error": f"{label}: the certificate cannot be read: {err}"}
    sans = [s[4:] for s in summary["sans"] if s.startswith("DNS:")]
    sans += [s[3:] for s in summary["sans"] if s.startswith("IP:")]
    return {
        "subject_cn": summary["subject_cn"],
        "sans": sans[:3],
        "sans_total": len(sans),
        "not_after": summary["not_after"],
        "days_left": summary["days_left"],
        "chain_length": len(certs),
    }


def domain_view(dom: TlsDomain, library: str, *, read_certs: bool = True) -> dict[str, Any]:
    view: dict[str, Any] = {
        "name": dom.name,
        "side": dom.side,
        "source": dom.source,
        **_loc_text(dom),
        "addresses": list(dom.eff_addresses),
        "sip_domains": list(dom.eff_sip_domains),
        "method": method_text(dom, library),
        "method_raw": dom.method,
        "verify_cert": dom.eff_verify_cert,
        "require_cert": dom.eff_require_cert,
        "crl_check_all": dom.eff_crl_check_all,
        "certificate": _value_view(dom, "certificate", dom.eff_certificate),
        "private_key": _value_view(dom, "private_key", dom.eff_private_key),
        "ca_list": _value_view(dom, "ca_list", dom.ca_list),
        "ca_dir": dom.eff_ca_dir,
        "crl_dir": dom.crl_dir,
        "ciphers_list": dom.ciphers_list,
        "dh_params": _value_view(dom, "dh_params", dom.dh_params),
        "ec_curve": dom.ec_curve,
        "defaults": [p for p, is_default in (
            ("match_ip_address", dom.addresses is None), ("match_sip_domain", dom.sip_domains is None),
            ("tls_method", not dom.method), ("verify_cert", dom.verify_cert is None),
            ("require_cert", dom.require_cert is None), ("certificate", dom.certificate_is_default),
            ("private_key", dom.private_key_is_default), ("ca_dir", not dom.ca_dir)) if is_default],
        "locations": {p: f"{loc.file}:{loc.line}" for p, loc in dom.locs.items()},
    }
    if dom.from_db:
        view["db_id"] = dom.db_id
        view["db_skip"] = dom.db_skip
    if read_certs:
        view["cert"] = certificate_summary(dom)
    return view


def globals_view(domset: DomainSet) -> dict[str, Any]:
    """tls_mgm's global parameters (db_url with its password masked)."""
    from tlsmgm_cli.core.db.url import mask_url

    g = domset.globals
    return {
        "tls_library": g.tls_library,
        "tls_library_effective": effective_library(domset),
        "client_tls_domain_avp": g.client_tls_domain_avp,
        "client_sip_domain_avp": g.client_sip_domain_avp,
        "db_url": mask_url(g.db_url) if g.db_url else None,
        "db_table": g.db_table,
        "columns": dict(g.columns),
        "locations": {p: f"{loc.file}:{loc.line}" for p, loc in g.locs.items()},
    }


def list_domains(domset: DomainSet, *, side: str | None = None, name: str | None = None,
                 read_certs: bool = True) -> list[dict[str, Any]]:
    """Views of the selected domains in tls_list order (clients first)."""
    library = effective_library(domset)
    return [domain_view(d, library, read_certs=read_certs) for d in domset.all
            if (side is None or d.side == side) and (name is None or d.name == name)]
