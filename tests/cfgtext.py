"""Helpers to write test configs: ``cfg(...)`` builds an opensips.cfg text from short
``modparam`` lines, and ``load(tmp_path, text)`` reads it into a DomainSet."""

from __future__ import annotations

import textwrap
from pathlib import Path

HEADER = 'loadmodule "tls_openssl.so"\nloadmodule "tls_mgm.so"\n'


def mp(param: str, value: str) -> str:
    """One modparam("tls_mgm", ...) line with a string value."""
    return f'modparam("tls_mgm", "{param}", "{value}")\n'


def write_cfg(tmp_path: Path, body: str, *, header: str = HEADER, name: str = "opensips.cfg") -> Path:
    path = tmp_path / name
    path.write_text(header + textwrap.dedent(body).lstrip("\n"))
    return path


def load(tmp_path: Path, body: str, *, header: str = HEADER, **kw):
    from tlsmgm_cli.core.loader import load_domains

    return load_domains(str(write_cfg(tmp_path, body, header=header)), **kw)


def _config_s() -> dict[str, str]:
    """Config S of spec §3.7 (the OpenSIPS README multi-domain example), by domain."""
    doms: dict[str, str] = {}
    for name, side, ip, sip, base in (
            ("dom1", "server", "10.0.0.10:5061", "atlanta.com", "atlanta.com"),
            ("dom2", "server", "10.0.0.10:5061", "biloxi.com", "biloxi.com"),
            ("dom3", "server", "10.0.0.10:5061", "none", "generic")):
        doms[name] = "".join([
            mp(f"{side}_domain", name), mp("match_ip_address", f"[{name}]{ip}"),
            mp("match_sip_domain", f"[{name}]{sip}"), mp("tls_method", f"[{name}]TLSv1"),
            mp("certificate", f"[{name}]/certs/{base}/cert.pem"),
            mp("private_key", f"[{name}]/certs/{base}/privkey.pem"),
            mp("ca_list", f"[{name}]/certs/wellknownCAs")])
    for name, sip, method in (("dom4", "atlanta.com", "tlsv1"), ("dom5", "biloxi.com", "TLSv1")):
        doms[name] = "".join([
            mp("client_domain", name), mp("match_ip_address", f"[{name}]*"),
            mp("match_sip_domain", f"[{name}]{sip}"), mp("tls_method", f"[{name}]{method}"),
            mp("verify_cert", f"[{name}]1"), mp("require_cert", f"[{name}]1"),
            mp("certificate", f"[{name}]/certs/{sip}/cert.pem"),
            mp("private_key", f"[{name}]/certs/{sip}/privkey.pem"),
            mp("ca_list", f"[{name}]/certs/wellknownCAs")])
    doms["dom6"] = "".join([
        mp("client_domain", "dom6"), mp("match_ip_address", "[dom6]1.2.3.4:6677"),
        mp("tls_method", "[dom6]TLSv1"), mp("verify_cert", "[dom6]0"),
        mp("certificate", "[dom6]/certs/gw/cert.pem"), mp("private_key", "[dom6]/certs/gw/privkey.pem"),
        mp("ca_list", "[dom6]/certs/wellknownCAs")])
    return doms


CONFIG_S_DOMAINS = _config_s()
CONFIG_S = "".join(CONFIG_S_DOMAINS.values()) + mp("client_sip_domain_avp", "tls_sip_dom")
