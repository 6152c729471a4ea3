"""db add / update / remove with opensips-cli `tls add` column names."""

from __future__ import annotations

import pytest
from clirun import run

from tlsmgm_cli.core.db.backend import connect
from tlsmgm_cli.core.db.edit import parse_assignments
from tlsmgm_cli.core.db.rows import fetch_rows
from tlsmgm_cli.core.errors import TlsmgmError


def test_add_update_remove(db_url, tmp_path, pki):
    assert run("db", "init", "--db", db_url).exit_code == 0
    added = run("db", "add", "--db", db_url, "sip.example.com", "server",
                f"certificate={pki.server_chain.cert_path}", f"private_key={pki.server_chain.key_path}",
                "match_sip_domain=sip.example.com", "method=TLSv1_2-TLSv1_3", "verify_cert=0")
    assert added.exit_code == 0, added.output
    with connect(db_url) as db:
        (row,) = fetch_rows(db)
    assert (row.domain, row.type, row.method, row.verify_cert) == ("sip.example.com", 2, "TLSv1_2-TLSv1_3", 0)
    assert row.certificate == pki.server_chain.cert_path.read_bytes()
    dup = run("db", "add", "--db", db_url, "domain=sip.example.com", "type=server")
    assert dup.exit_code == 1 and "already exists" in dup.output
    bad = run("db", "update", "--db", db_url, "sip.example.com", "server", "method=TLSv9")
    assert bad.exit_code == 1 and "unsupported method [TLSv9]" in bad.output
    wrong = run("db", "update", "--db", db_url, "sip.example.com", "server",
                f"private_key={pki.wrong_key.key_path}")
    assert wrong.exit_code == 1 and "does not match" in wrong.output
    ok = run("db", "update", "--db", db_url, "sip.example.com", "2", "cipher_list=HIGH", "ec_curve=NULL")
    assert ok.exit_code == 0, ok.output
    with connect(db_url) as db:
        (row,) = fetch_rows(db)
    assert row.cipher_list == "HIGH" and row.method == "TLSv1_2-TLSv1_3"
    half = run("db", "add", "--db", db_url, "c1", "client", "match_ip_address=")
    assert half.exit_code == 1 and "half added" in half.output
    missing = run("db", "remove", "--db", db_url, "sip.example.com", "client")
    assert missing.exit_code == 1 and "does not exist" in missing.output
    assert run("db", "remove", "--db", db_url, "sip.example.com", "server").exit_code == 0
    with connect(db_url) as db:
        assert fetch_rows(db) == []


def test_pem_columns_take_pem_files(tmp_path):
    not_pem = tmp_path / "cert.txt"
    not_pem.write_text("/etc/opensips/tls/cert.pem\n")
    with pytest.raises(TlsmgmError, match="is not in PEM format"):
        parse_assignments(["d", f"certificate={not_pem}"], require_type=False)
    with pytest.raises(TlsmgmError, match="unknown tls_mgm column 'cert'"):
        parse_assignments(["d", "cert=x"], require_type=False)
    with pytest.raises(TlsmgmError, match="no TLS domain type given"):
        parse_assignments(["d"], require_type=True)
    with pytest.raises(TlsmgmError, match="invalid TLS domain type 'both'"):
        parse_assignments(["d", "both"], require_type=True)
    assert parse_assignments(["d"], require_type=False) == ("d", 2, {})
    assert parse_assignments(["type=client", "domain=d", "verify_cert=1"], require_type=True) == \
        ("d", 1, {"verify_cert": 1})


def test_edit_plan_is_plain_data_with_named_types(pki):
    """The load policy of db add/update/remove lives in the core (no click): the side comes
    from TYPE_SERVER/TYPE_CLIENT, a row OpenSIPS would refuse is marked, nothing is written."""
    from tlsmgm_cli.core.db.edit import parse_edit, plan_edit
    from tlsmgm_cli.core.db.rows import TlsRow
    from tlsmgm_cli.core.db.schema import TYPE_CLIENT

    add = plan_edit(parse_edit(["sip.example.com", f"certificate={pki.server.cert_path}",
                                f"private_key={pki.server.key_path}"], "add"), [])
    assert (add.side, add.done, add.refused, add.new.type) == ("server", "added", False, 2)
    assert add.sources == {"certificate": str(pki.server.cert_path), "private_key": str(pki.server.key_path)}
    wrong = plan_edit(parse_edit(["sip.example.com", f"certificate={pki.server.cert_path}",
                                  f"private_key={pki.wrong_key.key_path}"], "add"), [])
    assert wrong.refused and any("does not match" in p.message for p in wrong.problems)
    row = TlsRow(id=7, domain="peer", type=TYPE_CLIENT)
    gone = plan_edit(parse_edit(["peer", "client"], "remove"), [row])
    assert (gone.side, gone.done, gone.current.id, gone.new) == ("client", "removed", 7, None)
    with pytest.raises(TlsmgmError, match="TLS client domain 'peer' already exists \\(id 7\\)"):
        plan_edit(parse_edit(["peer", "client"], "add"), [row])
    with pytest.raises(TlsmgmError, match="no column to update"):
        parse_edit(["peer", "client"], "update")
