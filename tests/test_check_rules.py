"""tlsmgm check: every condition on which OpenSIPS refuses to start (behaviour §9.1, §9.2)
is a finding that makes `check` exit 1 with its rule; a clean multi-domain config
exits 0; many faults are all reported in one run."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from cfgtext import HEADER, mp, server, write_cfg
from clirun import run
from pki import Pki

from tlsmgm_cli import exitcodes

NOW = "2030-01-01T00:00:00Z"  # unused by most tests: they check as of the real time


def run_check(cfg: Path, *args: str) -> tuple[int, dict]:
    result = run(*["check", "-c", str(cfg), "--format", "json", *args])
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


def rules_of(doc: dict, severity: str | None = None) -> set[str]:
    return {f["rule"] for f in doc["findings"] if severity is None or f["severity"] == severity}


# (id, body builder, expected rule). Each body is a config that OpenSIPS 3.6.8 refuses.
Case = tuple[str, Callable[[Pki, Path], str], str]
ABORTS: list[Case] = [
    # behaviour §2.2 / §9.1: at cfg parse
    ("no-domain-prefix", lambda p, t: server(p) + mp("certificate", "/etc/c.pem"), "TLS016"),
    ("no-closing-bracket", lambda p, t: server(p) + mp("certificate", "[d/etc/c.pem"), "TLS017"),
    ("empty-domain-name", lambda p, t: server(p) + mp("certificate", "[]/etc/c.pem"), "TLS018"),
    ("empty-value", lambda p, t: server(p) + mp("ca_dir", "[d]"), "TLS019"),
    ("undefined-domain", lambda p, t: server(p) + mp("verify_cert", "[nosuch]1"), "TLS020"),
    ("param-before-domain", lambda p, t: mp("tls_method", "[late]TLSv1_2") + server(p, "late"), "TLS020"),
    ("duplicate-domain", lambda p, t: server(p) + mp("server_domain", "d"), "TLS021"),
    ("address-without-port", lambda p, t: server(p) + mp("match_ip_address", "[d]10.0.0.1"), "TLS022"),
    ("address-hostname", lambda p, t: server(p) + mp("match_ip_address", "[d]sip.example.com:5061"), "TLS022"),
    ("address-leading-zero", lambda p, t: server(p) + mp("match_ip_address", "[d]010.0.0.1:5061"), "TLS022"),
    ("number-with-space", lambda p, t: server(p) + mp("verify_cert", "[d] 1"), "TLS023"),
    ("unquoted-number", lambda p, t: server(p) + 'modparam("tls_mgm", "verify_cert", 1)\n', "TLS014"),
    ("unknown-param", lambda p, t: server(p) + mp("tls_handshake_timeout", "100"), "TLS012"),
    ("cipher-list-col", lambda p, t: server(p) + mp("cipher_list_col", "ciphers"), "TLS013"),
    ("legacy-core-tls", lambda p, t: 'tls_certificate = "/etc/opensips/cert.pem"\n' + server(p), "TLS015"),
    # behaviour §6.1: library
    ("bad-tls-library", lambda p, t: mp("tls_library", "OpenSSL") + server(p), "TLS025"),
    ("library-module-missing", lambda p, t: mp("tls_library", "wolfssl") + server(p), "TLS026"),
    ("two-libraries", lambda p, t: 'loadmodule "tls_wolfssl.so"\n' + server(p), "TLS026"),
    # behaviour §9.2: mod_init
    ("db-url-tls-domain", lambda p, t: mp("db_url", "mysql://u@db/opensips?tls_domain=x") + server(p), "TLS027"),
    ("empty-db-table", lambda p, t: mp("db_url", "mysql://u@db/opensips") + mp("db_table", "") + server(p),
     "TLS027"),
    ("empty-avp", lambda p, t: mp("client_sip_domain_avp", "") + server(p), "TLS028"),
    ("65-patterns", lambda p, t: server(p) + mp("match_sip_domain", "[d]" + ",".join(
        f"h{i}.example.com" for i in range(70))), "TLS038"),
    ("method-unsupported", lambda p, t: server(p) + mp("tls_method", "[d]TLSv1_1"), "TLS030"),
    ("method-dot", lambda p, t: server(p) + mp("tls_method", "[d]TLSv1.2"), "TLS030"),
    ("dh-missing", lambda p, t: server(p) + mp("dh_params", f"[d]{t}/nodh.pem"), "TLS403"),
    ("dh-not-dh", lambda p, t: server(p) + mp("dh_params", f"[d]{p.ca.cert_path}"), "TLS403"),
    ("curve-unknown", lambda p, t: server(p) + mp("ec_curve", "[d]P-256x"), "TLS405"),
    ("curve-x25519", lambda p, t: server(p) + mp("ec_curve", "[d]X25519"), "TLS406"),
    ("ciphers-select-nothing", lambda p, t: server(p) + mp("ciphers_list", "[d]NOSUCHCIPHER"), "TLS400"),
    ("cert-missing", lambda p, t: server(p, cert=f"{t}/missing.pem"), "TLS200"),
    ("cert-not-pem", lambda p, t: server(p, cert=p.server.key_path.as_posix()), "TLS200"),
    ("default-cert-missing", lambda p, t: mp("server_domain", "d") + mp("ca_list", f"[d]{p.ca.cert_path}"),
     "TLS201"),
    ("crl-dir-missing", lambda p, t: server(p) + mp("crl_dir", f"[d]{t}/nocrl"), "TLS209"),
    ("ca-list-missing", lambda p, t: server(p) + mp("ca_list", f"[d]{t}/noca.pem"), "TLS207"),
    ("ca-list-no-certs", lambda p, t: server(p) + mp("ca_list", f"[d]{p.revoked.crl_path}"), "TLS207"),
    ("key-missing", lambda p, t: server(p, key=f"{t}/nokey.pem"), "TLS202"),
    ("key-mismatch", lambda p, t: server(p, cert=p.wrong_key.cert_path.as_posix(),
                                         key=p.wrong_key.key_path.as_posix()), "TLS203"),
    ("key-encrypted", lambda p, t: server(p, cert=p.encrypted_key.cert_path.as_posix(),
                                          key=p.encrypted_key.key_path.as_posix()), "TLS204"),
    ("key-without-cert", lambda p, t: server(p) + mp("client_domain", "c") + mp("private_key", f"[c]{p.client.key_path}"),
     "TLS206"),
    # config reader
    ("syntax-error", lambda p, t: server(p) + 'modparam("tls_mgm", "ca_dir" "[d]/x")\n', "TLS001"),
    ("include-missing", lambda p, t: server(p) + f'include_file "{t}/nothere.cfg"\n', "TLS002"),
]


@pytest.mark.parametrize(("body", "rule"), [pytest.param(b, r, id=i) for i, b, r in ABORTS])
def test_startup_abort_is_an_error_finding(pki: Pki, tmp_path: Path, body, rule: str) -> None:
    code, doc = run_check(write_cfg(tmp_path, body(pki, tmp_path)))
    assert code == 1
    assert rule in rules_of(doc, "error"), doc["findings"]


def test_module_order_before_tls_mgm_is_an_error(pki: Pki, tmp_path: Path) -> None:
    cfg = write_cfg(tmp_path, server(pki), header='loadmodule "tls_openssl.so"\n'
                    'modparam("tls_mgm", "server_domain", "early")\nloadmodule "tls_mgm.so"\n')
    code, doc = run_check(cfg)
    assert code == 1 and "TLS010" in rules_of(doc, "error")


def valid_config(pki: Pki, tmp_path: Path) -> Path:
    body = (
        "socket=tls:10.0.0.10:5061\n"
        + server(pki, "atl", extra=mp("match_ip_address", "[atl]10.0.0.10:5061")
                 + mp("ciphers_list", "[atl]HIGH:!aNULL") + mp("ec_curve", "[atl]prime256v1"))
        + mp("server_domain", "bil") + mp("match_ip_address", "[bil]10.0.0.10:5061")
        + mp("match_sip_domain", "[bil]biloxi.com") + mp("tls_method", "[bil]TLSv1_2-TLSv1_3")
        + mp("certificate", f"[bil]{pki.server_chain.cert_path}")
        + mp("private_key", f"[bil]{pki.server_chain.key_path}")
        + mp("ca_list", f"[bil]{pki.ca_bundle_path}") + mp("crl_dir", f"[bil]{pki.revoked.crl_dir}")
        + mp("client_domain", "out") + mp("tls_method", "[out]TLSv1_2-TLSv1_3")
        + mp("certificate", f"[out]{pki.client.cert_path}") + mp("private_key", f"[out]{pki.client.key_path}")
        + mp("ca_dir", f"[out]{pki.ca_dir}")
    )
    return write_cfg(tmp_path, body, header=HEADER + 'loadmodule "proto_tls.so"\n')


def test_valid_multi_domain_config_passes(pki: Pki, tmp_path: Path) -> None:
    code, doc = run_check(valid_config(pki, tmp_path), "--fail-on", "warning")
    assert code == 0, doc["findings"]
    assert doc["summary"] == {"domains": 3, "errors": 0, "warnings": 0, "notes": 0}


def test_ten_faults_in_one_run(pki: Pki, tmp_path: Path) -> None:
    body = (
        "socket=tls:10.0.0.10:5061\nsocket=tls:10.0.0.99:5061\n"
        + server(pki, "a", extra=mp("match_ip_address", "[a]10.0.0.10:5061")
                 + mp("ciphers_list", "[a]NOSUCH") + mp("ec_curve", "[a]nocurve"))       # TLS400, TLS405
        + server(pki, "b", cert=pki.wrong_key.cert_path.as_posix(),                      # TLS203
                 extra=mp("match_ip_address", "[b]10.0.0.10:5061") + mp("tls_method", "[b]TLSv1_1"))  # TLS030
        + server(pki, "c", cert=pki.expired.cert_path.as_posix(), key=pki.expired.key_path.as_posix(),
                 extra=mp("match_ip_address", "[c]10.0.0.10:5061"))                      # TLS301, TLS100
        + mp("crl_dir", f"[c]{tmp_path}/nocrl")                                          # TLS209
        + mp("dh_params", "[c]etc/dh.pem")                                               # TLS212 (+TLS403)
        + mp("tls_handshake_timeout", "100")                                             # TLS012
    )                                                                                    # TLS102: 10.0.0.99
    code, doc = run_check(write_cfg(tmp_path, body))
    expected = {"TLS400", "TLS405", "TLS203", "TLS030", "TLS301", "TLS100", "TLS209", "TLS212",
                "TLS012", "TLS102"}
    assert code == 1
    assert expected <= rules_of(doc), sorted(rules_of(doc))


def test_fragment_without_tls_mgm_is_checked_not_crashed(tmp_path: Path) -> None:
    cfg = write_cfg(tmp_path, mp("server_domain", "x"), header="")
    code, doc = run_check(cfg)
    assert "TLS011" in rules_of(doc, "warning")
    assert code == 1  # the default certificate is missing (TLS201)


def test_relative_path_resolves_against_root_dir(pki: Pki, tmp_path: Path) -> None:
    rel = os.path.relpath(pki.server.cert_path, "/")
    code, doc = run_check(write_cfg(tmp_path, server(pki, cert=rel)))
    assert "TLS212" in rules_of(doc, "warning")
    assert "TLS200" not in rules_of(doc)  # found at /<rel>, like OpenSIPS in its '/' working dir


# -- a rule selection that selects nothing ---------------------------------------------
@pytest.mark.parametrize("args, words", [
    (["--select", ""], "names no rule"),
    (["--select", ","], "names no rule"),
    (["--ignore", "TLS"], "leave no rule to run"),
    (["--select", "TLS00", "--ignore", "TLS0"], "leave no rule to run"),
])
def test_empty_rule_selection_is_a_usage_error(tmp_path: Path, args: list[str], words: str) -> None:
    cfg = write_cfg(tmp_path, mp("server_domain", "d"))
    result = run("check", "-c", str(cfg), *args)
    assert result.exit_code == exitcodes.USAGE, result.output
    assert words in result.stderr and "Traceback" not in result.output


def test_nonempty_rule_selection_still_runs(tmp_path: Path) -> None:
    cfg = write_cfg(tmp_path, mp("server_domain", "d"))
    result = run("check", "-c", str(cfg), "--select", "TLS0", "--ignore", "TLS00", "--format", "json")
    assert result.exit_code in (0, 1), result.output
    assert '"findings"' in result.stdout




def test_tls_library_none_downgrades_library_level_errors(tmp_path):
    """behaviour §6.1: with tls_library "none" no file is opened at startup - a missing
    certificate or a bad cipher list does not stop OpenSIPS (warning, not error)."""
    body = (mp("server_domain", "d") + mp("certificate", f"[d]{tmp_path}/missing.pem")
            + mp("private_key", f"[d]{tmp_path}/missing.key") + mp("ciphers_list", "[d]NOPE"))
    strict = write_cfg(tmp_path, body, name="strict.cfg")
    none = write_cfg(tmp_path, mp("tls_library", "none") + body, name="none.cfg")
    def check(path):
        return run("check", "-c", str(path), "--format", "json")

    strict_doc, none_doc = json.loads(check(strict).stdout), json.loads(check(none).stdout)
    strict_errors = {f["rule"] for f in strict_doc["findings"] if f["severity"] == "error"}
    assert {"TLS200"} <= strict_errors
    assert check(none).exit_code == 0
    downgraded = {f["rule"] for f in none_doc["findings"] if f["severity"] == "warning"}
    assert strict_errors - downgraded == set()
    assert all("tls_library is" in f["hint"] for f in none_doc["findings"] if f["rule"] in strict_errors)
