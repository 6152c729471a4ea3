"""Hostile-input fixes in the MI client, the MI/probe URLs and hosts, the seconds options,
nodes files and settings files:

* a JSON-RPC reply holding an integer of more than 4,300 digits (Python's int-from-string
  limit) is a "malformed reply" naming the endpoint (exit 1; ``diff``: the node is
  unreachable), over mi_http and mi_fifo;
* an MI URL with a non-ASCII path is sent percent-encoded; one with bytes that are not
  UTF-8, a control character (CR/LF: header injection) or a host label over 63
  characters is a usage error that names the URL escaped; ``probe --connect`` with such a
  host too;
* every timeout/seconds option refuses nan and inf, naming the option and its range;
* a nodes file's 5,000-digit ``timeout`` and a settings file's impossible date
  (``now: 2025-13-45``) are errors naming the file and the key; a settings file nested
  100,000 deep is named.

Servers are real sockets and FIFOs on this machine; commands run through ``clirun``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from clirun import run, run_proc
from miserver import FifoMi, HttpMi, answer, isolate_mi_settings

from tlsmgm_cli import exitcodes
from tlsmgm_cli.cli.mi_cmd import NODE_UNREACHABLE

HUGE = "9" * 5000  # over Python's 4,300-digit int/str conversion limit
LONG_LABEL = "a" * 64  # DNS labels are at most 63 characters


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_mi_settings(tmp_path, monkeypatch)


def raw_reply(body: str):  # noqa: ANN201 - a miserver Responder
    return lambda request: body.encode()


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


# ---------------------------------------------------------------------------------------
# 1. replies holding numbers Python refuses to convert


@pytest.mark.parametrize("body", [
    '{"jsonrpc": "2.0", "result": {"Domains": []}, "id": ' + HUGE + "}",
    '{"jsonrpc": "2.0", "result": {"Domains": [' + "1" * 100_000 + ']}, "id": 1}',
])
@pytest.mark.parametrize("command", ["tls_list", "tls_reload"])
def test_a_reply_with_a_huge_integer_is_a_malformed_reply(body: str, command: str) -> None:
    with HttpMi(raw_reply(body)) as mi:
        result = run("mi", command, "--mi-url", mi.url)
    assert result.exit_code == exitcodes.PROBLEMS, result.stderr
    line = one_line(result.stderr)
    assert mi.url in line and "malformed reply" in line and "4,300 digits" in line
    assert "set_int_max_str_digits" not in line


def test_diff_marks_a_node_with_a_huge_integer_unreachable(tmp_path: Path) -> None:
    cfg = tmp_path / "opensips.cfg"
    cfg.write_text('loadmodule "tls_openssl.so"\nloadmodule "tls_mgm.so"\n')
    body = '{"jsonrpc": "2.0", "result": {"Domains": []}, "id": ' + HUGE + "}"
    with HttpMi(raw_reply(body)) as bad, HttpMi(answer({"tls_list": {"Domains": []}})) as good:
        single = run("diff", "--no-db", "-c", str(cfg), "--mi-url", bad.url)
        fleet = run("diff", "--no-db", "-c", str(cfg), "--mi-url", f"bad={bad.url}",
                    "--mi-url", f"good={good.url}", "--format", "json")
    assert single.exit_code == NODE_UNREACHABLE
    assert "malformed reply" in one_line(single.stderr)
    assert fleet.exit_code == NODE_UNREACHABLE
    nodes = {n["name"]: n for n in json.loads(fleet.stdout)["nodes"]}
    assert nodes["bad"]["status"] == "unreachable" and "malformed reply" in nodes["bad"]["error"]
    assert nodes["good"]["status"] == "ok"


def test_a_fifo_reply_with_a_huge_integer_is_refused_at_once(tmp_path: Path) -> None:
    body = '{"jsonrpc": "2.0", "result": {"Domains": []}, "id": ' + HUGE + "}"
    with FifoMi(tmp_path, raw_reply(body)) as mi:
        result = run("mi", "tls_list", "--fifo", mi.fifo, "--fifo-reply-dir", mi.reply_dir,
                     "--timeout", "20")
    assert result.exit_code == exitcodes.PROBLEMS
    line = one_line(result.stderr)
    assert "malformed reply" in line and "no answer" not in line


# ---------------------------------------------------------------------------------------
# 2. MI URLs and probe hosts


def test_a_non_ascii_path_is_sent_percent_encoded() -> None:
    with HttpMi(answer({"tls_list": {"Domains": []}})) as server:
        result = run("mi", "tls_list", "--mi-url", server.url.removesuffix("/mi") + "/é?x=ü")
    assert result.exit_code == exitcodes.OK, result.stderr
    assert server.request_lines == ["POST /%C3%A9?x=%C3%BC HTTP/1.1"]


@pytest.mark.parametrize("url, why", [
    (f"http://{LONG_LABEL}.com:8888/mi", "longer than 63"),
    ("http://a..b:8888/mi", "empty label"),
    ("http://127.0.0.1:8888/a\r\nX-Injected: 1", "control character '\\r'"),
    ("http://127.0.0.1:8888/a\tb", "control character '\\t'"),
    ("http://127.0.0.1:8888/a b", "space"),
])
def test_an_unusable_mi_url_is_a_usage_error_naming_it_escaped(url: str, why: str) -> None:
    result = run("mi", "tls_list", "--mi-url", url)
    assert result.exit_code == exitcodes.USAGE, result.stderr
    line = one_line(result.stderr)
    assert "--mi-url" in line and why in line and "not a usable MI URL" in line
    assert "\r" not in result.stderr and "\t" not in result.stderr


def test_a_crlf_url_never_reaches_the_server() -> None:
    with HttpMi(answer({"tls_list": {"Domains": []}})) as server:
        result = run("mi", "tls_list", "--mi-url", f"{server.url}\r\nX-Injected: 1")
    assert result.exit_code == exitcodes.USAGE
    assert server.request_lines == [] and server.requests == []


def test_a_url_with_bytes_that_are_not_utf8_is_a_usage_error() -> None:
    proc = run_proc([os.fsdecode(b"mi"), "tls_list", "--mi-url", os.fsdecode(b"http://127.0.0.1:8888/\xff")],
                    env={"HOME": os.environ["HOME"]})
    assert proc.returncode == exitcodes.USAGE, proc.stderr
    line = one_line(proc.stderr)
    assert "not UTF-8" in line and "--mi-url" in line


def test_a_nodes_file_url_with_crlf_is_refused(tmp_path: Path) -> None:
    nodes = tmp_path / "nodes.yaml"
    nodes.write_text('- name: a\n  url: "http://127.0.0.1:8888/mi\\r\\nX: 1"\n')
    result = run("mi", "tls_list", "--nodes", str(nodes))
    assert result.exit_code == exitcodes.USAGE
    line = one_line(result.stderr)
    assert str(nodes) in line and "control character" in line
    assert "\r" not in result.stderr


def test_probe_connect_to_a_host_with_a_64_character_label_is_a_usage_error(tmp_path: Path) -> None:
    cfg = tmp_path / "empty.cfg"
    cfg.write_text("")
    result = run("probe", "--no-db", "-c", str(cfg), "--socket", "127.0.0.1:5061",
                 "--connect", f"{LONG_LABEL}.com:5061")
    assert result.exit_code == exitcodes.USAGE, result.output
    assert "--connect" in result.stderr and "not a valid host name" in result.stderr


def test_handshake_once_never_raises_for_an_unencodable_host() -> None:
    from tlsmgm_cli.core.tls.probe import LIVE_UNREACHABLE, client_context, handshake_once

    live = handshake_once(client_context(), f"{LONG_LABEL}.com", 5061, None, 1.0)
    assert live.outcome == LIVE_UNREACHABLE and "not a valid host name" in (live.error or "")


# ---------------------------------------------------------------------------------------
# 3. seconds options: finite, positive, bounded


@pytest.mark.parametrize("args, option", [
    (["inspect", "127.0.0.1:5061", "--timeout", "nan"], "--timeout"),
    (["inspect", "127.0.0.1:5061", "--timeout", "inf"], "--timeout"),
    (["probe", "--no-db", "-c", os.devnull, "--handshake-timeout", "nan"], "--handshake-timeout"),
    (["probe", "--no-db", "-c", os.devnull, "--timeout", "inf"], "--timeout"),
    (["probe", "--no-db", "-c", os.devnull, "--warn-days", "nan"], "--warn-days"),
    (["handshake", "127.0.0.1:5061", "--timeout", "nan"], "--timeout"),
    (["handshake", "127.0.0.1:5061", "--timeout", "inf"], "--timeout"),
    (["handshake", "127.0.0.1:5061", "--timeout", "1e300"], "--timeout"),
    (["mi", "tls_list", "--timeout", "nan"], "--timeout"),
    (["mi", "tls_reload", "--timeout", "-inf"], "--timeout"),
    (["diff", "--timeout", "nan"], "--timeout"),
])
def test_nan_and_inf_seconds_are_usage_errors_naming_the_option(args: list[str], option: str) -> None:
    result = run(*args)
    assert result.exit_code == exitcodes.USAGE, result.output
    assert f"'{option}'" in result.stderr
    assert "Invalid value for TARGET" not in result.stderr  # not "DNS timeout nan"
    assert "x<=" in result.stderr or "x>=" in result.stderr  # the range is named


def test_a_finite_timeout_is_still_accepted() -> None:
    with HttpMi(answer({"tls_list": {"Domains": []}})) as mi:
        result = run("mi", "tls_list", "--mi-url", mi.url, "--timeout", "2.5")
    assert result.exit_code == exitcodes.OK, result.stderr


# ---------------------------------------------------------------------------------------
# 4. nodes files


@pytest.mark.parametrize("value", [HUGE, "0x" + "f" * 5000, "2025-13-45"])
def test_a_nodes_file_value_python_cannot_hold_names_the_file_and_key(tmp_path: Path, value: str) -> None:
    nodes = tmp_path / "nodes.yaml"
    nodes.write_text(f"- name: sip1\n  url: http://127.0.0.1:8888/mi\n  timeout: {value}\n")
    result = run("mi", "tls_list", "--nodes", str(nodes))
    assert result.exit_code == exitcodes.USAGE, result.stderr
    line = one_line(result.stderr)
    assert str(nodes) in line and "timeout:" in line
    assert len(line) < 400


# ---------------------------------------------------------------------------------------
# 5. settings files


@pytest.mark.parametrize("text, key", [
    ("now: 2025-13-45\n", "now"),
    ("now: 2025-02-30 10:00:00\n", "now"),
    (f"warn-days: {HUGE}\n", "warn-days"),
    (f"select: [TLS1, {HUGE}]\n", "select"),
])
def test_a_settings_value_python_cannot_hold_names_the_file_and_key(tmp_path: Path, text: str,
                                                                   key: str) -> None:
    settings = tmp_path / "settings.yaml"
    settings.write_text(text)
    result = run("check", "--no-db", "-c", os.devnull, "--settings", str(settings))
    assert result.exit_code == exitcodes.USAGE, result.output
    line = one_line(result.stderr.split("Error: ", 1)[-1])
    assert line.startswith(f"settings file {settings}: {key}:"), line
    assert len(line) < 400


def test_a_found_settings_file_with_a_bad_date_is_named_too(tmp_path: Path) -> None:
    cfg = tmp_path / "opensips.cfg"
    cfg.write_text("")
    (tmp_path / ".tlsmgm.yaml").write_text("now: 2025-02-30 10:00:00\n")
    result = run("check", "--no-db", "-c", str(cfg))
    assert result.exit_code == exitcodes.USAGE
    assert f"settings file {tmp_path / '.tlsmgm.yaml'}: now:" in result.stderr


def test_a_valid_date_in_a_settings_file_still_works(tmp_path: Path) -> None:
    cfg = tmp_path / "opensips.cfg"
    cfg.write_text("")
    (tmp_path / ".tlsmgm.yaml").write_text("now: 2025-02-28 10:00:00\nformat: json\n")
    result = run("check", "--no-db", "-c", str(cfg))
    assert result.exit_code == exitcodes.OK, result.stderr


def test_a_settings_file_nested_100k_deep_is_named(tmp_path: Path) -> None:
    settings = tmp_path / "deep.yaml"
    settings.write_text("[" * 100_000 + "\n")
    proc = run_proc(["check", "--no-db", "-c", os.devnull, "--settings", str(settings)])
    assert proc.returncode == exitcodes.USAGE, proc.stderr
    assert f"settings file {settings}: cannot read: nested too deeply" in proc.stderr
