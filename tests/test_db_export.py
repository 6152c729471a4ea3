"""db export: PEM files (keys 0600), a snippet that defines the same domains, no
overwrite without --force."""

from __future__ import annotations

import json
import stat

from cfgtext import load, script_body, strip_files, write_cfg
from clirun import run

from tlsmgm_cli.core.db.backend import connect
from tlsmgm_cli.core.db.export import cfg_string, export_rows
from tlsmgm_cli.core.db.rows import TlsRow, fetch_rows, insert_rows
from tlsmgm_cli.core.mi.tls_list import tls_list


def test_export_then_list_snippet_gives_the_same_domains(db_url, tmp_path, pki):
    assert run("db", "init", "--db", db_url).exit_code == 0
    cfg = write_cfg(tmp_path, script_body(pki))
    assert run("db", "import", "-c", str(cfg), "--db", db_url).exit_code == 0
    out = tmp_path / "export"
    result = run("db", "export", "--db", db_url, "--out", str(out))
    assert result.exit_code == 0, result.output
    snippet = out / "tls_mgm.cfg"
    assert f"cfg snippet: {snippet}" in result.output
    from_db = tls_list(load(tmp_path, "", db_url=db_url))
    main = write_cfg(tmp_path, f'include_file "{snippet}"\n', name="main.cfg")
    listed = run("list", "-c", str(main), "--format", "mi")
    assert listed.exit_code == 0, listed.output
    from_snippet = json.loads(listed.output)
    assert strip_files(from_snippet) == strip_files(from_db)
    assert strip_files(from_snippet) == strip_files(tls_list(load(tmp_path, script_body(pki))))
    srv1 = next(e for e in from_snippet["Domains"] if e["name"] == "srv1" and e["type"] == "TLS_DOMAIN_SRV")
    key = out / "server" / "srv1" / "key.pem"
    assert srv1["PKEY_FILE"] == str(key) and srv1["CA_FILE"] == str(out / "server" / "srv1" / "ca_list.pem")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE((out / "server" / "srv1" / "cert.pem").stat().st_mode) == 0o644
    assert key.read_bytes() == pki.server.key_path.read_bytes()
    assert (out / "server" / "srv2" / "cert.pem").read_bytes() == pki.server_chain.cert_path.read_bytes()
    assert "tlsmgm-test-pw" not in snippet.read_text()
    # no overwrite without --force, and nothing is half written
    key.write_bytes(b"changed")
    again = run("db", "export", "--db", db_url, "--out", str(out))
    assert again.exit_code == 2 and "already exists" in again.output
    assert key.read_bytes() == b"changed"
    forced = run("db", "export", "--db", db_url, "--out", str(out), "--force")
    assert forced.exit_code == 0 and key.read_bytes() == pki.server.key_path.read_bytes()


def test_rows_a_modparam_cannot_express_are_left_out(tmp_path, pki):
    rows = [TlsRow(id=1, domain="a]b", type=2), TlsRow(id=2, domain="", type=2),
            TlsRow(id=3, domain="t", type=0), TlsRow(id=4, domain="e", type=2, match_sip_domain=""),
            TlsRow(id=5, domain='q"uote', type=1, method="TLSv1_2", verify_cert=-1, require_cert=3),
            TlsRow(id=6, domain='q"uote', type=1)]
    result = export_rows(rows, tmp_path / "out")
    assert len(result.skipped) == 5
    assert any("contains ']'" in s for s in result.skipped)
    assert any("duplicate" in s for s in result.skipped)
    text = result.snippet.read_text()
    assert 'modparam("tls_mgm", "client_domain", "q\\"uote")' in text
    assert 'modparam("tls_mgm", "tls_method", "[q\\"uote]TLSv1_2")' in text
    assert '"[q\\"uote]3"' in text and "verify_cert" not in text  # -1 = keep the default


def test_cfg_string_escapes():
    assert cfg_string('a\\b"c\nd') == '"a\\\\b\\"c\\nd"'


def test_export_reads_what_other_tools_stored(db_url, tmp_path, pki):
    """A BLOB column holding text (as some tools store it) exports byte for byte."""
    with connect(db_url, create=True) as db:
        db.init_schema()
        with db.transaction():
            insert_rows(db, [TlsRow(domain="d", type=2, certificate=pki.server.cert_path.read_bytes())])
        assert fetch_rows(db)[0].certificate == pki.server.cert_path.read_bytes()
    result = export_rows(fetch_rows(connect(db_url)), tmp_path / "o")
    assert (tmp_path / "o" / "server" / "d" / "cert.pem").read_bytes() == pki.server.cert_path.read_bytes()
    assert result.skipped == []
