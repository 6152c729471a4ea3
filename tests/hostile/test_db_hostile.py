"""issue 12, the tls_mgm SQL table under hostile input: `db export` file names made from
domain names, all-or-nothing exports (full disk), `db import` of a config with errors,
connect and lock timeouts on every backend, integer ranges, PEM paths on the command line.

Inputs are built at test time: rows with hostile names, a silent TCP server on 127.0.0.1,
a real lock held by another connection, a tmpfs that fills up, a FIFO, /dev/zero.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import time
from pathlib import Path

import pytest
from cfgtext import mp, write_cfg
from clirun import run, run_proc
from hypothesis import given
from hypothesis import strategies as st
from miserver import SilentServer

from tlsmgm_cli.core import limits
from tlsmgm_cli.core.db.backend import connect
from tlsmgm_cli.core.db.rows import TlsRow, fetch_rows, insert_rows

SECRET = "s3cr3tPW"


# ---- helpers ----------------------------------------------------------------------------------

def _table(url: str, rows: list[TlsRow]) -> str:
    with connect(url, create=True) as db:
        db.init_schema()
        with db.transaction():
            insert_rows(db, rows)
    return url


def _sqlite(tmp_path: Path, rows: list[TlsRow]) -> str:
    return _table(f"sqlite://{tmp_path / 'tls.db'}", rows)


def _row(name: str, dtype: int, item, **extra) -> TlsRow:
    return TlsRow(domain=name, type=dtype, certificate=item.cert_path.read_bytes(),
                  private_key=item.key_path.read_bytes(), **extra)


def _all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def _listed(tmp_path: Path, snippet: Path) -> list[dict]:
    """The domains OpenSIPS builds from the exported snippet (tls_list, as `list --format mi`)."""
    main = write_cfg(tmp_path, f'include_file "{snippet}"\n', name="main.cfg")
    result = run("list", "-c", str(main), "--format", "mi")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["Domains"]


# ---- 1. file names made from domain names -----------------------------------------------------

@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
def test_slug_is_one_safe_path_component(name):
    from tlsmgm_cli.core.db.export import slug

    text = slug(name)
    assert text and len(text) <= 100
    assert not text.startswith(".")
    assert all(c.isascii() and (c.isalnum() or c in "._-") for c in text)
    assert text not in (".", "..") and "/" not in text and "\x00" not in text


def test_server_and_client_domain_dotdot_keep_their_own_files(tmp_path, pki):
    """A server domain '..' and a client domain '..' used to write both to OUT/cert.pem: the
    client's certificate overwrote the server's, and the snippet pointed the server domain at
    it."""
    url = _sqlite(tmp_path, [_row("..", 2, pki.server), _row("..", 1, pki.client)])
    out = tmp_path / "export"
    result = run("db", "export", "--db", url, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert not (out / "cert.pem").exists() and not (tmp_path / "cert.pem").exists()
    files = _all_files(out)
    assert len(files) == 5 and "wrote 5 file(s)" in result.output
    assert all(out in f.parents for f in files)
    entries = {e["type"]: e for e in _listed(tmp_path, out / "tls_mgm.cfg") if e["name"] == ".."}
    srv, cli = entries["TLS_DOMAIN_SRV"], entries["TLS_DOMAIN_CLI"]
    assert srv["CERT_FILE"] != cli["CERT_FILE"] and srv["PKEY_FILE"] != cli["PKEY_FILE"]
    assert Path(srv["CERT_FILE"]).read_bytes() == pki.server.cert_path.read_bytes()
    assert Path(srv["PKEY_FILE"]).read_bytes() == pki.server.key_path.read_bytes()
    assert Path(cli["CERT_FILE"]).read_bytes() == pki.client.cert_path.read_bytes()
    assert Path(cli["PKEY_FILE"]).read_bytes() == pki.client.key_path.read_bytes()


HOSTILE_NAMES = ["../../escape", "/etc/passwd", ".hidden", "...", "a\x1b[2J\x07b", "tab\tnl\n",
                 "nul\x00byte", "ünïcödé", "x" * 64]


def test_hostile_domain_names_export_inside_out_each_to_its_own_files(tmp_path, pki):
    from tlsmgm_cli.core.db.export import slug

    items = [pki.server, pki.client]
    rows = [_row(name, 2, items[n % 2]) for n, name in enumerate(HOSTILE_NAMES)]
    url = _sqlite(tmp_path, rows)
    out = tmp_path / "deep" / "export"
    result = run("db", "export", "--db", url, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep", "tls.db"]
    assert [p.name for p in (tmp_path / "deep").iterdir()] == ["export"]
    files = _all_files(out)
    assert len(files) == 2 * len(HOSTILE_NAMES) + 1
    for path in files:
        rel = path.relative_to(out)
        assert all(part not in ("..", ".") and not part.startswith(".") for part in rel.parts)
        assert all(c.isascii() and (c.isalnum() or c in "._-") for part in rel.parts for c in part)
    dirs = {p.parent for p in files if p.name == "cert.pem"}
    assert len(dirs) == len(HOSTILE_NAMES)
    text = (out / "tls_mgm.cfg").read_text()
    for n, name in enumerate(HOSTILE_NAMES):
        directory = out / "server" / slug(name)
        assert (directory / "cert.pem").read_bytes() == items[n % 2].cert_path.read_bytes()
        assert f"{directory}/cert.pem" in text


def test_two_domains_that_would_share_files_refuse_the_export(tmp_path, pki):
    url = _sqlite(tmp_path, [_row("a/b", 2, pki.server), _row("a_b", 2, pki.client)])
    out = tmp_path / "export"
    result = run("db", "export", "--db", url, "--out", str(out))
    assert result.exit_code == 1
    assert "'a/b'" in result.stderr and "'a_b'" in result.stderr and "nothing written" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tls.db"]


# ---- 3. an export writes everything or nothing ------------------------------------------------

def _big_rows(pki, count: int, ca_bytes: int) -> list[TlsRow]:
    ca = pki.ca_bundle_path.read_bytes()
    big = (ca * (ca_bytes // len(ca) + 1))
    return [_row(f"d{n}", 2, pki.server, ca_list=big) for n in range(count)]


def test_export_over_a_file_size_limit_writes_nothing_and_can_be_rerun(tmp_path, pki):
    """A deterministic write failure without a mount: RLIMIT_FSIZE makes the second row's big
    CA list fail with EFBIG after the first row's files were written (the old code left
    them behind, and the re-run then refused with 'already exists')."""
    rows = [_row("small", 2, pki.server)] + _big_rows(pki, 1, 40_000)
    url = _sqlite(tmp_path, rows)
    out = tmp_path / "export"

    def limit_file_size() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    proc = run_proc(["db", "export", "--db", url, "--out", str(out)], timeout=60,
                    env={"PYTHONDONTWRITEBYTECODE": "1"}, preexec_fn=limit_file_size)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tls.db"]  # no export, no staging dir
    assert proc.returncode == 1, proc.stderr
    assert "File too large" in proc.stderr and "nothing written" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    again = run("db", "export", "--db", url, "--out", str(out))
    assert again.exit_code == 0, again.output
    assert len(_all_files(out)) == 2 + 3 + 1


def test_export_to_a_full_tmpfs_writes_nothing(tmp_path, pki):
    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a 64 KiB tmpfs needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        url = _sqlite(tmp_path, _big_rows(pki, 4, 24_000))
        result = run("db", "export", "--db", url, "--out", str(mnt / "export"))
        assert list(mnt.iterdir()) == []  # no export, no staging dir
        assert result.exit_code == 1
        assert "No space left on device" in result.stderr and "nothing written" in result.stderr
        # with room again, the same export goes through (nothing left to say 'already exists')
        (tmp_path / "room").mkdir()
        smaller = _sqlite(tmp_path / "room", _big_rows(pki, 1, 10_000))
        result = run("db", "export", "--db", smaller, "--out", str(mnt / "export"))
        assert result.exit_code == 0, result.output
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


# ---- 2. db import of a config with errors -----------------------------------------------------

def test_import_of_a_config_opensips_refuses_writes_nothing(tmp_path, pki):
    url = _sqlite(tmp_path, [])
    body = (mp("server_domain", "d1") + mp("certificate", f"[d1]{pki.server.cert_path}")
            + mp("private_key", f"[d1]{pki.server.key_path}"))
    cfg = write_cfg(tmp_path, body, header='loadmodule "tls_mgm.so"\n')  # no TLS library module
    result = run("db", "import", "-c", str(cfg), "--db", url)
    assert result.exit_code == 1
    assert "No TLS library module loaded" in result.stderr and "nothing written" in result.stderr
    with connect(url) as db:
        assert fetch_rows(db) == []
    allowed = run("db", "import", "-c", str(cfg), "--db", url, "--allow-errors")
    assert allowed.exit_code == 0, allowed.output
    assert "wrote 1 new" in allowed.stdout and "despite 1 error(s): --allow-errors" in allowed.stdout
    with connect(url) as db:
        assert [r.domain for r in fetch_rows(db)] == ["d1"]


# ---- 4. timeouts ------------------------------------------------------------------------------

@pytest.mark.parametrize("scheme", ["mysql", "postgres"])
def test_silent_server_fails_within_the_connect_timeout(tmp_path, scheme):
    server = SilentServer()
    try:
        url = f"{scheme}://opensips:{SECRET}@127.0.0.1:{server.port}/opensips"
        started = time.monotonic()
        proc = run_proc(["db", "export", "--db", url, "--out", str(tmp_path / "out")],
                        timeout=limits.DB_CONNECT_TIMEOUT_S + 20)
        elapsed = time.monotonic() - started
    finally:
        server.close()
    assert server.accepted, "never connected to the silent server"
    assert elapsed < limits.DB_CONNECT_TIMEOUT_S + 4, f"took {elapsed:.1f} s"
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert f"{limits.DB_CONNECT_TIMEOUT_S:g} s connect timeout" in lines[0]
    assert SECRET not in proc.stdout + proc.stderr and "***" in lines[0]


def _import_cfg(tmp_path: Path, pki, method: str) -> Path:
    return write_cfg(tmp_path, mp("server_domain", "d1") + mp("tls_method", f"[d1]{method}")
                     + mp("certificate", f"[d1]{pki.server.cert_path}")
                     + mp("private_key", f"[d1]{pki.server.key_path}"), name=f"{method}.cfg")


@pytest.mark.parametrize("server_url", ["postgres", "mysql"], indirect=True)
def test_import_waiting_on_a_row_lock_fails_naming_the_lock_timeout(server_url, tmp_path, pki):
    assert run("db", "init", "--db", server_url).exit_code == 0
    first = run("db", "import", "-c", str(_import_cfg(tmp_path, pki, "TLSv1_2")), "--db", server_url)
    assert first.exit_code == 0, first.output
    locker = connect(server_url)
    try:
        with locker.transaction():
            locker.query("SELECT id FROM tls_mgm WHERE domain = %s FOR UPDATE", ("d1",))
            started = time.monotonic()
            proc = run_proc(["db", "import", "-c", str(_import_cfg(tmp_path, pki, "TLSv1_3")),
                             "--db", server_url], timeout=limits.DB_LOCK_TIMEOUT_S + 25)
            elapsed = time.monotonic() - started
    finally:
        locker.close()
    assert proc.returncode != 0
    assert elapsed < limits.DB_LOCK_TIMEOUT_S + 8, f"took {elapsed:.1f} s"
    assert f"{limits.DB_LOCK_TIMEOUT_S:g} s lock timeout" in proc.stderr, proc.stderr
    assert "wrote" not in proc.stdout
    with connect(server_url) as db:
        assert [r.method for r in fetch_rows(db)] == ["TLSv1_2"]


def test_sqlite_locked_by_another_writer_fails_naming_the_lock_timeout(tmp_path, pki):
    url = _sqlite(tmp_path, [])
    locker = connect(url)
    try:
        with locker.transaction():  # BEGIN IMMEDIATE: holds the write lock
            started = time.monotonic()
            proc = run_proc(["db", "add", "--db", url, "d1", f"certificate={pki.server.cert_path}",
                             f"private_key={pki.server.key_path}"], timeout=limits.DB_LOCK_TIMEOUT_S + 40)
            elapsed = time.monotonic() - started
    finally:
        locker.close()
    assert proc.returncode != 0
    assert elapsed < limits.DB_LOCK_TIMEOUT_S + 8, f"took {elapsed:.1f} s"
    assert f"{limits.DB_LOCK_TIMEOUT_S:g} s lock timeout" in proc.stderr, proc.stderr


# ---- 5. integer columns -----------------------------------------------------------------------

@pytest.mark.parametrize("value", ["99999999999999999999999", "2147483648", "-2147483649"])
def test_db_add_out_of_range_integer_is_a_usage_error(db_url, pki, value):
    assert run("db", "init", "--db", db_url).exit_code == 0
    result = run("db", "add", "--db", db_url, "d1", f"certificate={pki.server.cert_path}",
                 f"private_key={pki.server.key_path}", f"verify_cert={value}")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "out of range for an INTEGER column" in lines[0], result.stderr
    with connect(db_url) as db:
        assert fetch_rows(db) == []
    largest = run("db", "add", "--db", db_url, "d1", f"certificate={pki.server.cert_path}",
                  f"private_key={pki.server.key_path}", "crl_check_all=2147483647")
    assert largest.exit_code == 0, largest.output
    with connect(db_url) as db:
        assert fetch_rows(db)[0].crl_check_all == 2**31 - 1


# ---- 6. a relative PEM path is read from the current directory --------------------------------

def test_db_add_relative_pem_path_resolves_against_the_current_directory(tmp_path, pki, monkeypatch):
    work = tmp_path / "work"
    (work / "pki").mkdir(parents=True)
    (work / "pki" / "a.crt").write_bytes(pki.server.cert_path.read_bytes())
    (work / "pki" / "a.key").write_bytes(pki.server.key_path.read_bytes())
    url = _sqlite(tmp_path, [])
    monkeypatch.chdir(work)
    result = run("db", "add", "--db", url, "d1", "certificate=pki/a.crt", "private_key=pki/a.key")
    assert result.exit_code == 0, result.output
    assert f"certificate: read from {work / 'pki' / 'a.crt'}" in result.stdout
    assert f"private_key: read from {work / 'pki' / 'a.key'}" in result.stdout
    with connect(url) as db:
        row = fetch_rows(db)[0]
    assert row.certificate == pki.server.cert_path.read_bytes()
    missing = run("db", "add", "--db", url, "d2", "certificate=pki/none.crt")
    assert missing.exit_code != 0 and str(work / "pki" / "none.crt") in missing.stderr


# ---- 7. PEM files are read as regular files with a size limit ---------------------------------

@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_db_add_dev_zero_certificate_is_refused_at_once(tmp_path, pki):
    url = _sqlite(tmp_path, [])
    proc = run_proc(["db", "add", "--db", url, "d1", "certificate=/dev/zero",
                     f"private_key={pki.server.key_path}"], timeout=20)
    assert proc.returncode == 1
    assert "character device" in proc.stderr and "not a regular file" in proc.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
def test_db_update_fifo_key_is_refused_not_waited_on(tmp_path, pki):
    url = _sqlite(tmp_path, [_row("d1", 2, pki.server)])
    fifo = tmp_path / "key.fifo"
    os.mkfifo(fifo)
    proc = run_proc(["db", "update", "--db", url, "d1", "server", f"private_key={fifo}"], timeout=20)
    assert proc.returncode == 1
    assert "FIFO" in proc.stderr


def test_db_add_oversized_certificate_names_the_limit(tmp_path, pki):
    url = _sqlite(tmp_path, [])
    big = tmp_path / "big.crt"
    with open(big, "wb") as fh:
        fh.truncate(limits.PKI_FILE_MAX_BYTES + 1)  # sparse: no disk used
    result = run("db", "add", "--db", url, "d1", f"certificate={big}")
    assert result.exit_code == 1
    assert f"{limits.PKI_FILE_MAX_BYTES // (1024 * 1024)} MiB limit" in result.stderr


# ---- messages about names from the command line -------------------------------------------

ESC_NAME = "e\x1b[31mvil\x07"


def test_db_add_update_remove_messages_escape_the_domain_name(tmp_path, pki):
    url = _sqlite(tmp_path, [])
    outputs = [
        run("db", "add", "--db", url, ESC_NAME, f"certificate={pki.server.cert_path}",
            f"private_key={pki.server.key_path}"),
        run("db", "update", "--db", url, ESC_NAME, "server", "verify_cert=1"),
        run("db", "remove", "--db", url, ESC_NAME, "server"),
    ]
    for result, verb in zip(outputs, ("added", "updated", "removed"), strict=True):
        assert result.exit_code == 0, result.output
        assert "\x1b" not in result.output and "\x07" not in result.output
        assert f"{verb} server domain 'e\\x1b[31mvil\\x07'" in result.output


def test_db_add_name_that_is_not_utf8_is_a_usage_error(tmp_path, pki):
    url = _sqlite(tmp_path, [])
    proc = run_proc(["db", "add", "--db", url, "a\udcffb", f"certificate={pki.server.cert_path}"])
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == ("tlsmgm: error: argument 'a\\xffb' is not valid UTF-8 "
                                   "(the tls_mgm table holds text)")
    with connect(url) as db:
        assert fetch_rows(db) == []


def test_db_add_misspelt_column_suggests_the_right_one(tmp_path):
    url = _sqlite(tmp_path, [])
    result = run("db", "add", "--db", url, "q", "certficate=/x.pem")
    assert result.exit_code == 2
    assert "unknown tls_mgm column 'certficate' (did you mean 'certificate'? columns:" in result.output


@pytest.mark.parametrize("under", ["file", "/dev/null"])
def test_export_under_a_file_says_not_a_directory(tmp_path, pki, under):
    url = _sqlite(tmp_path, [_row("a", 2, pki.server)])
    blocker = tmp_path / "plain" if under == "file" else Path(under)
    if under == "file":
        blocker.write_text("x")
    for out in (blocker, blocker / "sub" / "dir"):
        result = run("db", "export", "--db", url, "--out", str(out))
        assert result.exit_code == 1, result.output
        assert result.output.strip() == f"tlsmgm: error: cannot write into {out}: {blocker} is not a directory; nothing written"
    assert sorted(p.name for p in tmp_path.iterdir()) == (["plain", "tls.db"] if under == "file" else ["tls.db"])


def test_export_with_a_row_left_out_of_the_snippet_exits_1(tmp_path, pki):
    url = _sqlite(tmp_path, [_row("good", 2, pki.server), _row("a]b", 2, pki.client)])
    result = run("db", "export", "--db", url, "--out", str(tmp_path / "out"))
    assert result.exit_code == 1, result.output
    assert "warning: left out of the snippet:" in result.output and "contains ']'" in result.output
    assert (tmp_path / "out" / "server" / "good" / "cert.pem").read_bytes() == pki.server.cert_path.read_bytes()
    (tmp_path / "whole").mkdir()
    whole = _sqlite(tmp_path / "whole", [_row("good", 2, pki.server)])
    assert run("db", "export", "--db", whole, "--out", str(tmp_path / "out2")).exit_code == 0


def test_a_key_in_the_certificate_column_is_never_printed_nor_exported_readable(tmp_path, pki):
    """A private key stored in a row's certificate column: `list` used to print it whole in
    its "unreadable: ..." text and JSON; `db export` wrote it to cert.pem mode 0644."""
    key = pki.rsa.key_path.read_bytes()
    url = _sqlite(tmp_path, [TlsRow(domain="oops", type=2, match_ip_address="*", certificate=key,
                                    private_key=key)])
    cfg = write_cfg(tmp_path, mp("db_url", url))
    body = key.decode().splitlines()[1]
    for fmt in ("text", "json"):
        listed = run("list", "-c", str(cfg), "--format", fmt)
        assert body not in listed.output and "PRIVATE KEY" not in listed.output, listed.output
    doc = json.loads(run("list", "-c", str(cfg), "--format", "json").stdout)
    assert doc["domains"][0]["cert"] == {"error": "the DB certificate: holds a private key, not a certificate"}
    out = tmp_path / "export"
    assert run("db", "export", "--db", url, "--out", str(out)).exit_code in (0, 1)
    for pem in out.rglob("*.pem"):
        if b"PRIVATE KEY" in pem.read_bytes():
            assert pem.stat().st_mode & 0o077 == 0, pem
