"""`tlsmgm list --format mi` equals the tls_list reply behaviour §7.1 and §7.4 predict (written by hand)."""

from __future__ import annotations

import json

from cfgtext import CONFIG_S, mp, write_cfg
from clirun import run


def entry(name, typ, ips, sips, method, verify, req, cert, ca, key, crl_all=False):
    return {"name": name, "type": typ, "IP ADDRESS FILTERS": ips, "SIP DOMAIN FILTERS": sips,
            "METHOD": method, "VERIFY_CERT": verify, "REQ_CLI_CERT": req, "CRL_CHECKALL": crl_all,
            "CERT_FILE": cert, "CRL_DIR": "", "CA_FILE": ca, "CA_DIR": "/etc/pki/CA/",
            "PKEY_FILE": key, "CIPHER_LIST": "", "DH_PARAMS_FILE": "", "EC_CURVE": ""}


EXPECTED_S = {"Domains": [
    entry("dom6", "TLS_DOMAIN_CLI", ["1.2.3.4:6677"], ["*"], "TLSv1", False, False,
          "/certs/gw/cert.pem", "/certs/wellknownCAs", "/certs/gw/privkey.pem"),
    entry("dom5", "TLS_DOMAIN_CLI", ["*"], ["biloxi.com"], "TLSv1", True, True,
          "/certs/biloxi.com/cert.pem", "/certs/wellknownCAs", "/certs/biloxi.com/privkey.pem"),
    entry("dom4", "TLS_DOMAIN_CLI", ["*"], ["atlanta.com"], "TLSv1", True, True,
          "/certs/atlanta.com/cert.pem", "/certs/wellknownCAs", "/certs/atlanta.com/privkey.pem"),
    entry("dom3", "TLS_DOMAIN_SRV", ["10.0.0.10:5061"], ["none"], "TLSv1", True, True,
          "/certs/generic/cert.pem", "/certs/wellknownCAs", "/certs/generic/privkey.pem"),
    entry("dom2", "TLS_DOMAIN_SRV", ["10.0.0.10:5061"], ["biloxi.com"], "TLSv1", True, True,
          "/certs/biloxi.com/cert.pem", "/certs/wellknownCAs", "/certs/biloxi.com/privkey.pem"),
    entry("dom1", "TLS_DOMAIN_SRV", ["10.0.0.10:5061"], ["atlanta.com"], "TLSv1", True, True,
          "/certs/atlanta.com/cert.pem", "/certs/wellknownCAs", "/certs/atlanta.com/privkey.pem"),
]}

CONFIG_RANGES = "".join([
    mp("server_domain", "a"),
    mp("match_ip_address", "[a]10.0.0.1:5061, [2001:db8::a]:5061"),
    mp("match_ip_address", "[a][::1]:5062"),
    mp("match_sip_domain", "[a]a.com, b.com"),
    mp("match_sip_domain", "[a]c.com"),
    mp("match_sip_domain", "[a]a.com"),
    mp("tls_method", "[a]-TLSv1_3"),
    mp("crl_check_all", "[a]1"),
    mp("crl_dir", "[a]/etc/crl"),
    mp("ciphers_list", "[a]HIGH:!aNULL"),
    mp("dh_params", "[a]/etc/dh.pem"),
    mp("ec_curve", "[a]prime256v1"),
    mp("client_domain", "c"),
    mp("client_domain", "c2"),
    mp("tls_method", "[c2]TLSv1_2-"),
    mp("require_cert", "[c2]2"),
    mp("server_domain", "d"),
    mp("tls_method", "[d]tlsv1_3 - tlsv1_2"),
    mp("server_domain", "e"),
    mp("tls_method", "[e]SSLv23-TLSv1_2"),
])

EXPECTED_RANGES = {"Domains": [
    entry("c2", "TLS_DOMAIN_CLI", ["*"], ["*"], "TLSv1_2-TLSv1_3", True, True, "", "", ""),
    entry("c", "TLS_DOMAIN_CLI", ["*"], ["*"], "SSLv23", True, False, "", "", ""),
    entry("e", "TLS_DOMAIN_SRV", ["*"], ["*"], "SSLv23-TLSv1_2", True, True,
          "/etc/opensips/tls/cert.pem", "", "/etc/opensips/tls/ckey.pem"),
    entry("d", "TLS_DOMAIN_SRV", ["*"], ["*"], "TLSv1_3-TLSv1_2", True, True,
          "/etc/opensips/tls/cert.pem", "", "/etc/opensips/tls/ckey.pem"),
    {**entry("a", "TLS_DOMAIN_SRV",
             ["0:0:0:0:0:0:0:1:5062", "2001:DB8:0:0:0:0:0:A:5061", "10.0.0.1:5061"],
             ["a.com", "c.com", "b.com", "a.com"], "TLSv1-TLSv1_3", True, True,
             "/etc/opensips/tls/cert.pem", "", "/etc/opensips/tls/ckey.pem", crl_all=True),
     "CRL_DIR": "/etc/crl", "CIPHER_LIST": "HIGH:!aNULL", "DH_PARAMS_FILE": "/etc/dh.pem",
     "EC_CURVE": "prime256v1"},
]}


def run_mi(path, *extra):
    result = run(*["list", "-c", str(path), "--format", "mi", *extra])
    return result


def test_config_s_matches_spec_tls_list(tmp_path):
    result = run_mi(write_cfg(tmp_path, CONFIG_S))
    assert result.exit_code == 0, result.output
    reply = json.loads(result.stdout)
    assert reply == EXPECTED_S
    assert list(reply["Domains"][0]) == list(EXPECTED_S["Domains"][0])  # key order


def test_ranges_defaults_repeats_ipv6(tmp_path):
    result = run_mi(write_cfg(tmp_path, CONFIG_RANGES))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == EXPECTED_RANGES


def test_side_and_domain_filters(tmp_path):
    path = write_cfg(tmp_path, CONFIG_S)
    reply = json.loads(run_mi(path, "--side", "client").stdout)
    assert [d["name"] for d in reply["Domains"]] == ["dom6", "dom5", "dom4"]
    reply = json.loads(run_mi(path, "--domain", "dom2").stdout)
    assert [d["name"] for d in reply["Domains"]] == ["dom2"]
