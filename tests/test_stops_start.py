""""Will OpenSIPS start?" (issue 11): every finding says whether it stops OpenSIPS 3.6.8 at
startup (behaviour §9), and the text summary ends with the answer."""

from __future__ import annotations

import json

from cfgtext import mp, write_cfg
from clirun import run

from tlsmgm_cli.core.db.backend import connect
from tlsmgm_cli.core.db.rows import TlsRow, insert_rows

SOCKET = "socket=tls:127.0.0.1:5061\n"


def _domain(pki, name: str = "d1", cert: str | None = None, key: str | None = None, extra: str = "") -> str:
    return (mp("server_domain", name) + mp("match_ip_address", f"[{name}]127.0.0.1:5061")
            + mp("tls_method", f"[{name}]TLSv1_2-TLSv1_3")
            + mp("certificate", f"[{name}]{cert or pki.server.cert_path}")
            + mp("private_key", f"[{name}]{key or pki.server.key_path}") + extra)


def _check(cfg, *args: str):
    return run("check", "-c", str(cfg), *args)


def _doc(cfg, *args: str) -> dict:
    return json.loads(_check(cfg, "--format", "json", *args).stdout)


def _last_line(cfg, *args: str) -> str:
    return _check(cfg, *args).stdout.rstrip().splitlines()[-1]


def test_missing_certificate_stops_start(tmp_path, pki):
    cfg = write_cfg(tmp_path, SOCKET + _domain(pki, cert=str(tmp_path / "missing.crt")))
    doc = _doc(cfg)
    assert doc["opensips_would_start"] is False
    stops = {f["rule"]: f["stops_start"] for f in doc["findings"]}
    assert stops["TLS200"] is True
    line = next(f["line"] for f in doc["findings"] if f["rule"] == "TLS200")
    text = _check(cfg).stdout
    assert "[stops OpenSIPS at startup]" in text
    assert text.rstrip().splitlines()[-1].startswith(
        f"OpenSIPS 3.6.8 would not start: {sum(stops.values())} finding")
    assert f"TLS200 at {cfg}:{line}" in text.rstrip().splitlines()[-1]


def test_every_finding_has_stops_start(tmp_path, pki):
    cfg = write_cfg(tmp_path, SOCKET + _domain(pki, key=str(pki.wrong_key.key_path)))
    doc = _doc(cfg)
    assert doc["findings"]
    assert all(isinstance(f["stops_start"], bool) for f in doc["findings"])
    assert {f["rule"] for f in doc["findings"] if f["stops_start"]} == {"TLS203"}


def test_errors_that_do_not_stop_start(tmp_path, pki):
    """behaviour §9.3: a reversed method range and a listener no domain covers are accepted at start."""
    body = ("socket=tls:127.0.0.1:5062\n" + SOCKET
            + _domain(pki).replace("TLSv1_2-TLSv1_3", "TLSv1_3-TLSv1_2"))
    cfg = write_cfg(tmp_path, body)
    result = _check(cfg, "--format", "json")
    doc = json.loads(result.stdout)
    rules = {f["rule"] for f in doc["findings"] if f["severity"] == "error"}
    assert {"TLS032", "TLS102"} <= rules
    assert result.exit_code == 1
    assert doc["opensips_would_start"] is True
    assert not any(f["stops_start"] for f in doc["findings"])
    assert _last_line(cfg).startswith("OpenSIPS 3.6.8 would start with this config")


def test_clean_config_would_start(tmp_path, pki):
    cfg = write_cfg(tmp_path, SOCKET + _domain(pki))
    assert _last_line(cfg) == "OpenSIPS 3.6.8 would start with this config."
    assert _last_line(cfg, "--opensips-version", "3.6.5") == "OpenSIPS 3.6.5 would start with this config."
    assert _last_line(cfg, "--ignore", "TLS300") == (
        "OpenSIPS 3.6.8 would start with this config as far as checked: only the selected rules ran.")


def test_config_errors_stop_start(tmp_path, pki):
    cfg = write_cfg(tmp_path, SOCKET + _domain(pki) + mp("certficate", "[d1]/x.pem"))
    doc = _doc(cfg)
    assert [f["rule"] for f in doc["findings"] if f["stops_start"]] == ["TLS012"]
    assert doc["opensips_would_start"] is False


def test_library_none_does_not_stop_on_files(tmp_path, pki):
    cfg = write_cfg(tmp_path, SOCKET + mp("tls_library", "none")
                    + _domain(pki, cert=str(tmp_path / "missing.crt")),
                    header='loadmodule "tls_mgm.so"\n')
    doc = _doc(cfg)
    assert not any(f["stops_start"] for f in doc["findings"] if f["rule"].startswith("TLS2"))


def test_db_rows_skipped_are_not_fatal_half_added_are(tmp_path, pki):
    cert, key = pki.server.cert_path.read_bytes(), pki.server.key_path.read_bytes()
    url = f"sqlite:///{tmp_path}/tls.db"
    with connect(url, create=True) as db:
        db.init_schema()
        with db.transaction():
            insert_rows(db, [TlsRow(domain="garbage", type=2, match_ip_address="*", certificate=b"x",
                                    private_key=key),
                             TlsRow(domain="good", type=2, match_ip_address="*", certificate=cert,
                                    private_key=key)])
    cfg = write_cfg(tmp_path, SOCKET + mp("db_url", url) + _domain(pki))
    doc = _doc(cfg)
    skipped = [f for f in doc["findings"] if f["rule"] == "TLS041"]
    assert skipped and not any(f["stops_start"] for f in skipped)
    assert doc["opensips_would_start"] is True
    with connect(url) as db:
        db.execute("INSERT INTO tls_mgm (domain, type, match_ip_address) VALUES ('half', 2, '')")
    doc = _doc(cfg, "--cfg-dir", f"{tmp_path}/etc/")
    assert [f["rule"] for f in doc["findings"] if f["stops_start"]][:1] == ["TLS042"]
    assert doc["opensips_would_start"] is False


def test_sarif_carries_stops_start(tmp_path, pki):
    cfg = write_cfg(tmp_path, SOCKET + _domain(pki, cert=str(tmp_path / "missing.crt")))
    log = json.loads(_check(cfg, "--format", "sarif").stdout)
    run_ = log["runs"][0]
    assert run_["properties"]["opensips_would_start"] is False
    by_rule = {r["ruleId"]: r["properties"]["stops_start"] for r in run_["results"]}
    assert by_rule["TLS200"] is True


def test_text_and_github_mark_stoppers_and_escape_untrusted_text(tmp_path, pki):
    name = "d\x1b[2J"
    cfg = write_cfg(tmp_path, SOCKET + _domain(pki, name=name, cert=str(tmp_path / "missing.crt")))
    github = _check(cfg, "--format", "github").stdout
    line = next(x for x in github.splitlines() if "title=TLS200" in x)
    assert line.endswith("[stops OpenSIPS at startup]")
    assert "\x1b" not in github and "[d\\x1b[2J]" in line
    text = _check(cfg).stdout
    assert "\x1b" not in text and "server domain [d\\x1b[2J]" in text
