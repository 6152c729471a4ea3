"""Import validation and the DB-specific detectors check maps to rules."""

from __future__ import annotations

from cfgtext import load, mp

from tlsmgm_cli.core.db import validate
from tlsmgm_cli.core.db.load import add_db_rows
from tlsmgm_cli.core.db.rows import TlsRow
from tlsmgm_cli.core.db.schema import MYSQL_BLOB_MAX
from tlsmgm_cli.core.domain import DomainSet


def test_validate_for_import_catches_what_opensips_init_rejects(tmp_path, pki):
    body = (mp("server_domain", "ok") + mp("certificate", f"[ok]{pki.server.cert_path}")
            + mp("private_key", f"[ok]{pki.server.key_path}")
            + mp("server_domain", "bad") + mp("certificate", f"[bad]{pki.wrong_key.cert_path}")
            + mp("private_key", f"[bad]{pki.wrong_key.key_path}")
            + mp("ca_list", f"[bad]{tmp_path}/missing.pem") + mp("tls_method", "[bad]TLSv1_2"))
    domset = load(tmp_path, body)
    errors = [f for f in validate.validate_for_import(domset) if f.severity == "error"]
    assert {f.domain for f in errors} == {"bad"}
    assert any("does not match" in f.message for f in errors)
    assert any("missing.pem" in f.message for f in errors)
    method = load(tmp_path, body.replace("TLSv1_2", "TLSv1_1"))
    assert any("TLSv1_1" in f.message for f in validate.validate_for_import(method)
               if f.severity == "error")


def test_validate_for_import_selects_domains(tmp_path, pki):
    body = (mp("server_domain", "bad") + mp("certificate", f"[bad]{pki.wrong_key.cert_path}")
            + mp("private_key", f"[bad]{pki.wrong_key.key_path}")
            + mp("server_domain", "ok") + mp("certificate", f"[ok]{pki.server.cert_path}")
            + mp("private_key", f"[ok]{pki.server.key_path}"))
    domset = load(tmp_path, body)
    assert [f for f in validate.validate_for_import(domset, [("server", "ok")]) if f.severity == "error"] == []
    assert any(f.severity == "error" and f.domain == "bad"
               for f in validate.validate_for_import(domset, None))


def test_row_findings():
    row = TlsRow(domain="x" * 65, type=2, method="TLSv1_2 - TLSv1_3", certificate=b"c" * (MYSQL_BLOB_MAX - 10))
    codes = [(f.code, f.severity) for f in validate.row_findings(row, "mysql")]
    assert codes.count(("db-value-too-long", "error")) == 2  # domain and method
    assert ("db-blob-near-limit", "warning") in codes
    assert ("db-default-key-fallback", "warning") in codes
    big = TlsRow(domain="d", type=1, certificate=b"c" * (MYSQL_BLOB_MAX + 1), private_key=b"k")
    assert [(f.code, f.severity) for f in validate.row_findings(big, "mysql")] == [("db-blob-near-limit", "error")]
    assert [(f.code, f.severity) for f in validate.row_findings(big, "postgres")] == [("db-blob-near-limit", "note")]
    assert validate.row_findings(TlsRow(domain="c", type=1), "sqlite") == []  # cert-less client


def test_db_detectors(pki):
    cert = pki.server.cert_path.read_bytes()
    key = pki.server.key_path.read_bytes()
    domset = DomainSet()
    add_db_rows(domset, [
        TlsRow(id=1, domain="path", type=2, certificate=b"/etc/opensips/tls/cert.pem\n", private_key=key),
        TlsRow(id=2, domain="twokeys", type=2, certificate=cert, private_key=key + key),
        TlsRow(id=3, domain="method", type=2, certificate=cert, private_key=key, method="TLSv1.2"),
        TlsRow(id=4, domain="fine", type=2, certificate=cert + pki.ca.cert_path.read_bytes(), private_key=key),
    ])
    found = {(f.domain, f.code) for f in validate.db_diagnostics(domset, "mysql")}
    assert found == {("path", "db-path-in-blob"), ("twokeys", "db-extra-certs-ignored"),
                     ("method", "db-bad-method")}
    assert {d.domain for d in domset.diagnostics if d.code == "db-row-skipped"} == {"path", "method"}
