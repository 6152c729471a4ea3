"""issue 12 item 9: `check` (and `list`) read certificate, key, CA, CRL and DH files only as
regular files with a size limit: a FIFO or /dev/zero named in a config is a finding, never a
hang or a memory blow-up. Each run is a real process under a short timeout."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cfgtext import mp, write_cfg
from clirun import run_proc

from tlsmgm_cli.core.db.backend import connect
from tlsmgm_cli.core.db.rows import TlsRow, insert_rows

TIMEOUT = 20  # seconds; the old code blocked forever on a FIFO and read /dev/zero without end
SOCKET = "socket=tls:127.0.0.1:5061\n"

pytestmark = pytest.mark.skipif(not os.path.exists("/dev/zero") or not hasattr(os, "mkfifo"),
                                reason="needs /dev/zero and os.mkfifo")


def _fifo(tmp_path: Path, name: str) -> str:
    path = tmp_path / name
    os.mkfifo(path)
    return str(path)


def _cfg(tmp_path: Path, **params: str) -> Path:
    body = SOCKET + mp("server_domain", "d1") + mp("match_ip_address", "[d1]127.0.0.1:5061")
    for param, value in params.items():
        body += mp(param, f"[d1]{value}")
    return write_cfg(tmp_path, body)


def _findings(cfg: Path, *args: str) -> dict[str, list[dict]]:
    proc = run_proc(["check", "-c", str(cfg), "--format", "json", *args], timeout=TIMEOUT)
    assert proc.returncode == 1, proc.stderr
    by_rule: dict[str, list[dict]] = {}
    for finding in json.loads(proc.stdout)["findings"]:
        by_rule.setdefault(finding["rule"], []).append(finding)
    return by_rule


@pytest.mark.timeout(TIMEOUT * 2)
def test_certificate_and_key_fifos_are_findings(tmp_path):
    cfg = _cfg(tmp_path, certificate=_fifo(tmp_path, "cert.pem"), private_key=_fifo(tmp_path, "key.pem"))
    found = _findings(cfg)
    assert "FIFO" in found["TLS200"][0]["message"] and found["TLS200"][0]["stops_start"]
    assert "FIFO" in found["TLS202"][0]["message"]


@pytest.mark.timeout(TIMEOUT * 2)
def test_dev_zero_certificate_and_key_are_findings(tmp_path):
    cfg = _cfg(tmp_path, certificate="/dev/zero", private_key="/dev/zero")
    found = _findings(cfg)
    assert "character device" in found["TLS200"][0]["message"]
    assert "character device" in found["TLS202"][0]["message"]


@pytest.mark.timeout(TIMEOUT * 2)
def test_ca_and_dh_fifos_and_devices_are_findings(tmp_path, pki):
    cfg = _cfg(tmp_path, certificate=str(pki.server.cert_path), private_key=str(pki.server.key_path),
               ca_list=_fifo(tmp_path, "ca.pem"), dh_params="/dev/zero")
    found = _findings(cfg)
    assert "FIFO" in found["TLS207"][0]["message"]
    assert "character device" in found["TLS403"][0]["message"]


@pytest.mark.timeout(TIMEOUT * 2)
def test_fifo_in_a_hashed_ca_dir_is_not_waited_on(tmp_path, pki):
    ca_dir = tmp_path / "cadir"
    ca_dir.mkdir()
    os.mkfifo(ca_dir / "0123abcd.0")
    cfg = _cfg(tmp_path, certificate=str(pki.server.cert_path), private_key=str(pki.server.key_path),
               ca_dir=str(ca_dir))
    proc = run_proc(["check", "-c", str(cfg), "--format", "json"], timeout=TIMEOUT)
    messages = [f["message"] for f in json.loads(proc.stdout)["findings"] if f["rule"] == "TLS208"]
    assert any("FIFO" in m for m in messages), messages


@pytest.mark.timeout(TIMEOUT * 2)
def test_list_does_not_hang_on_a_fifo_certificate(tmp_path):
    cfg = _cfg(tmp_path, certificate=_fifo(tmp_path, "cert.pem"), private_key="/dev/zero")
    proc = run_proc(["list", "-c", str(cfg), "--format", "json"], timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    cert = json.loads(proc.stdout)["domains"][0]["cert"]
    assert "FIFO" in cert["error"]


@pytest.mark.timeout(TIMEOUT * 2)
def test_db_row_whose_default_certificate_is_a_fifo(tmp_path):
    """A DB row without certificate loads CFG_DIR/tls/cert.pem: a FIFO there is a skipped
    row, not a hung `list`."""
    cfg_dir = tmp_path / "etc"
    (cfg_dir / "tls").mkdir(parents=True)
    os.mkfifo(cfg_dir / "tls" / "cert.pem")
    url = f"sqlite:///{tmp_path}/tls.db"
    with connect(url, create=True) as db:
        db.init_schema()
        with db.transaction():
            insert_rows(db, [TlsRow(domain="nocert", type=2, match_ip_address="*")])
    cfg = write_cfg(tmp_path, SOCKET + mp("db_url", url))
    proc = run_proc(["list", "-c", str(cfg), "--cfg-dir", f"{cfg_dir}/", "--format", "json", "--no-certs"],
                    timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    (dom,) = json.loads(proc.stdout)["domains"]
    assert dom["db_skip"] == f"unable to load certificate file '{cfg_dir}/tls/cert.pem'"


def test_root_that_does_not_exist_is_a_usage_error(tmp_path, pki):
    """issue 12: `check --root /nonexistent` gave one missing-file error per file."""
    cfg = _cfg(tmp_path, certificate=str(pki.server.cert_path), private_key=str(pki.server.key_path))
    missing = tmp_path / "no-such-root"
    proc = run_proc(["check", "-c", str(cfg), "--root", str(missing)], timeout=TIMEOUT)
    assert proc.returncode == 2 and "--root" in proc.stderr and "TLS200" not in proc.stdout
    (tmp_path / ".tlsmgm.yaml").write_text(f"root: {missing}\n")
    proc = run_proc(["check", "-c", str(cfg)], timeout=TIMEOUT)
    assert proc.returncode == 2 and "--root" in proc.stderr and "does not exist" in proc.stderr
    assert "TLS200" not in proc.stdout
