"""Issue 8: `check` reports no error on domains built from `tlsmgm gen` output (the test PKI
avoids opensips-cli's known defects: CA not marked CA, leaf with the CA's key, no SAN)."""

from __future__ import annotations

import json

from cfgtext import mp, write_cfg
from clirun import run


def gen(*args: str) -> None:
    result = run(*["gen", *args])
    assert result.exit_code == 0, result.output


def test_check_is_clean_on_gen_output(tmp_path):
    pki = tmp_path / "pki"
    gen("ca", "--out", str(pki))
    gen("cert", "sip", "--out", str(pki), "--cn", "sip.example.com", "--san", "DNS:sip.example.com",
        "--san", "IP:127.0.0.1", "--server")
    gen("cert", "trunk", "--out", str(pki), "--cn", "trunk.example.com", "--client")
    gen("crl", "--out", str(pki), "--revoke", "0x3001")
    body = "".join([
        "socket=tls:127.0.0.1:5061\n",
        mp("server_domain", "sip"),
        mp("match_ip_address", "[sip]127.0.0.1:5061"),
        mp("match_sip_domain", "[sip]sip.example.com, none"),
        mp("tls_method", "[sip]TLSv1_2-TLSv1_3"),
        mp("certificate", f"[sip]{pki}/sip.crt"),
        mp("private_key", f"[sip]{pki}/sip.key"),
        mp("ca_list", f"[sip]{pki}/ca.crt"),
        mp("crl_dir", f"[sip]{pki}/crl"),
        mp("client_domain", "trunk"),
        mp("tls_method", "[trunk]TLSv1_2-TLSv1_3"),
        mp("certificate", f"[trunk]{pki}/trunk.crt"),
        mp("private_key", f"[trunk]{pki}/trunk.key"),
        mp("ca_list", f"[trunk]{pki}/ca.crt"),
    ])
    cfg = write_cfg(tmp_path, body)
    result = run(*["check", "-c", str(cfg), "--format", "json"])
    doc = json.loads(result.stdout)
    errors = [f for f in doc["findings"] if f["severity"] == "error"]
    assert errors == [], errors
    assert result.exit_code == 0
    assert doc["summary"]["domains"] == 2
