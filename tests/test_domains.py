"""The domain model: tls_mgm modparams applied as OpenSIPS 3.6.8 does (behaviour §1.8, §2)."""

from __future__ import annotations

import pytest
from cfgtext import load

from tlsmgm_cli.core.mi.tls_list import tls_list


def errors(domset):
    return [(d.code, d.message, d.loc.line if d.loc else None) for d in domset.errors]


def test_declaration_order_is_reversed_in_lists(tmp_path):
    ds = load(tmp_path, """
        modparam("tls_mgm", "server_domain", "a")
        modparam("tls_mgm", "server_domain", "b")
        modparam("tls_mgm", "client_domain", "c")
        modparam("tls_mgm", "client_domain", "d")
    """)
    assert [d.name for d in ds.server] == ["b", "a"]
    assert [d.name for d in ds.client] == ["d", "c"]
    assert [d.name for d in ds.all] == ["d", "c", "b", "a"]
    assert not ds.errors


def test_filters_are_prepended_and_accumulate(tmp_path):
    ds = load(tmp_path, """
        modparam("tls_mgm", "server_domain", "d")
        modparam("tls_mgm", "match_sip_domain", "[d]a.com, b.com")
        modparam("tls_mgm", "match_sip_domain", "[d]c.com")
        modparam("tls_mgm", "match_ip_address", "[d]10.0.0.1:5061, [2001:db8::a]:5061")
        modparam("tls_mgm", "match_ip_address", "[d]::1:5062")
    """)
    d = ds.find("d")
    assert d.sip_domains == ["c.com", "b.com", "a.com"]
    assert d.addresses == ["0:0:0:0:0:0:0:1:5062", "2001:DB8:0:0:0:0:0:A:5061", "10.0.0.1:5061"]


def test_star_address_is_first_character_only(tmp_path):
    ds = load(tmp_path, """
        modparam("tls_mgm", "server_domain", "d")
        modparam("tls_mgm", "match_ip_address", "[d]*:5061, 1.2.3.4:5061")
    """)
    assert ds.find("d").addresses == ["*"]


def test_last_scalar_wins(tmp_path):
    ds = load(tmp_path, """
        modparam("tls_mgm", "server_domain", "d")
        modparam("tls_mgm", "certificate", "[d]/a.pem")
        modparam("tls_mgm", "certificate", "[d]/b.pem")
        modparam("tls_mgm", "verify_cert", "[d]0")
        modparam("tls_mgm", "verify_cert", "[d]2")
    """)
    d = ds.find("d")
    assert d.certificate == "/b.pem"
    assert d.locs["certificate"].line == 5
    assert d.eff_verify_cert is True  # "2" is non-zero


def test_same_name_both_sides_params_go_to_server(tmp_path):
    ds = load(tmp_path, """
        modparam("tls_mgm", "client_domain", "x")
        modparam("tls_mgm", "server_domain", "x")
        modparam("tls_mgm", "certificate", "[x]/srv.pem")
    """)
    assert not ds.errors
    assert ds.find("x", "server").certificate == "/srv.pem"
    assert ds.find("x", "client").certificate is None


def test_client_defaults_and_cfg_dir(tmp_path):
    ds = load(tmp_path, """
        modparam("tls_mgm", "client_domain", "c")
        modparam("tls_mgm", "server_domain", "s")
    """, cfg_dir="/usr/local//etc/opensips/")
    c, s = ds.find("c", "client"), ds.find("s", "server")
    assert c.eff_require_cert is False and s.eff_require_cert is True
    assert c.eff_verify_cert is True and s.eff_verify_cert is True
    assert c.eff_certificate is None and c.eff_private_key is None
    assert s.eff_certificate == "/usr/local//etc/opensips/tls/cert.pem"
    assert s.eff_private_key == "/usr/local//etc/opensips/tls/ckey.pem"
    assert s.eff_ca_dir == "/etc/pki/CA/"


def test_client_default_certificate_before_365(tmp_path):
    ds = load(tmp_path, 'modparam("tls_mgm", "client_domain", "c")\n', opensips_version=(3, 6, 4))
    assert ds.find("c").eff_certificate == "/etc/opensips/tls/cert.pem"


def test_client_key_without_certificate_keeps_key(tmp_path):
    ds = load(tmp_path, """
        modparam("tls_mgm", "client_domain", "c")
        modparam("tls_mgm", "private_key", "[c]/k.pem")
    """)
    assert ds.find("c").eff_private_key == "/k.pem"


@pytest.mark.parametrize("value, code, message", [
    ("/etc/cert.pem", "no-domain-name", "No TLS domain name"),
    ("[d/etc/cert.pem", "bad-domain-name", "Invalid TLS domain name, no mathcing ']' character"),
    ("[]/etc/cert.pem", "empty-domain-name", "Empty TLS domain name"),
    ("[d]", "empty-value", "Empty value"),
    ("[x]/etc/cert.pem", "undefined-domain", "TLS domain [x] not defined in '[x]/etc/cert.pem'"),
    ("[ d ]/etc/cert.pem", "undefined-domain", "TLS domain [ d ] not defined in '[ d ]/etc/cert.pem'"),
])
def test_dom_prefix_errors(tmp_path, value, code, message):
    ds = load(tmp_path, f"""
        modparam("tls_mgm", "server_domain", "d")
        modparam("tls_mgm", "certificate", "{value}")
    """)
    assert errors(ds) == [(code, message, 4)]


def test_leading_space_before_bracket_is_skipped(tmp_path):
    ds = load(tmp_path, """
        modparam("tls_mgm", "server_domain", "d")
        modparam("tls_mgm", "certificate", " \t[d] /c.pem")
    """)
    assert not ds.errors
    assert ds.find("d").certificate == " /c.pem"  # value untrimmed


def test_match_param_undefined_domain_wording(tmp_path):
    ds = load(tmp_path, 'modparam("tls_mgm", "match_sip_domain", "[nope]a.com")\n')
    assert errors(ds) == [("undefined-domain", "TLS domain [nope] not defined", 3)]


def test_value_before_declaration_is_an_error_with_hint(tmp_path):
    ds = load(tmp_path, """
        modparam("tls_mgm", "tls_method", "[d]TLSv1_2")
        modparam("tls_mgm", "server_domain", "d")
    """)
    assert errors(ds) == [("undefined-domain", "TLS domain [d] not defined in '[d]TLSv1_2'", 3)]
    assert "declared later" in ds.errors[0].hint


@pytest.mark.parametrize("value", ["[d] 1", "[d]-1", "[d]0x1", "[d]yes", "[d]1 "])
def test_numeric_params_digits_only(tmp_path, value):
    ds = load(tmp_path, f"""
        modparam("tls_mgm", "server_domain", "d")
        modparam("tls_mgm", "require_cert", "{value}")
    """)
    assert errors(ds) == [("not-a-number", "option is not a number", 4)]


def test_numeric_wraps_32_bit(tmp_path):
    ds = load(tmp_path, """
        modparam("tls_mgm", "server_domain", "d")
        modparam("tls_mgm", "verify_cert", "[d]4294967296")
    """)
    assert ds.find("d").verify_cert == 0 and ds.find("d").eff_verify_cert is False


def test_int_value_is_type_mismatch(tmp_path):
    ds = load(tmp_path, 'modparam("tls_mgm", "verify_cert", 1)\n')
    assert errors(ds) == [("type-mismatch", "type mismatch for parameter <verify_cert> in module <tls_mgm>", 3)]


def test_unknown_param_and_cipher_list_col(tmp_path):
    ds = load(tmp_path, """
        modparam("tls_mgm", "cipher_list_col", "x")
        modparam("tls_mgm", "tls_handshake_timeout", "100")
    """)
    assert errors(ds) == [
        ("unknown-param", "parameter <cipher_list_col> not found in module <tls_mgm>", 3),
        ("unknown-param", "parameter <tls_handshake_timeout> not found in module <tls_mgm>", 4),
    ]
    assert "ciphers_list_col" in ds.errors[0].hint


def test_duplicate_domain_names(tmp_path):
    ds = load(tmp_path, """
        modparam("tls_mgm", "server_domain", "d")
        modparam("tls_mgm", "server_domain", "d")
        modparam("tls_mgm", "client_domain", "c")
        modparam("tls_mgm", "client_domain", "c")
        modparam("tls_mgm", "client_domain", "d")
    """)
    assert errors(ds) == [("duplicate-domain", "Domain name: [d] already defined", 4),
                          ("duplicate-domain", "Domain name: [c] already defined", 6)]


def test_empty_domain_name_is_accepted(tmp_path):
    ds = load(tmp_path, 'modparam("tls_mgm", "server_domain", "")\n')
    assert not ds.errors and [d.name for d in ds.server] == [""]


def test_bad_address_items(tmp_path):
    ds = load(tmp_path, """
        modparam("tls_mgm", "server_domain", "d")
        modparam("tls_mgm", "match_ip_address", "[d]10.0.0.1")
        modparam("tls_mgm", "match_ip_address", "[d]example.com:5061")
        modparam("tls_mgm", "match_ip_address", "[d]1.2.3.4:5061,,5.6.7.8:5061")
        modparam("tls_mgm", "match_ip_address", "[d] *")
        modparam("tls_mgm", "match_ip_address", "[d]01.2.3.4:5061")
        modparam("tls_mgm", "match_ip_address", "[d]1.2.3.4:")
        modparam("tls_mgm", "match_ip_address", "[d]1.2.3.4:50x")
    """)
    assert errors(ds) == [
        ("bad-address", "TLS domain address has to be in [IP:port] format", 4),
        ("bad-address", "[example.com] is not an ip", 5),
        ("bad-address", "TLS domain address has to be in [IP:port] format", 6),
        ("bad-address", "TLS domain address has to be in [IP:port] format", 7),
        ("bad-address", "[01.2.3.4] is not an ip", 8),
        ("bad-address", "[] is not a port", 9),
        ("bad-address", "[50x] is not a port", 10),
    ]


def test_unsupported_method_reported_at_its_line(tmp_path):
    ds = load(tmp_path, """
        modparam("tls_mgm", "server_domain", "d")
        modparam("tls_mgm", "tls_method", "[d]TLSv1_1")
    """)
    assert errors(ds) == [("unsupported-method", "unsupported method [TLSv1_1]", 4)]


def test_method_not_parsed_with_tls_library_none(tmp_path):
    ds = load(tmp_path, """
        modparam("tls_mgm", "tls_library", "none")
        modparam("tls_mgm", "server_domain", "d")
        modparam("tls_mgm", "tls_method", "[d]TLSv1_1")
        modparam("tls_mgm", "server_domain", "e")
    """)
    assert not ds.errors
    methods = {d["name"]: d["METHOD"] for d in tls_list(ds)["Domains"]}
    assert methods == {"d": "UNKNOWN", "e": "SSLv23"}


@pytest.mark.parametrize("header, value, message", [
    ('loadmodule "tls_mgm.so"\n', None, "No TLS library module loaded"),
    ('loadmodule "tls_openssl.so"\nloadmodule "tls_wolfssl.so"\nloadmodule "tls_mgm.so"\n', None,
     "Multiple TLS library modules loaded"),
    ('loadmodule "tls_openssl.so"\nloadmodule "tls_mgm.so"\n', "wolfssl",
     "Configured to use wolfssl but 'tls_wolfssl' module not loaded!"),
    ('loadmodule "tls_openssl.so"\nloadmodule "tls_mgm.so"\n', "OpenSSL",
     "Bad value for tls_library module parameter"),
])
def test_tls_library_checks(tmp_path, header, value, message):
    body = f'modparam("tls_mgm", "tls_library", "{value}")\n' if value else ""
    ds = load(tmp_path, body, header=header)
    assert [d.message for d in ds.errors] == [message]


def test_modparam_before_loadmodule(tmp_path):
    ds = load(tmp_path, 'modparam("tls_mgm", "server_domain", "d")\nloadmodule "tls_mgm.so"\n',
              header='loadmodule "tls_openssl.so"\n')
    assert errors(ds) == [("modparam-before-loadmodule", "no module matching tls_mgm found", 2)]


def test_module_regex_and_case(tmp_path):
    ds = load(tmp_path, """
        loadmodule "usrloc.so"
        loadmodule "auth_db.so"
        modparam("TLS_MGM|proto_tls", "server_domain", "d")
        modparam("tls_m.*", "certificate", "[d]/c.pem")
        modparam("auth_db|usrloc", "use_domain", 1)
    """)  # "tls_.*" would also match tls_openssl, which has no certificate (behaviour §1.8)
    assert not ds.errors
    unloaded = load(tmp_path, 'modparam("auth_db|usrloc", "use_domain", 1)\n')
    assert [d.message for d in unloaded.errors] == ["no module matching auth_db|usrloc found"]
    assert ds.find("d").certificate == "/c.pem"


def test_fragment_without_loadmodule_is_read_with_a_warning(tmp_path):
    ds = load(tmp_path, 'modparam("tls_mgm", "server_domain", "d")\n', header="")
    assert not ds.errors and ds.find("d") is not None
    assert [d.code for d in ds.diagnostics if d.severity == "warning"] == ["no-loadmodule"]


def test_global_params(tmp_path):
    ds = load(tmp_path, """
        modparam("tls_mgm", "client_tls_domain_avp", "tls_dom")
        modparam("tls_mgm", "client_sip_domain_avp", "$avp(sipdom)")
        modparam("tls_mgm", "db_table", "my_tls")
        modparam("tls_mgm", "ciphers_list_col", "ciphers")
        modparam("tls_mgm", "crl_dir_col", "crl_directory")
    """)
    g = ds.globals
    assert g.client_tls_domain_avp == "tls_dom" and g.client_sip_domain_avp == "$avp(sipdom)"
    assert g.db_table == "my_tls" and g.columns["ciphers_list_col"] == "ciphers"
    assert {d.code for d in ds.diagnostics if d.severity == "warning"} == {"avp-literal-name", "crl-dir-col-bug"}


def test_empty_avp_and_tls_domain_db_url(tmp_path):
    ds = load(tmp_path, """
        modparam("tls_mgm", "client_sip_domain_avp", "")
        modparam("tls_mgm", "db_url", "mysql://u:secret@h/db?tls_domain=x")
    """, use_db=False)
    assert sorted(d.code for d in ds.errors) == ["bad-avp", "db-url-tls-domain"]


def test_legacy_core_tls_globals(tmp_path):
    ds = load(tmp_path, 'disable_tls = yes\ntls_certificate = "/etc/c.pem"\n', header="")
    assert [d.code for d in ds.errors] == ["legacy-core-tls", "legacy-core-tls"]


def test_setter_failure_also_names_the_parser_line(tmp_path):
    """A setter returning <0 makes the cfg parser log a misleading second line (behaviour §1.8)."""
    ds = load(tmp_path, 'modparam("tls_mgm", "certificate", "/etc/c.pem")\n')
    (err,) = ds.errors
    assert err.extra["opensips_log"] == [
        "No TLS domain name", "Parameter <certificate> not found in module <tls_mgm> - can't set"]
    assert "Parameter <certificate> not found in module <tls_mgm> - can't set" in err.hint
