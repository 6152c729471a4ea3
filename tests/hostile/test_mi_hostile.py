"""issue 12 item 15 and the MI items: --timeout bounds the whole request (a real
dripping HTTP server on 127.0.0.1), HTTP 401 is named, a 100k-deep JSON reply and an
oversized reply are one-line errors, and --cli-config tells /dev/null, an empty file, a
missing file and a FIFO apart."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path

import pytest
from clirun import run
from miserver import HttpMi, answer, isolate_mi_settings

from tlsmgm_cli import exitcodes
from tlsmgm_cli.core import limits

LIST_REPLY = {"Domains": []}


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_mi_settings(tmp_path, monkeypatch)


class DrippingHttp:
    """Accepts, reads the request, then sends a valid reply one byte every ``interval`` s."""

    def __init__(self, interval: float = 0.5):
        self.interval = interval
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(4)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}/mi"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> DrippingHttp:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._sock.close()
        self._thread.join(5)

    def _serve(self) -> None:
        try:
            conn, _ = self._sock.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(5)
            try:
                conn.recv(65536)
                body = json.dumps({"jsonrpc": "2.0", "result": LIST_REPLY, "id": 1}).encode()
                reply = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                         + str(len(body)).encode() + b"\r\n\r\n" + body)
                for byte in reply:
                    if self._stop.wait(self.interval):
                        return
                    conn.sendall(bytes([byte]))
            except OSError:
                return


def test_timeout_bounds_the_whole_request_against_a_dripping_server() -> None:
    with DrippingHttp(0.5) as server:
        started = time.monotonic()
        result = run("mi", "tls_list", "--mi-url", server.url, "--timeout", "3")
        elapsed = time.monotonic() - started
    assert elapsed < 6, f"--timeout 3 took {elapsed:.1f} s"
    assert result.exit_code != exitcodes.OK
    assert "within 3s" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_http_401_says_credentials_are_needed() -> None:
    with HttpMi(lambda req: b'{"error": "Unauthorized"}', status=401) as mi:
        result = run("mi", "tls_list", "--mi-url", mi.url)
    assert result.exit_code != exitcodes.OK
    assert "HTTP 401" in result.stderr and "credentials" in result.stderr
    assert "malformed" not in result.stderr


def test_http_401_with_credentials_says_they_were_refused() -> None:
    with HttpMi(lambda req: b"", status=401) as mi:
        url = mi.url.replace("http://", "http://admin:s3cret@")
        result = run("mi", "tls_list", "--mi-url", url)
    assert "HTTP 401" in result.stderr and "refused the credentials" in result.stderr
    assert "s3cret" not in result.stderr


def test_100k_deep_json_reply_is_a_one_line_error() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    with HttpMi(lambda req: deep) as mi:
        result = run("mi", "tls_list", "--mi-url", mi.url)
    assert result.exit_code != exitcodes.OK
    assert "nested too deeply" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_reply_over_the_size_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MI_REPLY_MAX_BYTES", 1024 * 1024)
    big = {"Domains": [{"name": "x" * 1000, "type": "TLS_DOMAIN_SRV"}] * 2000}  # ~2 MiB
    with HttpMi(answer({"tls_list": big})) as mi:
        result = run("mi", "tls_list", "--mi-url", mi.url, "--format", "json")
    assert result.exit_code != exitcodes.OK
    assert "larger than the 1 MiB limit" in result.stderr
    assert result.stdout == ""
    with HttpMi(answer({"tls_list": LIST_REPLY})) as mi:  # a reply within the limit still works
        result = run("mi", "tls_list", "--mi-url", mi.url, "--format", "json")
    assert result.exit_code == exitcodes.OK, result.stderr
    assert json.loads(result.stdout) == LIST_REPLY


def test_cli_config_dev_null_empty_and_missing(tmp_path: Path) -> None:
    empty = tmp_path / "empty.cfg"
    empty.write_text("")
    with HttpMi(answer({"tls_list": LIST_REPLY})) as mi:
        for cfg in (os.devnull, str(empty)):  # /dev/null and an empty file: an empty config
            result = run("mi", "tls_list", "--cli-config", cfg, "--mi-url", mi.url, "--format", "json")
            assert result.exit_code == exitcodes.OK, result.stderr
            assert json.loads(result.stdout) == LIST_REPLY
    result = run("mi", "tls_list", "--cli-config", str(tmp_path / "nope.cfg"))
    assert result.exit_code != exitcodes.OK
    assert "not found" in result.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
def test_cli_config_fifo_is_refused_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "cli.cfg"
    os.mkfifo(fifo)
    started = time.monotonic()
    result = run("mi", "tls_list", "--cli-config", str(fifo))
    assert time.monotonic() - started < 10
    assert result.exit_code != exitcodes.OK
    assert "FIFO" in result.stderr and "not found" not in result.stderr


def test_cli_config_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.cfg"
    big.write_bytes(b"[default]\n" + b"# " + b"x" * limits.SETTINGS_MAX_BYTES + b"\n")
    result = run("mi", "tls_list", "--cli-config", str(big))
    assert result.exit_code != exitcodes.OK
    assert "limit" in result.stderr


def test_timeout_that_is_not_a_number_is_refused() -> None:
    result = run("mi", "tls_list", "--mi-url", "http://127.0.0.1:1/mi", "--timeout", "nan")
    assert result.exit_code == exitcodes.USAGE
    assert "--timeout must be a positive number of seconds" in result.stderr


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_deep_but_parseable_tls_list_is_refused_by_shape(fmt: str) -> None:
    depth = 600  # json.loads takes it; rendering it would recurse past Python's limit
    nested = json.loads("[" * depth + "]" * depth)
    reply = {"Domains": [{"name": "x", "type": "TLS_DOMAIN_SRV", "IP ADDRESS FILTERS": nested}]}
    with HttpMi(answer({"tls_list": reply})) as mi:
        result = run("mi", "tls_list", "--mi-url", mi.url, "--format", fmt)
    assert result.exit_code == exitcodes.PROBLEMS
    assert "not what OpenSIPS's tls_list returns" in result.stderr and "nested" in result.stderr
    assert result.stdout == ""
