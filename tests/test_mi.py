"""`tlsmgm mi` and core.mi.client against a JSON-RPC HTTP server and an mi_fifo responder
written here, answering with the exact tls_list reply shape of behaviour §7.1."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time

import pytest
from clirun import run
from hypothesis import given
from hypothesis import strategies as st
from miserver import SPEC_REPLY, FifoMi, HttpMi, answer, free_port, isolate_mi_settings, rpc_error

from tlsmgm_cli import exitcodes
from tlsmgm_cli.core.mi.client import (
    DEFAULT_URL,
    MiCommandError,
    MiEndpoint,
    MiError,
    call,
    parse_reply,
    resolve_endpoint,
)

SPEC_ANSWER = answer({"tls_list": SPEC_REPLY, "tls_reload": "OK"})


@pytest.fixture(autouse=True)
def no_opensips_cli_cfg(tmp_path, monkeypatch):
    return isolate_mi_settings(tmp_path, monkeypatch)



# ---- HTTP ---------------------------------------------------------------------------

def test_http_tls_list_json_is_the_reply_verbatim():
    with HttpMi(SPEC_ANSWER) as mi:
        result = run("mi", "tls_list", "--mi-url", mi.url, "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == SPEC_REPLY
    # key order preserved as OpenSIPS sent it
    assert list(json.loads(result.stdout)["Domains"][0]) == list(SPEC_REPLY["Domains"][0])
    [request] = mi.requests
    assert request["jsonrpc"] == "2.0" and request["method"] == "tls_list" and "id" in request


def test_http_tls_list_text_table():
    with HttpMi(SPEC_ANSWER) as mi:
        result = run("mi", "tls_list", "--mi-url", mi.url)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    row = next(line for line in lines if line.startswith("db1"))
    assert "server" in row and "db" in row and "(DB)" in row
    row = next(line for line in lines if line.startswith("dom6"))
    assert "client" in row and "script" in row and "1.2.3.4:6677" in row and "/certs/gw/cert.pem" in row


def test_http_tls_reload_ok_warns_about_script_domains():
    with HttpMi(SPEC_ANSWER) as mi:
        result = run("mi", "tls_reload", "--mi-url", mi.url)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "OK"
    assert "script-defined (modparam) domains" in result.stderr and "restart" in result.stderr
    assert mi.requests[0]["method"] == "tls_reload"


def test_quiet_drops_the_reload_note():
    with HttpMi(SPEC_ANSWER) as mi:
        result = run("-q", "mi", "tls_reload", "--mi-url", mi.url)
    assert result.exit_code == 0 and result.stderr == ""


def test_tls_reload_db_url_not_set_is_exit_1_with_hint():
    respond = answer({"tls_reload": rpc_error(500, "DB url not set")})
    with HttpMi(respond) as mi:
        result = run("mi", "tls_reload", "--mi-url", mi.url)
    assert result.exit_code == exitcodes.PROBLEMS
    assert f"tlsmgm: error: {mi.url}: tls_reload failed: 500: DB url not set" in result.stderr
    assert "restart OpenSIPS" in result.stderr and "Traceback" not in result.output


def test_jsonrpc_error_object_with_http_error_status_is_reported():
    respond = answer({"tls_list": rpc_error(-32601, "Method not found")})
    with HttpMi(respond, status=500) as mi:
        result = run("mi", "tls_list", "--mi-url", mi.url)
    assert result.exit_code == exitcodes.PROBLEMS
    assert "tls_list failed: -32601: Method not found" in result.stderr


def test_http_status_without_json_body():
    with HttpMi(lambda req: b"<html>nope</html>", status=404) as mi:
        result = run("mi", "tls_list", "--mi-url", mi.url)
    assert result.exit_code == exitcodes.PROBLEMS and "HTTP 404" in result.stderr


@pytest.mark.parametrize("body, needle", [
    (b"Internal Server Error", "is not JSON"),
    (b"", "empty reply"),
    (b"[1, 2]", "not a JSON-RPC response"),
    (b'{"jsonrpc": "2.0", "id": 1}', "has no result"),
    (b'{"jsonrpc": "2.0", "error": "boom", "id": 1}', "malformed JSON-RPC error"),
])
def test_http_garbage_is_exit_1(body, needle):
    with HttpMi(lambda req: body) as mi:
        result = run("mi", "tls_list", "--mi-url", mi.url)
    assert result.exit_code == exitcodes.PROBLEMS
    assert needle in result.stderr and mi.url in result.stderr and "Traceback" not in result.output


def test_reply_with_another_id_is_refused():
    def respond(req):
        return json.dumps({"jsonrpc": "2.0", "result": SPEC_REPLY, "id": "not-" + str(req["id"])}).encode()
    with HttpMi(respond) as mi:
        result = run("mi", "tls_list", "--mi-url", mi.url)
    assert result.exit_code == exitcodes.PROBLEMS and "answers request id" in result.stderr


def test_result_that_is_not_a_tls_list_reply_is_exit_1():
    with HttpMi(answer({"tls_list": {"Domains": [{"name": "x", "type": "TLS_DOMAIN_FOO"}]}})) as mi:
        result = run("mi", "tls_list", "--mi-url", mi.url)
    assert result.exit_code == exitcodes.PROBLEMS
    assert "not what OpenSIPS's tls_list returns" in result.stderr and "TLS_DOMAIN_FOO" in result.stderr


def test_absent_http_server_is_exit_1_quickly():
    url = f"http://127.0.0.1:{free_port()}/mi"
    start = time.monotonic()
    result = run("mi", "tls_list", "--mi-url", url, "--timeout", "2")
    assert result.exit_code == exitcodes.PROBLEMS
    assert f"{url}: cannot reach OpenSIPS's mi_http" in result.stderr
    assert time.monotonic() - start < 2


def test_silent_http_server_times_out():
    with HttpMi(SPEC_ANSWER, delay=3) as mi:
        start = time.monotonic()
        result = run("mi", "tls_list", "--mi-url", mi.url, "--timeout", "0.5")
        elapsed = time.monotonic() - start
    assert result.exit_code == exitcodes.PROBLEMS
    assert f"{mi.url}: no answer within 0.5s" in result.stderr
    assert elapsed < 2.5


def test_malformed_url_is_exit_2():
    result = run("mi", "tls_list", "--mi-url", "not a url")
    assert result.exit_code == exitcodes.USAGE and "not a usable MI URL" in result.stderr


def test_non_positive_timeout_is_a_usage_error():
    result = run("mi", "tls_list", "--mi-url", DEFAULT_URL, "--timeout", "0")
    assert result.exit_code == exitcodes.USAGE and "--timeout" in result.stderr


# ---- FIFO ---------------------------------------------------------------------------

def test_fifo_tls_list_framing_and_cleanup(tmp_path):
    modes = []

    def respond(request):
        modes.extend(stat.S_IMODE(os.stat(os.path.join(mi.reply_dir, n)).st_mode)
                     for n in os.listdir(mi.reply_dir))
        return SPEC_ANSWER(request)

    with FifoMi(tmp_path, respond) as mi:
        result = run("mi", "tls_list", "--fifo", mi.fifo, "--fifo-reply-dir", mi.reply_dir,
                     "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == SPEC_REPLY
    assert mi.rejected == []
    [frame] = mi.frames
    name, _, body = frame[1:].partition(b":")
    assert frame.startswith(b":tlsmgm_reply_") and b"/" not in name and b"." not in name
    assert json.loads(body)["method"] == "tls_list"
    assert modes == [0o600]  # our own user runs the "server": nobody else may touch it
    assert os.listdir(mi.reply_dir) == []  # the reply FIFO is removed


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give the reply FIFO away")
def test_fifo_of_another_user_gets_a_reply_fifo_it_owns_0600(tmp_path):
    """Root talking to an OpenSIPS that runs as another user: the reply FIFO is chowned to
    that user and stays 0600 (not 0622, which would let any local user write into it)."""
    owners = []

    def respond(request):
        owners.extend((info.st_uid, stat.S_IMODE(info.st_mode))
                      for info in (os.stat(os.path.join(mi.reply_dir, n)) for n in os.listdir(mi.reply_dir)))
        return SPEC_ANSWER(request)

    with FifoMi(tmp_path, respond) as mi:
        os.chown(mi.fifo, 65534, -1)  # "opensips" = nobody
        result = run("mi", "tls_list", "--fifo", mi.fifo, "--fifo-reply-dir", mi.reply_dir,
                     "--format", "json")
    assert result.exit_code == 0, result.output
    assert owners == [(65534, 0o600)]
    assert os.listdir(mi.reply_dir) == []


def test_fifo_tls_reload(tmp_path):
    with FifoMi(tmp_path, SPEC_ANSWER) as mi:
        result = run("mi", "tls_reload", "--fifo", mi.fifo, "--fifo-reply-dir", mi.reply_dir)
    assert result.exit_code == 0 and result.stdout.strip() == "OK"


def test_fifo_large_reply(tmp_path):
    big = {"Domains": [dict(SPEC_REPLY["Domains"][0], name=f"d{i}") for i in range(2000)]}
    with FifoMi(tmp_path, answer({"tls_list": big})) as mi:
        endpoint = MiEndpoint("fifo", fifo=mi.fifo, reply_dir=mi.reply_dir, timeout=5)
        assert call(endpoint, "tls_list") == big


def test_fifo_silent_server_times_out_and_cleans_up(tmp_path):
    with FifoMi(tmp_path, lambda req: None) as mi:
        start = time.monotonic()
        result = run("mi", "tls_list", "--fifo", mi.fifo, "--fifo-reply-dir", mi.reply_dir,
                     "--timeout", "0.5")
        elapsed = time.monotonic() - start
        leftovers = os.listdir(mi.reply_dir)
    assert result.exit_code == exitcodes.PROBLEMS
    assert f"FIFO {mi.fifo}: no answer within 0.5s" in result.stderr and mi.reply_dir in result.stderr
    assert elapsed < 2.5 and leftovers == []


def test_fifo_garbage_reply(tmp_path):
    with FifoMi(tmp_path, lambda req: b"500 command 'tls_list' not available\n") as mi:
        result = run("mi", "tls_list", "--fifo", mi.fifo, "--fifo-reply-dir", mi.reply_dir)
    assert result.exit_code == exitcodes.PROBLEMS and "is not JSON" in result.stderr


def test_absent_fifo_is_exit_1(tmp_path):
    result = run("mi", "tls_list", "--fifo", str(tmp_path / "nofifo"), "--timeout", "1")
    assert result.exit_code == exitcodes.PROBLEMS
    assert "No such file or directory; is OpenSIPS running with mi_fifo loaded?" in result.stderr


def test_fifo_nobody_reads_is_exit_1(tmp_path):
    fifo = tmp_path / "stale_fifo"
    os.mkfifo(fifo)
    start = time.monotonic()
    result = run("mi", "tls_list", "--fifo", str(fifo), "--fifo-reply-dir", str(tmp_path))
    assert result.exit_code == exitcodes.PROBLEMS and "nobody is reading it" in result.stderr
    assert time.monotonic() - start < 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "stale_fifo"]


def test_regular_file_as_fifo_is_exit_1(tmp_path):
    path = tmp_path / "plain"
    path.write_text("x")
    result = run("mi", "tls_list", "--fifo", str(path))
    assert result.exit_code == exitcodes.PROBLEMS and "not a FIFO" in result.stderr


def test_unwritable_reply_dir_is_exit_1(tmp_path):
    with FifoMi(tmp_path, SPEC_ANSWER) as mi:
        result = run("mi", "tls_list", "--fifo", mi.fifo, "--fifo-reply-dir", str(tmp_path / "absent"))
    assert result.exit_code == exitcodes.PROBLEMS and "cannot create the reply FIFO" in result.stderr


# ---- where to connect -----------------------------------------------------------------

def test_opensips_cli_cfg_in_home_http(no_opensips_cli_cfg):
    with HttpMi(SPEC_ANSWER) as mi:
        (no_opensips_cli_cfg / ".opensips-cli.cfg").write_text(
            f"[default]\ncommunication_type: http\nurl: {mi.url}\n")
        result = run("mi", "tls_list", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == SPEC_REPLY


def test_opensips_cli_cfg_fifo_keys(tmp_path):
    with FifoMi(tmp_path, SPEC_ANSWER) as mi:
        cfg = tmp_path / "cli.cfg"
        cfg.write_text(f"[default]\ncommunication_type = fifo\nfifo_file = {mi.fifo}\n"
                       f"fifo_reply_dir = {mi.reply_dir}\n")
        result = run("mi", "tls_list", "--cli-config", str(cfg), "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == SPEC_REPLY


def test_explicit_url_beats_cfg(tmp_path):
    cfg = tmp_path / "cli.cfg"
    cfg.write_text("[default]\ncommunication_type = fifo\nfifo_file = /nonexistent/fifo\n")
    with HttpMi(SPEC_ANSWER) as mi:
        endpoint = resolve_endpoint(mi_url=mi.url, cli_cfg=str(cfg))
    assert endpoint.transport == "http" and endpoint.url == mi.url and endpoint.origin == "--mi-url"


def test_cfg_reply_dir_used_with_explicit_fifo(tmp_path):
    cfg = tmp_path / "cli.cfg"
    cfg.write_text("[default]\nfifo_reply_dir = /var/tmp/replies\n")
    endpoint = resolve_endpoint(fifo="/x/fifo", cli_cfg=str(cfg))
    assert (endpoint.transport, endpoint.fifo, endpoint.reply_dir) == ("fifo", "/x/fifo", "/var/tmp/replies")


def test_env_var_selects_url(monkeypatch):
    with HttpMi(SPEC_ANSWER) as mi:
        monkeypatch.setenv("TLSMGM_MI_URL", mi.url)
        result = run("mi", "tls_list")
    assert result.exit_code == 0 and "dom6" in result.stdout


def test_defaults_without_cfg():
    endpoint = resolve_endpoint()
    if os.path.exists("/run/opensips/opensips_fifo"):
        pytest.skip("this machine has an OpenSIPS FIFO")
    assert (endpoint.transport, endpoint.url, endpoint.timeout) == ("http", "http://127.0.0.1:8888/mi", 5.0)


def test_unsupported_communication_type(tmp_path):
    cfg = tmp_path / "cli.cfg"
    cfg.write_text("[default]\ncommunication_type: datagram\n")
    result = run("mi", "tls_list", "--cli-config", str(cfg))
    assert result.exit_code == exitcodes.PROBLEMS and "communication_type 'datagram' is not supported" in result.stderr


def test_missing_cli_config_file(tmp_path):
    result = run("mi", "tls_list", "--cli-config", str(tmp_path / "nope.cfg"))
    assert result.exit_code == exitcodes.USAGE and "opensips-cli config file not found" in result.stderr


def test_url_and_fifo_together_is_exit_2():
    result = run("mi", "tls_list", "--mi-url", DEFAULT_URL, "--fifo", "/tmp/f")
    assert result.exit_code == exitcodes.USAGE and "either --mi-url or --fifo" in result.stderr


def test_subprocess_run_against_http_server():
    with HttpMi(SPEC_ANSWER) as mi:
        out = subprocess.run([sys.executable, "-m", "tlsmgm_cli", "mi", "tls_list", "--mi-url", mi.url,
                              "-f", "json"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == SPEC_REPLY


# ---- the reply parser -----------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12)


@given(json_values, st.integers() | st.text())
def test_parse_reply_returns_any_result(result, request_id):
    raw = json.dumps({"jsonrpc": "2.0", "result": result, "id": request_id}).encode()
    assert parse_reply(raw, endpoint="e", method="m", request_id=request_id) == result


@given(st.binary(max_size=200))
def test_parse_reply_never_crashes(raw):
    try:
        parse_reply(raw, endpoint="e", method="m", request_id=1)
    except MiError:
        pass


def test_parse_reply_error_object():
    raw = b'{"jsonrpc":"2.0","error":{"code":500,"message":"Failed to reload"},"id":7}'
    with pytest.raises(MiCommandError) as info:
        parse_reply(raw, endpoint="e", method="tls_reload", request_id=7)
    assert (info.value.code, info.value.rpc_message) == (500, "Failed to reload")
    assert info.value.exit_code == exitcodes.PROBLEMS
