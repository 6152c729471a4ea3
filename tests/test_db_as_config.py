"""The database is part of the config (issue 11): every command reads the config's
db_url as OpenSIPS does at startup, --no-db keeps a run offline, an unreachable DB is a
TLS047 warning naming the URL (password masked), and the from_file bug as observed on
3.6.8 (behaviour §8.8)."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
from cfgtext import mp, write_cfg
from clirun import run, run_proc
from hypothesis import assume, given
from hypothesis import strategies as st
from miserver import SilentServer

from tlsmgm_cli.core.checks.rules import RULES
from tlsmgm_cli.core.db.backend import connect
from tlsmgm_cli.core.db.rows import TlsRow, insert_rows
from tlsmgm_cli.core.limits import DB_CONNECT_TIMEOUT_S

SOCKET = 'socket=tls:127.0.0.1:5061\n'


def _db(path: Path, rows: list[TlsRow]) -> str:
    url = f"sqlite:///{path}"
    with connect(url, create=True) as db:
        db.init_schema()
        with db.transaction():
            insert_rows(db, rows)
    return url


def _json(result) -> dict:
    return json.loads(result.stdout)


# ---- the config's db_url is read by default ---------------------------------------------------
@pytest.fixture
def bad_row_config(tmp_path, pki):
    """A config whose SQLite db_url holds a good row and a half-added one (empty
    match_ip_address): OpenSIPS exits at startup."""
    cert, key = pki.server.cert_path.read_bytes(), pki.server.key_path.read_bytes()
    url = _db(tmp_path / "tls.db", [
        TlsRow(domain="good", type=2, match_ip_address="*", certificate=cert, private_key=key),
        TlsRow(domain="half", type=2, match_ip_address="", certificate=cert, private_key=key),
    ])
    body = (mp("db_url", url) + mp("server_domain", "script")
            + mp("certificate", f"[script]{pki.server.cert_path}")
            + mp("private_key", f"[script]{pki.server.key_path}"))
    return write_cfg(tmp_path, SOCKET + body), tmp_path / "etc"


def test_check_reads_the_config_db_url_by_default(bad_row_config):
    cfg, cfg_dir = bad_row_config
    result = run("check", "-c", str(cfg), "--cfg-dir", f"{cfg_dir}/", "--format", "json")
    doc = _json(result)
    assert result.exit_code == 1, result.output
    assert doc["summary"]["domains"] == 3  # script + good + the half-added row
    half = [f for f in doc["findings"] if f["rule"] == "TLS042"]
    assert half and half[0]["stops_start"] is True
    assert doc["opensips_would_start"] is False


def test_check_no_db_keeps_the_run_offline(bad_row_config):
    cfg, cfg_dir = bad_row_config
    result = run("check", "-c", str(cfg), "--cfg-dir", f"{cfg_dir}/", "--no-db", "--format", "json")
    doc = _json(result)
    assert doc["summary"]["domains"] == 1
    assert not [f for f in doc["findings"] if f["rule"].startswith("TLS04")]


def test_no_db_in_the_project_file(bad_row_config):
    cfg, cfg_dir = bad_row_config
    (cfg.parent / ".tlsmgm.yaml").write_text("no-db: true\n")
    doc = _json(run("check", "-c", str(cfg), "--cfg-dir", f"{cfg_dir}/", "--format", "json"))
    assert doc["summary"]["domains"] == 1
    db_url = f"sqlite:///{cfg.parent}/tls.db"  # a flag on the command line wins over the file
    doc = _json(run("check", "-c", str(cfg), "--cfg-dir", f"{cfg_dir}/", "--format", "json", "--db", db_url))
    assert doc["summary"]["domains"] == 3
    (cfg.parent / ".tlsmgm.yaml").write_text("no-db: maybe\n")
    bad = run("check", "-c", str(cfg))
    assert bad.exit_code == 2 and "no-db must be true or false" in bad.stderr


def test_list_and_check_agree_on_the_db(bad_row_config):
    cfg, cfg_dir = bad_row_config
    listed = run("list", "-c", str(cfg), "--cfg-dir", f"{cfg_dir}/", "--format", "json", "--no-certs")
    assert listed.exit_code == 2 and "TLS domain 'half'" in listed.stderr  # OpenSIPS exits on it
    offline = run("list", "-c", str(cfg), "--cfg-dir", f"{cfg_dir}/", "--format", "json", "--no-certs",
                  "--no-db")
    assert [d["name"] for d in _json(offline)["domains"]] == ["script"]


@pytest.mark.parametrize("command", ["list", "check", "match", "serve", "handshake", "inspect", "diff"])
def test_no_db_exists_on_every_command_that_loads_a_config(command):
    result = run(command, "--help")
    assert result.exit_code == 0
    assert "--no-db" in result.output


def test_db_and_no_db_together_are_a_usage_error(bad_row_config):
    cfg, _ = bad_row_config
    result = run("check", "-c", str(cfg), "--no-db", "--db", "sqlite:////nonexistent.db")
    assert result.exit_code == 2
    assert "--db URL and --no-db contradict each other" in result.stderr


def test_check_help_says_what_check_does_with_the_db():
    text = " ".join(run("check", "--help").output.split())
    assert "not contacted" not in text
    assert "db_url are read and checked" in text and "--no-db" in text


# ---- an unreachable DB is a finding, never a silent "1 domain checked" ---------------------------
def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _unreachable_cfg(tmp_path: Path, pki, url: str) -> Path:
    body = (mp("db_url", url) + mp("server_domain", "script")
            + mp("certificate", f"[script]{pki.server.cert_path}")
            + mp("private_key", f"[script]{pki.server.key_path}"))
    return write_cfg(tmp_path, SOCKET + body)


def _assert_db_warning(doc: dict, secret: str, port: int) -> None:
    found = [f for f in doc["findings"] if f["rule"] == "TLS047"]
    assert len(found) == 1, doc["findings"]
    finding = found[0]
    assert finding["severity"] == "warning" == RULES["TLS047"].severity
    assert f"127.0.0.1:{port}" in finding["message"] and "***" in finding["message"]
    assert "not checked" in finding["message"]
    assert finding["stops_start"] is False
    assert secret not in json.dumps(doc)


@pytest.mark.parametrize("scheme", ["mysql", "postgres"])
def test_unreachable_port_is_a_tls047_warning(tmp_path, pki, scheme):
    port = _closed_port()
    cfg = _unreachable_cfg(tmp_path, pki, f"{scheme}://opensips:s3cr3tPW@127.0.0.1:{port}/opensips")
    started = time.monotonic()
    result = run("check", "-c", str(cfg), "--format", "json")
    assert time.monotonic() - started < DB_CONNECT_TIMEOUT_S + 3
    assert result.exit_code == 0  # a warning; the script domain itself is fine
    _assert_db_warning(_json(result), "s3cr3tPW", port)
    text = run("check", "-c", str(cfg)).output
    assert "1 domain checked" in text
    assert text.rstrip().splitlines()[-1] == (
        "OpenSIPS 3.6.8 would start with this config as far as checked: the DB-defined domains "
        "were not checked (TLS047).")


@pytest.mark.parametrize("scheme", ["mysql", "postgres"])
def test_silent_db_server_is_a_tls047_warning_within_the_connect_timeout(tmp_path, pki, scheme):
    server = SilentServer()
    try:
        cfg = _unreachable_cfg(tmp_path, pki,
                               f"{scheme}://opensips:s3cr3tPW@127.0.0.1:{server.port}/opensips")
        started = time.monotonic()
        proc = run_proc(["check", "-c", str(cfg), "--format", "json"], timeout=DB_CONNECT_TIMEOUT_S + 20)
        elapsed = time.monotonic() - started
    finally:
        server.close()
    assert server.accepted, "the check never connected to the silent server"
    assert elapsed < DB_CONNECT_TIMEOUT_S + 4, f"took {elapsed:.1f} s"
    assert proc.returncode == 0, proc.stderr
    _assert_db_warning(json.loads(proc.stdout), "s3cr3tPW", server.port)


def test_db_named_with_db_that_cannot_be_read_agrees_with_the_catalogue(tmp_path, pki):
    """issue 12: `check --db` on a missing SQLite file reported TLS046 as an error while the
    catalogue lists TLS046 as a note."""
    cfg = write_cfg(tmp_path, SOCKET + mp("server_domain", "script")
                    + mp("certificate", f"[script]{pki.server.cert_path}")
                    + mp("private_key", f"[script]{pki.server.key_path}"))
    result = run("check", "-c", str(cfg), "--db", f"sqlite:///{tmp_path}/missing.db", "--format", "json")
    doc = _json(result)
    db_findings = [f for f in doc["findings"] if f["rule"].startswith("TLS04")]
    assert db_findings
    for finding in db_findings:
        assert finding["severity"] == RULES[finding["rule"]].severity, finding
    named = [f for f in doc["findings"] if f["rule"] == "TLS048"]
    assert len(named) == 1 and "missing.db" in named[0]["message"]
    assert "not checked" in named[0]["message"]
    assert result.exit_code == 1


# ---- the default-key (from_file) bug, as observed on 3.6.8 ----------------------------------------
@pytest.fixture
def from_file_scenario(tmp_path, pki):
    """Rows fetched in id order; OpenSIPS prepends each, so the list order is the reverse
    and the row without certificate or key ("nodefault") comes FIRST. Its default
    certificate file does not exist: it fails at the certificate step and never sets the
    from_file flag, so the later rows load their PEM key BLOBs normally."""
    chain = pki.server_chain
    chain2 = chain.cert_path.read_bytes()
    chain3 = chain2 + pki.ca.cert_path.read_bytes()
    chain_key = chain.key_path.read_bytes()
    cert, key = pki.server.cert_path.read_bytes(), pki.server.key_path.read_bytes()
    rows = [
        TlsRow(domain="chain2", type=2, match_ip_address="*", match_sip_domain="biloxi.com",
               certificate=chain2, private_key=chain_key),
        TlsRow(domain="chain3", type=2, match_ip_address="*", match_sip_domain="three.biloxi.com",
               certificate=chain3, private_key=chain_key),
        TlsRow(domain="certkey", type=2, match_ip_address="*", match_sip_domain="atlanta.com",
               certificate=cert + key, private_key=key),
        TlsRow(domain="keypath", type=2, match_ip_address="*", match_sip_domain="keypath.atlanta.com",
               certificate=cert, private_key=str(pki.server.key_path).encode()),
        TlsRow(domain="nodefault", type=2, match_ip_address="*", match_sip_domain="nodefault.com"),
    ]
    url = _db(tmp_path / "tls.db", rows)
    cfg_dir = tmp_path / "etc"
    (cfg_dir / "tls").mkdir(parents=True)  # no cert.pem, no ckey.pem
    cfg = write_cfg(tmp_path, SOCKET + mp("db_url", url))
    return cfg, f"{cfg_dir}/"


def test_from_file_bug_list(from_file_scenario):
    cfg, cfg_dir = from_file_scenario
    doc = _json(run("list", "-c", str(cfg), "--cfg-dir", cfg_dir, "--format", "json", "--no-certs"))
    skip = {d["name"]: d["db_skip"] for d in doc["domains"]}
    assert [d["name"] for d in doc["domains"]] == ["nodefault", "keypath", "certkey", "chain3", "chain2"]
    assert skip["chain2"] is None and skip["chain3"] is None and skip["certkey"] is None
    assert skip["nodefault"] == f"unable to load certificate file '{cfg_dir}tls/cert.pem'"
    assert skip["keypath"].startswith("unable to load private key from the database")
    mi = _json(run("list", "-c", str(cfg), "--cfg-dir", cfg_dir, "--format", "mi"))
    assert [d["name"] for d in mi["Domains"]] == ["certkey", "chain3", "chain2"]


def test_from_file_bug_match(from_file_scenario):
    cfg, cfg_dir = from_file_scenario
    answers = {}
    for sni in ("biloxi.com", "three.biloxi.com", "atlanta.com", "keypath.atlanta.com", "nodefault.com"):
        result = run("match", "-c", str(cfg), "--cfg-dir", cfg_dir, "--socket", "127.0.0.1:5061",
                     "--sni", sni, "--format", "json")
        answer = _json(result)["results"][0]
        answers[sni] = (answer["outcome"], answer["domain"])
    assert answers == {
        "biloxi.com": ("selected", "chain2"),
        "three.biloxi.com": ("selected", "chain3"),
        "atlanta.com": ("selected", "certkey"),
        "keypath.atlanta.com": ("rejected", None),  # the key column holds a path: skipped
        "nodefault.com": ("rejected", None),  # no default certificate file: skipped
    }


def test_from_file_bug_check(from_file_scenario):
    cfg, cfg_dir = from_file_scenario
    doc = _json(run("check", "-c", str(cfg), "--cfg-dir", cfg_dir, "--format", "json"))
    skipped = sorted(f["domain"] for f in doc["findings"] if f["rule"] == "TLS041")
    assert skipped == ["keypath", "nodefault"]
    assert doc["summary"]["domains"] == 3
    assert doc["opensips_would_start"] is True  # skipped DB rows are not fatal


# ---- list output (issue 12 "Misleading messages") ------------------------------------------------
@pytest.fixture
def v6_cfg(tmp_path, pki):
    body = ("socket=tls:[::1]:5071\n" + mp("client_tls_domain_avp", "tlsdom")
            + mp("server_domain", "v6\x1b[2J\x07") + mp("match_ip_address", "[v6\x1b[2J\x07][::1]:5071")
            + mp("certificate", f"[v6\x1b[2J\x07]{pki.server.cert_path}")
            + mp("private_key", f"[v6\x1b[2J\x07]{pki.server.key_path}"))
    return write_cfg(tmp_path, body)


def test_list_text_shows_ipv6_like_check(v6_cfg):
    out = run("list", "-c", str(v6_cfg), "--format", "plain").stdout
    assert "[::1]:5071" in out and "0:0:0:0:0:0:0:1" not in out
    mi = json.loads(run("list", "-c", str(v6_cfg), "--format", "mi").stdout)
    assert mi["Domains"][0]["IP ADDRESS FILTERS"] == ["0:0:0:0:0:0:0:1:5071"]  # OpenSIPS's own text


def test_list_globals_line_is_on_stdout(v6_cfg):
    result = run("list", "-c", str(v6_cfg), "--format", "plain")
    assert "globals: client_tls_domain_avp=tlsdom" in result.stdout
    assert "globals:" not in result.stderr


def test_list_text_escapes_control_characters(v6_cfg):
    out = run("list", "-c", str(v6_cfg), "--format", "plain").stdout
    assert "\x1b" not in out and "\x07" not in out
    assert "v6\\x1b[2J\\x07" in out
    assert "\x1b" in json.loads(run("list", "-c", str(v6_cfg), "--format", "json").stdout)["domains"][0]["name"]


def test_list_help_jq_example_works(v6_cfg):
    import re
    import shutil
    import subprocess

    help_text = run("list", "--help").stdout
    match = re.search(r"tlsmgm list (.*?) \| jq (-r )?'([^']+)'", help_text)
    assert match, help_text
    doc = run("list", "-c", str(v6_cfg), *match.group(1).split()).stdout
    if shutil.which("jq") is None:
        pytest.skip("jq is not installed")
    proc = subprocess.run(["jq", "-r", match.group(3)], input=doc, capture_output=True, text=True, timeout=10)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "v6\x1b[2J\x07"


@given(ip=st.ip_addresses(), port=st.integers(min_value=1, max_value=65535))
def test_list_address_text_is_checks_socket_text(ip, port):
    """Property: for every address OpenSIPS stores (canonical ip:port), list's text form is
    the one check and match print."""
    from tlsmgm_cli.core.net.addresses import canonical_ip
    from tlsmgm_cli.render.listing import address_text

    canonical = canonical_ip(str(ip))
    assume(canonical is not None)
    expected = f"[{ip.compressed}]:{port}" if ip.version == 6 else f"{ip}:{port}"
    assert address_text(f"{canonical}:{port}") == expected
    assert address_text("*") == "*"


# ---- DB blobs that OpenSIPS reads without failing (behaviour §5.3) ---------------------------
def test_db_ca_list_without_certificate_and_bad_dh_params_do_not_stop_the_start(tmp_path, pki):
    """A ca_list BLOB with no PEM certificate adds no CA, a dh_params BLOB that does not
    parse is logged and ignored: the row is loaded, OpenSIPS starts (notes, not errors)."""
    cert, key = pki.server.cert_path.read_bytes(), pki.server.key_path.read_bytes()
    url = _db(tmp_path / "tls.db", [
        TlsRow(domain="odd", type=2, match_ip_address="*", certificate=cert, private_key=key,
               ca_list=str(pki.ca.cert_path).encode(), dh_params=b"garbage")])
    cfg = write_cfg(tmp_path, SOCKET + mp("db_url", url))
    result = run("check", "-c", str(cfg), "--format", "json")
    doc = _json(result)
    odd = [f for f in doc["findings"] if f.get("domain") == "odd"]
    assert not [f for f in odd if f["severity"] == "error"], odd
    notes = {f["message"].split(" ")[0]: f for f in odd if f["rule"] == "TLS044"}
    assert "no certificate in it" in notes["ca_list"]["message"] and not notes["ca_list"]["stops_start"]
    assert "no PEM DH parameters in it" in notes["dh_params"]["message"]
    assert doc["opensips_would_start"] is True
    assert "cryptography.io" not in json.dumps(doc)
    listed = _json(run("list", "-c", str(cfg), "--format", "json"))
    assert [d["name"] for d in listed["domains"]] == ["odd"]


def test_file_dh_params_error_names_what_is_wrong(tmp_path, pki):
    garbage = tmp_path / "dh.pem"
    garbage.write_text("-----BEGIN DH PARAMETERS-----\nnot base64 at all\n-----END DH PARAMETERS-----\n")
    body = (mp("server_domain", "d") + mp("certificate", f"[d]{pki.server.cert_path}")
            + mp("private_key", f"[d]{pki.server.key_path}") + mp("dh_params", f"[d]{garbage}"))
    doc = _json(run("check", "-c", str(write_cfg(tmp_path, SOCKET + body)), "--no-db", "--format", "json"))
    dh = [f for f in doc["findings"] if f["rule"] == "TLS403"]
    assert [f["message"] for f in dh] == ["unable to read dh params (its PEM DH parameters do not parse)"], dh
