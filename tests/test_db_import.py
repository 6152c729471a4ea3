"""db init / import: exact schema, round trip through tls_list, all-or-nothing writes, the
mode of SQLite files that hold private keys (init, import, add/update),
passwords never shown."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cfgtext import HEADER as CFG_HEADER
from cfgtext import load, mp, script_body, strip_files, write_cfg
from clirun import run
from pki import Pki

from tlsmgm_cli import exitcodes
from tlsmgm_cli.core.db.backend import DbError, connect
from tlsmgm_cli.core.db.importer import apply_import, plan_import
from tlsmgm_cli.core.db.rows import TlsRow, fetch_rows
from tlsmgm_cli.core.db.schema import create_table_sql
from tlsmgm_cli.core.db.url import parse_db_url
from tlsmgm_cli.core.mi.tls_list import tls_list

# scripts/sqlite/tls_mgm-create.sql of OpenSIPS 3.6 (without its INSERT line)
OPENSIPS_SQLITE = """CREATE TABLE tls_mgm (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    domain CHAR(64) NOT NULL,
    match_ip_address CHAR(255) DEFAULT NULL,
    match_sip_domain CHAR(255) DEFAULT NULL,
    type INTEGER DEFAULT 1 NOT NULL,
    method CHAR(16) DEFAULT 'SSLv23',
    verify_cert INTEGER DEFAULT 1,
    require_cert INTEGER DEFAULT 1,
    certificate BLOB,
    private_key BLOB,
    crl_check_all INTEGER DEFAULT 0,
    crl_dir CHAR(255) DEFAULT NULL,
    ca_list BLOB DEFAULT NULL,
    ca_dir CHAR(255) DEFAULT NULL,
    cipher_list CHAR(255) DEFAULT NULL,
    dh_params BLOB DEFAULT NULL,
    ec_curve CHAR(255) DEFAULT NULL,
    CONSTRAINT tls_mgm_domain_type_idx  UNIQUE (domain, type)
)"""


def test_schema_matches_opensips_script():
    assert create_table_sql("sqlite") == [OPENSIPS_SQLITE]


def test_init_creates_table_and_version_row(db_url):
    result = run("db", "init", "--db", db_url)
    assert result.exit_code == 0, result.output
    with connect(db_url) as db:
        assert db.table_version("tls_mgm") == 3
        assert db.table_exists("tls_mgm") and fetch_rows(db) == []
        # the schema default type 1 (client) applies to a row inserted without type
        db.execute("INSERT INTO tls_mgm (domain) VALUES ('x')")
        assert fetch_rows(db)[0].type == 1 and fetch_rows(db)[0].method == "SSLv23"
    again = run("db", "init", "--db", db_url)
    assert again.exit_code == exitcodes.PROBLEMS and "already exists" in again.output


def test_init_keeps_an_existing_version_table(db_url):
    with connect(db_url, create=True) as db:
        from tlsmgm_cli.core.db.schema import version_table_sql

        db.execute(version_table_sql(db.backend))
        db.execute("INSERT INTO version (table_name, table_version) VALUES ('acc', 7)")
        db.init_schema()
        assert db.table_version("acc") == 7 and db.table_version() == 3


def test_print_sql():
    result = run("db", "init", "--print-sql", "--backend", "postgres")
    assert result.exit_code == 0
    assert "ALTER SEQUENCE tls_mgm_id_seq MAXVALUE 2147483647 CYCLE;" in result.output
    assert "CONSTRAINT tls_mgm_domain_type_idx UNIQUE (domain, type)" in result.output
    both = run("db", "init", "--print-sql", "--db", "mysql://u:secret@h/db")
    assert "CONSTRAINT domain_type_idx UNIQUE (domain, type)" in both.output
    assert "ca_list MEDIUMBLOB DEFAULT NULL" in both.output and "secret" not in both.output


def test_import_round_trip_equals_script_listing(db_url, tmp_path, pki):
    assert run("db", "init", "--db", db_url).exit_code == 0
    cfg = write_cfg(tmp_path, script_body(pki))
    script_reply = tls_list(load(tmp_path, script_body(pki)))
    dry = run("db", "import", "-c", str(cfg), "--db", db_url, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "+ server domain 'srv1'" in dry.output and "private_key: <" in dry.output
    assert "BEGIN" not in dry.output  # no PEM (and no key) in the diff
    with connect(db_url) as db:
        assert fetch_rows(db) == []  # dry run wrote nothing
    result = run("db", "import", "-c", str(cfg), "--db", db_url)
    assert result.exit_code == 0, result.output
    assert "wrote 5 new and 0 changed row(s)" in result.output
    # a config with no script domains, reading the table: same listing, DB order rules
    empty = write_cfg(tmp_path, "", name="empty.cfg")
    listed = run("list", "-c", str(empty), "--db", db_url, "--format", "mi")
    assert listed.exit_code == 0, listed.output
    import json

    assert strip_files(json.loads(listed.output)) == strip_files(script_reply)
    with connect(db_url) as db:
        row = next(r for r in fetch_rows(db) if r.domain == "srv2")
        assert row.certificate == pki.server_chain.cert_path.read_bytes()  # whole chain
    # importing again changes nothing; a changed method is an update
    again = run("db", "import", "-c", str(cfg), "--db", db_url)
    assert "wrote 0 new and 0 changed row(s)" in again.output
    changed = write_cfg(tmp_path, script_body(pki).replace("TLSv1_2-", "TLSv1_3"))
    diff = run("db", "import", "-c", str(changed), "--db", db_url, "--domain", "srv1", "--dry-run")
    assert "~ server domain 'srv1'" in diff.output and "method: 'TLSv1_2-' -> 'TLSv1_3'" in diff.output
    assert "wrote" not in diff.output and "would write 0 new and 1 changed" in diff.output


def test_import_refuses_errors_unless_forced(db_url, tmp_path, pki):
    assert run("db", "init", "--db", db_url).exit_code == 0
    body = (mp("server_domain", "good") + mp("certificate", f"[good]{pki.server.cert_path}")
            + mp("private_key", f"[good]{pki.server.key_path}")
            + mp("server_domain", "bad") + mp("certificate", f"[bad]{pki.wrong_key.cert_path}")
            + mp("private_key", f"[bad]{pki.wrong_key.key_path}"))
    cfg = write_cfg(tmp_path, body)
    result = run("db", "import", "-c", str(cfg), "--db", db_url)
    assert result.exit_code == 1
    assert "server domain [bad]" in result.output and "nothing written" in result.output
    with connect(db_url) as db:
        assert fetch_rows(db) == []
    only_good = run("db", "import", "-c", str(cfg), "--db", db_url, "--domain", "good")
    assert only_good.exit_code == 0, only_good.output
    forced = run("db", "import", "-c", str(cfg), "--db", db_url, "--force")
    assert forced.exit_code == 0 and "wrote 1 new" in forced.output
    # OpenSIPS would skip the forced row: list --format mi leaves it out
    domset = load(tmp_path, "", db_url=db_url)
    assert [d.name for d in domset.server if d.db_skip] == ["bad"]


def _rows(n: int, bad_at: int | None = None) -> list[TlsRow]:
    rows = [TlsRow(domain=f"d{i}", type=2, certificate=b"-----BEGIN CERTIFICATE-----\n")
            for i in range(1, n + 1)]
    if bad_at:
        rows[bad_at - 1].domain = None  # NOT NULL violation
    return rows


def test_constraint_violation_mid_import_leaves_table_unchanged(db_url):
    with connect(db_url, create=True) as db:
        db.init_schema()
        apply_import(db, plan_import(_rows(3), []))
        before = fetch_rows(db)
        plan = plan_import(_rows(1000, bad_at=500)[3:] + [TlsRow(domain="d1", type=2)], before)
        assert len(plan.inserts) == 997 and len(plan.updates) == 1
        seen = []
        with pytest.raises(DbError) as err:
            apply_import(db, plan, progress=seen.append)
        assert seen[-1] == 496  # rows 4..499 went in before row 500 failed
        assert "inserting server domain 'None'" in str(err.value)
        assert fetch_rows(db) == before


KILLER = textwrap.dedent("""
    import os, signal, sys
    from tlsmgm_cli.core.db.backend import connect
    from tlsmgm_cli.core.db.importer import apply_import, plan_import
    from tlsmgm_cli.core.db.rows import TlsRow
    rows = [TlsRow(domain=f"k{i}", type=2) for i in range(1000)]
    def progress(n):
        if n == 500:
            print("killing", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
    with connect(sys.argv[1]) as db:
        apply_import(db, plan_import(rows, []), progress=progress)
""")


def test_killed_import_leaves_table_unchanged(db_url):
    with connect(db_url, create=True) as db:
        db.init_schema()
        apply_import(db, plan_import(_rows(2), []))
        before = fetch_rows(db)
    proc = subprocess.run([sys.executable, "-c", KILLER, db_url], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == -signal.SIGKILL and "killing" in proc.stdout
    with connect(db_url) as db:
        assert fetch_rows(db) == before


def test_wrong_password_never_shown(server_url, tmp_path):
    url = server_url
    parsed = parse_db_url(url)
    secret = "Wr0ng-S3cret-pw"
    bad = url.replace(f":{parsed.password}@", f":{secret}@")
    cfg = write_cfg(tmp_path, mp("server_domain", "x") + mp("db_url", bad))
    outputs = [run("db", "init", "--db", bad), run("db", "export", "--db", bad, "--out", str(tmp_path)),
               run("db", "import", "-c", str(cfg), "--db", bad),
               run("list", "-c", str(cfg), "--format", "mi")]
    for result in outputs:
        assert secret not in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "***" in outputs[0].output and outputs[0].exit_code == exitcodes.PROBLEMS
    env = dict(os.environ, TLSMGM_DB=bad)
    proc = subprocess.run([sys.executable, "-m", "tlsmgm_cli", "db", "export", "--out", str(tmp_path)],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == exitcodes.PROBLEMS and secret not in proc.stdout + proc.stderr
    assert "cannot connect" in proc.stderr


def test_missing_driver_names_the_extra(tmp_path):
    code = ("import sys; sys.modules['psycopg'] = None\n"
            "from click.testing import CliRunner\nfrom tlsmgm_cli.cli import cli\n"
            "r = CliRunner().invoke(cli, ['db', 'init', '--db', 'postgres://u:pw@127.0.0.1/x'])\n"
            "print(r.exit_code, r.output)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.startswith(f"{exitcodes.PROBLEMS} ")
    assert "pip install 'tlsmgm[postgres]'" in proc.stdout and ":pw@" not in proc.stdout


# -- SQLite files holding private keys (init, import, add/update) --------------------------
EXPOSED = "holds private keys and is readable by group/others"


def file_mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_db_init_creates_the_sqlite_file_0600(tmp_path: Path, umask_022: None) -> None:
    path = tmp_path / "opensips.db"
    result = run("db", "init", "--db", f"sqlite:///{path}")
    assert result.exit_code == 0, result.output
    assert file_mode(path) == 0o600


def test_db_init_leaves_an_existing_files_mode(tmp_path: Path, umask_022: None) -> None:
    path = tmp_path / "shared.db"
    path.touch(mode=0o640)
    assert run("db", "init", "--db", f"sqlite:///{path}").exit_code == 0
    assert file_mode(path) == 0o640


def test_add_and_update_warn_about_a_readable_sqlite_file(tmp_path: Path, pki: Pki, umask_022: None) -> None:
    path = tmp_path / "opensips.db"
    url = f"sqlite:///{path}"
    assert run("db", "init", "--db", url).exit_code == 0
    private = run("db", "add", "--db", url, "d1", "server", f"certificate={pki.server.cert_path}",
                  f"private_key={pki.server.key_path}", "verify_cert=0")
    assert private.exit_code == 0, private.output
    assert EXPOSED not in private.stderr
    path.chmod(0o644)
    added = run("db", "add", "--db", url, "d2", "server", f"certificate={pki.server.cert_path}",
                f"private_key={pki.server.key_path}", "verify_cert=0")
    assert added.exit_code == 0, added.output
    assert f"{path} (mode 0644) {EXPOSED}" in added.stderr
    assert f"chmod 600 {path}" in added.stderr
    updated = run("db", "update", "--db", url, "d1", "server", "cipher_list=HIGH")
    assert updated.exit_code == 0 and EXPOSED in updated.stderr


def test_import_warns_about_a_readable_sqlite_file(tmp_path: Path, pki: Pki, umask_022: None) -> None:
    cfg = write_cfg(tmp_path, mp("server_domain", "srv") + mp("verify_cert", "[srv]0")
                    + mp("certificate", f"[srv]{pki.server.cert_path}")
                    + mp("private_key", f"[srv]{pki.server.key_path}"))
    path = tmp_path / "opensips.db"
    url = f"sqlite:///{path}"
    assert run("db", "init", "--db", url).exit_code == 0
    path.chmod(0o604)
    dry = run("db", "import", "-c", str(cfg), "--db", url, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert EXPOSED not in dry.stderr  # the table holds no row yet
    imported = run("db", "import", "-c", str(cfg), "--db", url)
    assert imported.exit_code == 0, imported.output
    assert f"(mode 0604) {EXPOSED}" in imported.stderr


def test_import_refuses_config_bytes_that_are_not_utf8(db_url, tmp_path, pki):
    assert run("db", "init", "--db", db_url).exit_code == 0
    body = (mp("server_domain", "l1") + mp("match_sip_domain", "[l1]caf\udce9.org")
            + mp("certificate", f"[l1]{pki.server.cert_path}") + mp("private_key", f"[l1]{pki.server.key_path}"))
    cfg = tmp_path / "opensips.cfg"
    cfg.write_bytes((CFG_HEADER + body).encode("utf-8", "surrogateescape"))  # byte 0xE9 alone
    result = run("db", "import", "-c", str(cfg), "--db", db_url)
    assert result.exit_code == 1, result.output
    assert "server domain [l1]: match_sip_domain holds bytes that are not UTF-8 ('caf\\xe9.org')" in result.output
    with connect(db_url) as db:
        assert fetch_rows(db) == []
