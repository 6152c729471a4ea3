"""Hostile files given to ``inspect`` and ``handshake`` (issue 12 items 9 and 11): devices
and FIFOs are refused at once, never read or waited on; a huge bundle stays linear."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from clirun import run_proc

from tlsmgm_cli.core.x509 import certgen


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "cert.fifo"
    os.mkfifo(path)
    return path


def test_inspect_refuses_a_fifo_without_waiting(fifo: Path) -> None:
    started = time.monotonic()
    proc = run_proc(["inspect", str(fifo)], timeout=20)
    assert time.monotonic() - started < 15
    assert proc.returncode == 1
    assert "FIFO" in proc.stderr and "not a regular file" in proc.stderr


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero on this system")
def test_inspect_refuses_dev_zero(tmp_path: Path) -> None:
    good = tmp_path / "good.pem"
    good.write_bytes(certgen.make_cert(None, "ok.example", self_signed=True).cert_pem())
    proc = run_proc(["inspect", "/dev/zero", str(good), "--var", "tls_peer_subject_cn"], timeout=20)
    assert proc.returncode == 1
    assert "'/dev/zero' is a character device" in proc.stderr
    assert proc.stdout == "ok.example\n"  # the other file is still inspected


def test_handshake_refuses_a_fifo_certificate_without_waiting(tmp_path: Path, fifo: Path) -> None:
    issued = certgen.make_cert(None, "c.example", self_signed=True, server=False, client=True)
    _cert, key = issued.write(tmp_path, "c", force=True)
    proc = run_proc(["handshake", "127.0.0.1:9", "--cert", str(fifo), "--key", str(key), "--timeout", "1"],
                    timeout=20)
    assert proc.returncode == 2
    assert "FIFO" in proc.stderr and "certificate" in proc.stderr


def test_handshake_refuses_a_fifo_key_without_waiting(tmp_path: Path, fifo: Path) -> None:
    issued = certgen.make_cert(None, "c.example", self_signed=True, server=False, client=True)
    cert, _key = issued.write(tmp_path, "c", force=True)
    proc = run_proc(["handshake", "127.0.0.1:9", "--cert", str(cert), "--key", str(fifo), "--timeout", "1"],
                    timeout=20)
    assert proc.returncode == 2
    assert "FIFO" in proc.stderr and "private_key" in proc.stderr
