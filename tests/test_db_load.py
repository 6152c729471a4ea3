"""DB rows -> domains, with OpenSIPS 3.6.8's rules (behaviour §4.11, §8.3 to §8.9)."""

from __future__ import annotations

from cfgtext import load, mp

from tlsmgm_cli.core.db.backend import connect
from tlsmgm_cli.core.db.load import add_db_rows, merge_db_domains
from tlsmgm_cli.core.db.rows import TlsRow, insert_rows
from tlsmgm_cli.core.domain import DomainSet
from tlsmgm_cli.core.mi.tls_list import tls_list


def _pem(item) -> tuple[bytes, bytes]:
    return item.cert_path.read_bytes(), item.key_path.read_bytes()


def good_row(pki, name: str, dtype: int = 2, **kw) -> TlsRow:
    cert, key = _pem(pki.server)
    return TlsRow(domain=name, type=dtype, certificate=cert, private_key=key, **kw)


def _codes(domset: DomainSet) -> list[str]:
    return [d.code for d in domset.diagnostics]


def test_type_rules_and_names(pki):
    rows = [good_row(pki, "t0", 0), TlsRow(domain="tnull", type=None), good_row(pki, "t3", 3),
            good_row(pki, "", 2), TlsRow(domain=None, type=2, id=9),
            good_row(pki, "cli", 1), good_row(pki, "srv", 2)]
    for n, r in enumerate(rows, 1):
        r.id = r.id or n
    domset = DomainSet()
    add_db_rows(domset, rows)
    assert [d.name for d in domset.server] == ["srv"]
    assert [d.name for d in domset.client] == ["cli"]
    messages = [d.message for d in domset.diagnostics if d.severity == "warning"]
    assert "unknown TLS domain type [0] in DB; failed to add TLS domain 't0' id: 1, skipping..." in messages
    assert any(m.startswith("unknown TLS domain type [0] in DB; failed to add TLS domain 'tnull'")
               for m in messages)
    assert any(m.startswith("unknown TLS domain type [3] in DB") for m in messages)
    assert "TLS domain in DB must have a name; failed to add TLS domain id: 9, skipping..." in messages
    assert _codes(domset).count("db-row-no-name") == 2
    assert all(d.source == "db" and d.db_id for d in domset.all)


def test_duplicates_against_script_and_db(tmp_path, pki):
    domset = load(tmp_path, mp("server_domain", "dup") + mp("client_domain", "cdup"))
    rows = [good_row(pki, "dup", 2, id=1), good_row(pki, "dup", 1, id=2),
            good_row(pki, "cdup", 1, id=3), good_row(pki, "x", 2, id=4), good_row(pki, "x", 2, id=5)]
    add_db_rows(domset, rows)
    msgs = [d.message for d in domset.diagnostics if d.code == "db-row-duplicate"]
    assert msgs == [
        "Domain name: [dup] already defined; failed to add TLS domain 'dup' id: 1, skipping...",
        "Domain: [cdup] already defined; failed to add TLS domain 'cdup' id: 3, skipping...",
        "Domain name: [x] already defined; failed to add TLS domain 'x' id: 5, skipping...",
    ]
    # the same name with the other type is fine; the script domain is kept
    assert [(d.name, d.source) for d in domset.server] == [("x", "db"), ("dup", "script")]
    assert [(d.name, d.source) for d in domset.client] == [("dup", "db"), ("cdup", "script")]


def test_db_domains_in_front_in_reverse_fetch_order(tmp_path, pki):
    domset = load(tmp_path, mp("server_domain", "s1") + mp("server_domain", "s2"))
    add_db_rows(domset, [good_row(pki, f"d{i}", 2, id=i) for i in (1, 2, 3)])
    assert [d.name for d in domset.server] == ["d3", "d2", "d1", "s2", "s1"]
    assert [d.db_id for d in domset.server[:3]] == [3, 2, 1]


def test_null_and_empty_values(pki):
    rows = [good_row(pki, "nulls", 1, id=1),
            good_row(pki, "empties", 2, id=2, match_sip_domain="", method="", cipher_list="",
                     ec_curve="", crl_dir="", ca_dir="", match_ip_address="*"),
            good_row(pki, "lists", 2, id=3, match_ip_address="10.0.0.1:5061, [::1]:5061",
                     match_sip_domain="a.com, b.com", verify_cert=0, require_cert=7, crl_check_all=1)]
    domset = DomainSet()
    add_db_rows(domset, rows)
    entries = {e["name"]: e for e in tls_list(domset)["Domains"]}
    nulls = entries["nulls"]
    assert nulls["IP ADDRESS FILTERS"] == ["*"] and nulls["SIP DOMAIN FILTERS"] == ["*"]
    assert (nulls["VERIFY_CERT"], nulls["REQ_CLI_CERT"], nulls["CRL_CHECKALL"]) == (True, False, False)
    assert "db-null-filter" in _codes(domset)
    empties = entries["empties"]
    assert empties["SIP DOMAIN FILTERS"] == [""]  # matches nothing, not even no-SNI
    assert (empties["METHOD"], empties["CIPHER_LIST"], empties["EC_CURVE"], empties["CA_DIR"]) == \
        ("SSLv23", "", "", "/etc/pki/CA/")
    lists = entries["lists"]
    assert lists["IP ADDRESS FILTERS"] == ["0:0:0:0:0:0:0:1:5061", "10.0.0.1:5061"]
    assert lists["SIP DOMAIN FILTERS"] == ["b.com", "a.com"]
    assert (lists["VERIFY_CERT"], lists["REQ_CLI_CERT"], lists["CRL_CHECKALL"]) == (False, True, True)
    assert "CERT_FILE" not in lists and "PKEY_FILE" not in lists and "CA_FILE" not in lists


def test_int_columns_holding_minus_one_keep_the_default(pki):
    """NULL is read as -1 and only a value other than -1 is applied (behaviour §5.3): a
    stored -1 keeps the creation default; SQLite's wider integers count by their low 32 bits."""
    rows = [good_row(pki, "neg", 1, id=1, verify_cert=-1, require_cert=-1, crl_check_all=-1),
            good_row(pki, "wide", 2, id=2, verify_cert=2**32, require_cert=2**32 - 1, crl_check_all=-2),
            good_row(pki, "negsrv", 2, id=3, verify_cert=-1, require_cert=-1, crl_check_all=-1)]
    domset = DomainSet()
    add_db_rows(domset, rows)
    entries = {e["name"]: e for e in tls_list(domset)["Domains"]}
    flags = ("VERIFY_CERT", "REQ_CLI_CERT", "CRL_CHECKALL")
    assert tuple(entries["neg"][f] for f in flags) == (True, False, False)  # client defaults
    assert tuple(entries["negsrv"][f] for f in flags) == (True, True, False)  # server defaults
    # 2**32 is 0 as a C int (false); 2**32 - 1 is -1 (default: true); -2 is non-zero (true)
    assert tuple(entries["wide"][f] for f in flags) == (False, True, True)


def test_spec_example_db1(tmp_path):
    """behaviour §7.4: a DB server domain with only domain/type set (default files present)."""
    from tlsmgm_cli.core.x509 import certgen

    cfg_dir = tmp_path / "etc"
    issued = certgen.make_cert(None, "default", self_signed=True)
    (cfg_dir / "tls").mkdir(parents=True)
    (cfg_dir / "tls" / "cert.pem").write_bytes(issued.cert_pem())
    (cfg_dir / "tls" / "ckey.pem").write_bytes(issued.key_pem())
    domset = DomainSet(cfg_dir=str(cfg_dir) + "/")
    add_db_rows(domset, [TlsRow(id=1, domain="db1", type=2)])
    assert tls_list(domset) == {"Domains": [
        {"name": "db1", "type": "TLS_DOMAIN_SRV",
         "IP ADDRESS FILTERS": ["*"], "SIP DOMAIN FILTERS": ["*"],
         "METHOD": "SSLv23", "VERIFY_CERT": True, "REQ_CLI_CERT": True, "CRL_CHECKALL": False,
         "CRL_DIR": "", "CA_DIR": "/etc/pki/CA/", "CIPHER_LIST": "", "EC_CURVE": ""}]}


def test_rows_skipped_at_init(pki):
    cert, key = _pem(pki.server)
    rows = [
        TlsRow(id=1, domain="path", type=2, certificate=b"/etc/opensips/tls/cert.pem", private_key=key),
        TlsRow(id=2, domain="badmethod", type=2, certificate=cert, private_key=key, method="TLSv9"),
        TlsRow(id=3, domain="mismatch", type=2, certificate=cert,
               private_key=pki.wrong_key.key_path.read_bytes()),
        TlsRow(id=4, domain="ciphers", type=2, certificate=cert, private_key=key, cipher_list="NOPE"),
        TlsRow(id=5, domain="curve", type=2, certificate=cert, private_key=key, ec_curve="nocurve"),
        TlsRow(id=6, domain="garbage", type=1, certificate=b"garbage", private_key=key),
        TlsRow(id=7, domain="keypath", type=1, certificate=cert, private_key=b"/etc/key.pem"),
        TlsRow(id=8, domain="fine", type=2, certificate=cert, private_key=key, method="tlsv1_2-"),
        TlsRow(id=9, domain="certkey", type=1, certificate=cert + key, private_key=key),
    ]
    domset = DomainSet()
    add_db_rows(domset, rows)
    skip = {d.name: d.db_skip for d in domset.all}
    assert skip["fine"] is None and skip["certkey"] is None
    assert skip["path"].startswith("Unable to load certificate from buffer (a file path")
    assert skip["badmethod"] == "unsupported method [TLSv9]"
    assert "does not match the public key of the certificate" in skip["mismatch"]
    assert skip["ciphers"] == "failure to set SSL context cipher list 'NOPE'"
    assert skip["curve"].startswith("unable to find the EC curve")
    assert skip["garbage"].startswith("Unable to load certificate from buffer")
    assert "no PEM private key" in skip["keypath"]
    warnings = [d.message for d in domset.diagnostics if d.code == "db-row-skipped"]
    assert "Failed to init TLS domain 'badmethod', skipping... (unsupported method [TLSv9])" in warnings
    assert len(warnings) == 7
    # tls_list (what OpenSIPS shows after tls_reload) leaves them out; the set keeps them
    assert {e["name"] for e in tls_list(domset)["Domains"]} == {"fine", "certkey"}
    assert {d.name for d in domset.active("server")} == {"fine"}


def test_half_added_row_is_fatal_when_its_defaults_fail(pki):
    rows = [good_row(pki, "ok", 2, id=1),
            good_row(pki, "half", 2, id=2, match_ip_address="10.0.0.1:5061, host.example.com:5061",
                     match_sip_domain="a.com"),
            good_row(pki, "empty", 1, id=3, match_ip_address="")]
    domset = DomainSet()
    add_db_rows(domset, rows)
    half = domset.find("half", "server")
    assert half.source == "script" and half.db_id == 2
    assert half.addresses == ["10.0.0.1:5061"]  # items before the bad one are kept
    assert half.sip_domains is None and half.certificate is None  # defaults
    assert [d.name for d in domset.server] == ["half", "ok"]
    empty = domset.find("empty", "client")
    assert empty.source == "script" and empty.addresses is None
    # the server one falls back to the (missing) default certificate file: fatal; the
    # client one has no default certificate (3.6.5+), so it initialises and OpenSIPS starts
    half_diags = {d.domain: d.severity for d in domset.diagnostics if d.code == "db-half-added-row"}
    assert half_diags == {"half": "error", "empty": "warning"}
    fatal = next(d for d in domset.diagnostics if d.domain == "half")
    assert "takes the whole server down" in fatal.message and "cert.pem" in fatal.message
    entry = next(e for e in tls_list(domset)["Domains"] if e["name"] == "half")
    assert entry["CERT_FILE"] == "/etc/opensips/tls/cert.pem"  # listed as a script domain


def test_half_added_row_starts_when_the_default_files_load(tmp_path, pki):
    """behaviour §8.6: startup aborts only if the half-added domain fails to initialise."""
    cfg_dir = tmp_path / "etc"
    (cfg_dir / "tls").mkdir(parents=True)
    (cfg_dir / "tls" / "cert.pem").write_bytes(pki.server.cert_path.read_bytes())
    (cfg_dir / "tls" / "ckey.pem").write_bytes(pki.server.key_path.read_bytes())
    domset = DomainSet(cfg_dir=str(cfg_dir) + "/")
    add_db_rows(domset, [good_row(pki, "half", 2, id=2, match_ip_address="bad")])
    (diag,) = [d for d in domset.diagnostics if d.code == "db-half-added-row"]
    assert diag.severity == "warning" and "survives tls_reload" in diag.message


def test_from_file_bug(tmp_path, pki):
    """A DB domain that falls back to the default key file makes every later DB domain of
    the same list read its key BLOB as a file name (behaviour §8.8)."""
    cfg_dir = tmp_path / "etc"
    (cfg_dir / "tls").mkdir(parents=True)
    (cfg_dir / "tls" / "ckey.pem").write_bytes(pki.server.key_path.read_bytes())
    cert, key = _pem(pki.server)
    rows = [good_row(pki, "later1", 2, id=1), good_row(pki, "later2", 2, id=2),
            TlsRow(id=3, domain="nokey", type=2, certificate=cert),
            good_row(pki, "client_unaffected", 1, id=4)]
    domset = DomainSet(cfg_dir=str(cfg_dir) + "/")
    add_db_rows(domset, rows)
    # list order: nokey (fetched last) first, then later2, later1
    assert [d.name for d in domset.server] == ["nokey", "later2", "later1"]
    skip = {d.name: d.db_skip for d in domset.all}
    assert skip["nokey"] is None and skip["client_unaffected"] is None
    assert "from_file bug" in skip["later2"] and "from_file bug" in skip["later1"]


def test_library_none_skips_no_row(tmp_path, pki):
    domset = load(tmp_path, mp("tls_library", "none"), header='loadmodule "tls_mgm.so"\n')
    add_db_rows(domset, [TlsRow(id=1, domain="garbage", type=2, certificate=b"x", method="TLSv9")])
    assert domset.server[0].db_skip is None
    assert tls_list(domset)["Domains"][0]["METHOD"] == "UNKNOWN"


def test_merge_from_real_database(db_url, tmp_path, pki):
    with connect(db_url, create=True) as db:
        db.init_schema()
        with db.transaction():
            insert_rows(db, [good_row(pki, "a", 2, match_sip_domain="a.com"), good_row(pki, "b", 2),
                             TlsRow(domain="c", type=1)])
    domset = load(tmp_path, mp("server_domain", "script"))
    merge_db_domains(domset, db_url)
    assert [(d.name, d.source) for d in domset.server] == [("b", "db"), ("a", "db"), ("script", "script")]
    assert domset.server[1].sip_domains == ["a.com"]
    assert domset.server[0].certificate == pki.server.cert_path.read_text()
    assert domset.client[0].name == "c" and domset.client[0].certificate is None


def test_custom_table_and_columns(db_url, tmp_path, pki):
    with connect(db_url, create=True) as db:
        db.init_schema("tls_custom")
        db.execute("ALTER TABLE tls_custom RENAME COLUMN match_sip_domain TO sni")
        with db.transaction():
            insert_rows(db, [good_row(pki, "a", 2, match_sip_domain="x.com")], "tls_custom",
                        {"match_sip_domain_col": "sni"})
    domset = load(tmp_path, mp("db_table", "tls_custom") + mp("match_sip_domain_col", "sni"))
    merge_db_domains(domset, db_url)
    assert domset.server[0].sip_domains == ["x.com"]


def test_table_version_mismatch_is_an_error(db_url, tmp_path):
    with connect(db_url, create=True) as db:
        db.init_schema()
        db.execute("UPDATE version SET table_version = 2 WHERE table_name = 'tls_mgm'")
    domset = load(tmp_path, "")
    merge_db_domains(domset, db_url)
    errors = [d for d in domset.errors if d.code == "db-table-version"]
    assert len(errors) == 1 and "found version 2, expected 3" in errors[0].message
    assert "tlsmgm-test-pw" not in errors[0].message


def test_sqlite_int_columns_holding_other_types_read_as_sqlite_does(tmp_path, pki):
    """SQLite keeps any type in any column: text, reals and blobs in verify_cert &c. are
    read as sqlite3_column_int reads them, never a crash (issue 12)."""
    url = f"sqlite:///{tmp_path}/odd.db"
    cert, key = pki.server.cert_path.read_bytes(), pki.server.key_path.read_bytes()
    with connect(url, create=True) as db:
        db.init_schema()
        for n, (verify, require, crl) in enumerate([("abc", "12abc", 1e400), (b"\x00\xff", -1e400, float("nan")),
                                                    (" 7", "9" * 5000, "-0")], 1):
            db.execute("INSERT INTO tls_mgm (domain, type, match_ip_address, certificate, private_key, "
                       "verify_cert, require_cert, crl_check_all) VALUES (?, 2, '*', ?, ?, ?, ?, ?)",
                       (f"d{n}", cert, key, verify, require, crl))
    domset = DomainSet()
    with connect(url) as db:
        from tlsmgm_cli.core.db.rows import fetch_rows

        add_db_rows(domset, fetch_rows(db))
    flags = {d.name: (d.eff_verify_cert, d.eff_require_cert, d.eff_crl_check_all) for d in domset.server}
    # 'abc' -> 0; '12abc' -> 12; inf -> INT64_MAX, whose low 32 bits are -1: the default (false)
    assert flags["d1"] == (False, True, False)
    # a blob without digits -> 0; -inf -> INT64_MIN, low 32 bits 0; NaN -> 0
    assert flags["d2"] == (False, False, False)
    # ' 7' -> 7; 5,000 nines saturate to INT64_MAX -> -1: the default (true); '-0' -> 0
    assert flags["d3"] == (True, True, False)
