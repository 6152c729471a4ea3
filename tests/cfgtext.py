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
    """Config S of behaviour §4.12 (the OpenSIPS README multi-domain example), by domain."""
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


# -- shared config bodies (check, db import/export tests) ------------------------------

def server(pki, name: str = "d", *, cert: str | None = None, key: str | None = None,
           sni: str = "atlanta.com, none", extra: str = "") -> str:
    """A healthy server domain (every file present and matching), plus ``extra`` lines."""
    return (mp("server_domain", name)
            + mp("match_sip_domain", f"[{name}]{sni}")
            + mp("tls_method", f"[{name}]TLSv1_2-TLSv1_3")
            + mp("certificate", f"[{name}]{cert or pki.server.cert_path}")
            + mp("private_key", f"[{name}]{key or pki.server.key_path}")
            + mp("ca_list", f"[{name}]{pki.ca_bundle_path}")
            + extra)


def script_body(pki) -> str:
    """Server and client domains using most parameters (a chain, a CA list, a cert-less
    client, a client sharing a server's name)."""
    s, c = pki.server, pki.client
    return (
        mp("server_domain", "srv1") + mp("match_ip_address", "[srv1]10.0.0.10:5061, [::1]:5061")
        + mp("match_sip_domain", "[srv1]atlanta.com, *.atlanta.com") + mp("tls_method", "[srv1]TLSv1_2-")
        + mp("certificate", f"[srv1]{s.cert_path}") + mp("private_key", f"[srv1]{s.key_path}")
        + mp("ca_list", f"[srv1]{pki.ca_bundle_path}") + mp("verify_cert", "[srv1]0")
        + mp("server_domain", "srv2") + mp("match_sip_domain", "[srv2]biloxi.com")
        + mp("certificate", f"[srv2]{pki.server_chain.cert_path}")
        + mp("private_key", f"[srv2]{pki.server_chain.key_path}") + mp("ciphers_list", "[srv2]HIGH")
        + mp("client_domain", "cli1") + mp("match_ip_address", "[cli1]1.2.3.4:6677")
        + mp("certificate", f"[cli1]{c.cert_path}") + mp("private_key", f"[cli1]{c.key_path}")
        + mp("require_cert", "[cli1]1") + mp("crl_check_all", "[cli1]1")
        + mp("client_domain", "nocert") + mp("match_sip_domain", "[nocert]example.org")
        + mp("client_domain", "srv1"))


#: the tls_list keys that name files (they differ between a script and a DB domain)
FILE_KEYS = ("CERT_FILE", "CA_FILE", "PKEY_FILE", "DH_PARAMS_FILE")


def strip_files(reply: dict) -> list[dict]:
    return [{k: v for k, v in e.items() if k not in FILE_KEYS} for e in reply["Domains"]]
