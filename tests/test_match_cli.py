"""`tlsmgm match`: options, the JSON contract, exit codes, --explain, --batch, bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import jsonschema
import pytest
from cfgtext import mp, write_cfg
from click.testing import Result
from clirun import run

from tlsmgm_cli.core.db.backend import connect
from tlsmgm_cli.core.db.rows import TlsRow, insert_rows


def srv(name: str, addr: str | None = None, sip: str | None = None) -> str:
    out = mp("server_domain", name)
    if addr is not None:
        out += mp("match_ip_address", f"[{name}]{addr}")
    if sip is not None:
        out += mp("match_sip_domain", f"[{name}]{sip}")
    return out


BODY = (
    "socket=tls:10.0.0.10:5061\n"                       # line 3
    "socket=tls:10.0.0.10:5062\n"                       # 4
    "listen=tls:eth0:5063\n"                            # 5
    + srv("dom1", "10.0.0.10:5061", "atlanta.com")      # 6-8
    + srv("dom2", "10.0.0.10:5061", "biloxi.com")       # 9-11
    + srv("dom3", "10.0.0.10:5061", "none")             # 12-14
    + srv("wide", "*", "*")                             # 15-17
    + mp("client_domain", "cli4")                       # 18
    + mp("match_sip_domain", "[cli4]atlanta.com")       # 19
    + mp("client_sip_domain_avp", "sipdom")
    + mp("client_tls_domain_avp", "tlsdom")
)

RESULT_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["results"],
    "properties": {"results": {"type": "array", "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["side", "socket", "sni", "sip_domain", "tls_domain", "domain", "outcome",
                     "initial_domain", "rank", "pattern", "file", "line"],
        "properties": {
            "side": {"enum": ["server", "client"]},
            "socket": {"type": ["string", "null"]},
            "sni": {"type": ["string", "null"]},
            "sip_domain": {"type": ["string", "null"]},
            "tls_domain": {"type": ["string", "null"]},
            "domain": {"type": ["string", "null"]},
            "outcome": {"enum": ["selected", "rejected", "dropped"]},
            "initial_domain": {"type": ["string", "null"]},
            "rank": {"enum": ["exact", "wildcard", "any", None]},
            "pattern": {"type": ["string", "null"]},
            "file": {"type": ["string", "null"]},
            "line": {"type": ["integer", "null"]},
        }}}},
}


@pytest.fixture
def cfg(tmp_path) -> str:
    return str(write_cfg(tmp_path, BODY))


def run_match(*args: str, input: str | None = None) -> Result:
    """``tlsmgm match ARGS`` (the shared clirun.run)."""
    return run("match", *args, input=input)


def results(res) -> list[dict]:
    data = json.loads(res.stdout)
    jsonschema.validate(data, RESULT_SCHEMA)
    return data["results"]


def test_server_json_contract(cfg):
    res = run_match("-c", cfg, "--socket", "10.0.0.10:5061", "--sni", "atlanta.com", "--format", "json")
    assert res.exit_code == 0, res.output
    assert results(res) == [{
        "side": "server", "socket": "10.0.0.10:5061", "sni": "atlanta.com", "sip_domain": None,
        "tls_domain": None, "domain": "dom1", "outcome": "selected", "initial_domain": "dom3",
        "rank": "exact", "pattern": "atlanta.com", "file": cfg, "line": 6}]


def test_rejected_sni_exits_1(cfg):
    res = run_match("-c", cfg, "--socket", "10.0.0.10:5061", "--sni", "www.atlanta.com")
    assert res.exit_code == 1
    assert "rejected: fatal alert 112 unrecognized_name" in res.output


def test_no_sni_text_line(cfg):
    res = run_match("-c", cfg, "--socket", "10.0.0.10:5061")
    assert res.exit_code == 0
    assert res.stdout.startswith("server 10.0.0.10:5061  no SNI  ->  dom3  (exact 'none'")


def test_every_listener_without_socket(cfg):
    res = run(*["match", "-c", cfg, "--format", "json"])
    rows = results(res)
    assert [(r["socket"], r["domain"], r["outcome"]) for r in rows] == [
        ("10.0.0.10:5061", "dom3", "selected"), ("10.0.0.10:5062", "wide", "selected")]
    assert "skipping 'tls:eth0:5063'" in res.stderr and "resolves to" in res.stderr


def test_config_without_tls_listener_is_usage_error(tmp_path):
    path = write_cfg(tmp_path, srv("a"))
    res = run_match("-c", str(path))
    assert res.exit_code == 2
    assert "give --socket IP:PORT" in res.output


def test_dropped_listener(tmp_path):
    path = write_cfg(tmp_path, srv("a", "10.0.0.1:5061", "*"))
    res = run_match("-c", str(path), "--socket", "10.0.0.1:5999", "--format", "json")
    assert res.exit_code == 1
    assert results(res)[0]["outcome"] == "dropped"


def test_client_side(cfg):
    res = run_match("-c", cfg, "--client", "--dest", "5.6.7.8:5061", "--sip-domain", "ATLANTA.com",
              "--format", "json")
    assert res.exit_code == 0
    row = results(res)[0]
    assert (row["side"], row["domain"], row["rank"], row["socket"]) == ("client", "cli4", "exact", "5.6.7.8:5061")
    res = run_match("-c", cfg, "--client", "--dest", "5.6.7.8:5061")
    assert res.exit_code == 1 and "no TLS client domain found" in res.output


def test_unknown_tls_domain_is_no_domain_exit_1(cfg):
    res = run_match("-c", cfg, "--client", "--dest", "5.6.7.8:5061", "--tls-domain", "CLI4")
    assert res.exit_code == 1
    assert "no TLS client domain found" in res.output
    assert "case-sensitive" in res.output and "[cli4]" in res.output


def test_forced_tls_domain_without_dest(cfg):
    res = run_match("-c", cfg, "--client", "--tls-domain", "cli4", "--format", "json")
    assert res.exit_code == 0
    assert results(res)[0]["domain"] == "cli4"


@pytest.mark.parametrize("socket,needle", [
    ("10.0.0.10", "has no port"),
    ("10.0.0.10:99999", "is not a number from 1 to 65535"),
    ("::1:5061", "write IPv6 addresses in brackets"),
    ("2001:db8::1", "write IPv6 addresses in brackets"),
    ("sip.example.com:5061", "is not an IP address"),
])
def test_malformed_socket_is_usage_error(cfg, socket, needle):
    res = run_match("-c", cfg, "--socket", socket)
    assert res.exit_code == 2
    assert needle in res.output


def test_ipv6_socket_in_brackets(tmp_path):
    path = write_cfg(tmp_path, srv("v6", "::1:5061", "*"))
    res = run_match("-c", str(path), "--socket", "[::1]:5061", "--format", "json")
    assert res.exit_code == 0
    assert results(res)[0]["socket"] == "[::1]:5061"


@pytest.mark.parametrize("args", [
    ["--client", "--sni", "x", "--dest", "1.2.3.4:5061"],
    ["--dest", "1.2.3.4:5061"],
    ["--client"],
    ["--batch", "-", "--socket", "1.2.3.4:5061"],
])
def test_option_conflicts_are_usage_errors(cfg, args):
    assert run_match("-c", cfg, *args).exit_code == 2


def test_config_errors_exit_2_with_file_line(tmp_path):
    body = srv("big", "10.0.0.1:5061", ", ".join(f"h{i}.x" for i in range(65)))
    path = write_cfg(tmp_path, "socket=tls:10.0.0.1:5061\n" + body)
    res = run_match("-c", str(path), "--socket", "10.0.0.1:5061")
    assert res.exit_code == 2
    assert f"{path}:6: error: Too many domain filters per address" in res.stderr


def test_explain_text_lists_candidates_and_hidden_domains(cfg):
    res = run_match("-c", cfg, "--socket", "10.0.0.10:5061", "--sni", "biloxi.com", "--explain")
    assert res.exit_code == 0
    out = res.output
    assert "rule: SNI 'biloxi.com' matches exact pattern 'biloxi.com'" in out
    assert "=>  2. exact    'biloxi.com'" in out
    assert "[wide] '*' (hidden)" in out and f"{cfg}:16" in out


def test_explain_json_adds_rule_notes_and_explain(cfg):
    res = run_match("-c", cfg, "--socket", "10.0.0.10:5061", "--sni", "atlanta.com", "--explain",
              "--format", "json")
    row = json.loads(res.stdout)["results"][0]
    assert row["explain"]["key_used"] == "10.0.0.10:5061"
    assert [c["domain"] for c in row["explain"]["candidates"]] == ["dom3", "dom2", "dom1"]
    assert row["explain"]["unreachable"][0]["reason"] == "hidden"
    assert row["rule"].startswith("SNI 'atlanta.com' matches")


def test_opensips_version_before_368_is_case_sensitive(cfg):
    args = ["-c", cfg, "--socket", "10.0.0.10:5061", "--sni", "ATLANTA.com"]
    assert run_match(*args).exit_code == 0
    assert run_match(*args, "--opensips-version", "3.6.7").exit_code == 1


def test_after_reload_with_sqlite_db(tmp_path, pki):
    url = f"sqlite://{tmp_path / 'tls.db'}"
    with connect(url, create=True) as db:
        db.init_schema()
        insert_rows(db, [TlsRow(id=1, domain="D", type=2, match_ip_address="*",
                                match_sip_domain="*.baz.com",
                                certificate=pki.server.cert_path.read_bytes(),
                                private_key=pki.server.key_path.read_bytes())])
    path = write_cfg(tmp_path, srv("S", "*", "*.com"))
    args = ["-c", str(path), "--db", url, "--socket", "10.0.0.1:5061", "--sni", "x.baz.com",
            "--format", "json"]
    assert results(run_match(*args))[0]["domain"] == "D"
    assert results(run_match(*args, "--after-reload"))[0]["domain"] == "S"


BATCH = "\n".join([
    '{"socket": "10.0.0.10:5061", "sni": "biloxi.com"}',
    'not json',
    '{"client": true, "dest": "5.6.7.8:5061", "sip_domain": "atlanta.com", "tls_domain": null}',
    '',
    '{"socket": "::1:5061"}',
    '{"socket": "10.0.0.10:5061"}',
    '{"socket": "10.0.0.10:5061", "sni": 5}',
    '{"socket": "10.0.0.10:5061", "sni": "biloxi.com"}',
]) + "\n"


def test_batch_in_order_with_error_lines(cfg):
    res = run_match("-c", cfg, "--batch", "-", input=BATCH)
    assert res.exit_code == 1
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert [r.get("domain", r.get("line")) for r in rows] == ["dom2", 2, "cli4", 5, "dom3", 7, "dom2"]
    assert rows[1]["error"].startswith("not JSON")
    assert "brackets" in rows[3]["error"]
    assert rows[5]["error"] == '"sni" must be a string or null'
    for row in (rows[0], rows[2], rows[4], rows[6]):
        jsonschema.validate({"results": [row]}, RESULT_SCHEMA)


def test_batch_all_selected_exits_0_and_json_format(cfg, tmp_path):
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"socket": "10.0.0.10:5061", "sni": "atlanta.com"}\n{"socket": "10.0.0.10:5062"}\n')
    res = run_match("-c", cfg, "--batch", str(queries), "--format", "json")
    assert res.exit_code == 0
    assert [r["domain"] for r in results(res)] == ["dom1", "wide"]


def test_batch_missing_file_is_usage_error(cfg, tmp_path):
    assert run_match("-c", cfg, "--batch", str(tmp_path / "nope.jsonl")).exit_code == 2


def test_batch_lines_equal_single_queries(cfg):
    batch = run_match("-c", cfg, "--batch", "-", input=BATCH).stdout.splitlines()
    single = results(run_match("-c", cfg, "--socket", "10.0.0.10:5061", "--sni", "biloxi.com", "--format", "json"))
    assert json.loads(batch[0]) == single[0]


def test_batch_real_subprocess(cfg):
    proc = subprocess.run([sys.executable, "-m", "tlsmgm_cli", "match", "-c", cfg, "--batch", "-"],
                          input=BATCH.encode(), capture_output=True, check=False)
    assert proc.returncode == 1
    lines = proc.stdout.decode().splitlines()
    assert len(lines) == 7 and json.loads(lines[0])["domain"] == "dom2"


HOSTILE = "\n".join([
    '{"socket": "10.0.0.10:5061", "sni": "\\ud800"}',             # 1: lone surrogate (escape)
    '[' * 60_000,                                                 # 2: nesting too deep
    '{"socket": "10.0.0.10:5061", "sni": "a\\ud83d\\ude00.com"}',  # 3: a valid pair: answered
    '{"\\udfff": 1}',                                             # 4: in a key
    '{"socket": "10.0.0.10:5061", "x": [{"y": "\\udc00"}]}',      # 5: nested
    '{"socket": "10.0.0.10:5061", "sni": "biloxi.com"}',          # 6
]) + "\n"


@pytest.mark.parametrize("fmt", [[], ["--format", "json"], ["--explain"]])
def test_batch_lone_surrogate_and_deep_nesting_are_line_errors(cfg, fmt):
    res = run_match("-c", cfg, "--batch", "-", *fmt, input=HOSTILE)
    assert res.exit_code == 1, res.output
    rows = results_any(res)
    assert [r.get("line") if "error" in r else r["outcome"] for r in rows] == [
        1, 2, "rejected", 4, 5, "selected"]
    assert rows[0]["error"] == "not valid Unicode: lone surrogate \\ud800 (an unpaired \\u escape)"
    assert rows[1]["error"] == "nesting too deep (a query is one flat JSON object)"
    assert rows[2]["sni"] == "a\U0001F600.com"
    assert rows[3]["error"].startswith("not valid Unicode: lone surrogate \\udfff")
    assert rows[4]["error"].startswith("not valid Unicode: lone surrogate \\udc00")


def results_any(res) -> list[dict]:
    """Rows of JSON lines or of a --format json document."""
    if res.stdout.startswith("{\n"):
        return json.loads(res.stdout)["results"]
    return [json.loads(line) for line in res.stdout.splitlines()]


def test_batch_lone_surrogate_text_format(cfg):
    res = run_match("-c", cfg, "--batch", "-", "--format", "text", input=HOSTILE)
    assert res.exit_code == 1
    lines = res.stdout.splitlines()
    assert lines[0] == "line 1: error: not valid Unicode: lone surrogate \\ud800 (an unpaired \\u escape)"
    assert lines[1] == "line 2: error: nesting too deep (a query is one flat JSON object)"


def test_batch_hostile_lines_real_subprocess(cfg):
    proc = subprocess.run([sys.executable, "-m", "tlsmgm_cli", "match", "-c", cfg, "--batch", "-"],
                          input=HOSTILE.encode() + b"\xff\xfe\n", capture_output=True, check=False)
    assert proc.returncode == 1, proc.stderr
    assert b"internal error" not in proc.stderr
    rows = [json.loads(line) for line in proc.stdout.decode("utf-8").splitlines()]
    assert [r.get("error", r.get("domain")) for r in rows][-2:] == ["dom2", "not UTF-8 text"]
    assert len(rows) == 7


def test_batch_json_lines_byte_exact(cfg):
    res = run_match("-c", cfg, "--batch", "-", input='{"socket": "10.0.0.10:5061", "sni": "Bilöxi.com"}\nx\n')
    assert res.stdout_bytes == (
        '{"side": "server", "socket": "10.0.0.10:5061", "sni": "Bilöxi.com", "sip_domain": null, '
        '"tls_domain": null, "domain": null, "outcome": "rejected", "initial_domain": "dom3", '
        '"rank": null, "pattern": null, "file": null, "line": null}\n'
        '{"line": 2, "error": "not JSON: Expecting value: column 1"}\n').encode()
