"""Many nodes (issue 14 part 2): `tlsmgm diff` and `tlsmgm mi tls_list` against several fake
mi_http endpoints started here (one in sync, one drifting, one silent, one answering 401),
nodes files with credentials from the environment or a file, and opensips-cli configs with
several instances."""

from __future__ import annotations

import copy
import json
import os
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import pytest
import yaml
from cfgtext import CONFIG_S_DOMAINS, mp, write_cfg
from clirun import run, run_proc
from hypothesis import given, settings
from hypothesis import strategies as st
from miserver import SPEC_REPLY, FifoMi, HttpMi, SilentMi, answer, free_port, isolate_mi_settings

from tlsmgm_cli import exitcodes
from tlsmgm_cli.core.errors import TlsmgmError
from tlsmgm_cli.core.mi.drift import compare_fleet
from tlsmgm_cli.core.mi.nodes import read_nodes_file, resolve_nodes

CONFIG = CONFIG_S_DOMAINS["dom3"] + CONFIG_S_DOMAINS["dom6"]
LIVE_OK = {"Domains": [SPEC_REPLY["Domains"][0], SPEC_REPLY["Domains"][2]]}
SECRET = "s3cr3t-Pa55-do-not-print"
TIMEOUT = 1.0


def drifting_reply() -> dict:
    """dom3 with another METHOD, plus a domain the config does not have."""
    live = copy.deepcopy(LIVE_OK)
    live["Domains"][1]["METHOD"] = "TLSv1_2-TLSv1_3"
    live["Domains"].append(dict(LIVE_OK["Domains"][1], name="old"))
    return live


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    return isolate_mi_settings(tmp_path, monkeypatch)


@pytest.fixture
def cfg(tmp_path):
    return str(write_cfg(tmp_path, CONFIG))


@pytest.fixture
def fleet():
    """Four endpoints: in sync, drifting, silent (accepts TCP, never answers), 401."""
    with ExitStack() as stack:
        yield {
            "sync": stack.enter_context(HttpMi(answer({"tls_list": LIVE_OK}))),
            "drift": stack.enter_context(HttpMi(answer({"tls_list": drifting_reply()}))),
            "silent": stack.enter_context(SilentMi()),
            "locked": stack.enter_context(HttpMi(answer({"tls_list": LIVE_OK}),
                                                 credentials=("opensips", "right-password"))),
        }


def url_args(fleet, *names, secret_in=()):
    args = []
    for name in names:
        url = fleet[name].url
        if name in secret_in:
            url = url.replace("http://", f"http://opensips:{SECRET}@")
        args += ["--mi-url", f"{name}={url}"]
    return args


def assert_no_secret(*results):
    for r in results:
        out = (r.stdout + r.stderr) if hasattr(r, "stdout") else r
        assert SECRET not in out


# ---- diff: one table, domains x nodes ---------------------------------------------------------

def test_diff_fleet_table_marks_each_node_and_survives_silent_and_401(cfg, fleet):
    start = time.monotonic()
    result = run("diff", "-c", cfg, *url_args(fleet, "sync", "drift", "silent", "locked", secret_in=("locked",)),
                 "--timeout", str(TIMEOUT))
    elapsed = time.monotonic() - start
    assert result.exit_code == exitcodes.USAGE, result.output  # a node did not answer: 2 even though one drifts
    assert elapsed < TIMEOUT + 1.5, elapsed  # the silent node costs one --timeout, concurrently
    lines = result.stdout.splitlines()
    assert lines[0].startswith("drift: 1 of 4 node(s) differ from ") and lines[0].endswith("; 2 unreachable")
    header = lines[1].split()
    assert header == ["domain", "side", "source", "config", "sync", "drift", "silent", "locked"]
    status = next(line for line in lines if line.startswith("(node)")).split()
    assert status[1:] == ["ok", "ok", "unreachable", "unreachable"]
    dom3 = next(line for line in lines if line.startswith("dom3 ")).split(None, 4)
    assert dom3[:4] == ["dom3", "server", "script", "yes"]
    assert dom3[4].split("  ")[0] == "ok" and "changed: METHOD" in dom3[4]
    old = next(line for line in lines if line.startswith("old ")).split()
    assert old == ["old", "server", "script", "-", "-", "extra", "?", "?"]
    assert "  silent: unreachable: no answer within 1s" in result.stdout
    assert "  locked: unreachable: HTTP 401 Unauthorized: the MI endpoint refused the credentials" \
        in result.stdout and "opensips:***@127.0.0.1" in result.stdout
    assert '  drift: changed  server domain [dom3] (script):' in result.stdout
    assert 'METHOD (method): expected "TLSv1", live "TLSv1_2-TLSv1_3"' in result.stdout
    assert "  drift: extra    server domain [old] (script): on the node, not in the config" in result.stdout
    assert "2 of 4 node(s) did not answer: silent, locked" in result.stderr
    assert "a tls_reload would not fix them" in result.stderr
    assert_no_secret(result)


def test_diff_fleet_json_per_node_status_and_per_domain_presence(cfg, fleet):
    result = run("diff", "-c", cfg, *url_args(fleet, "sync", "drift", "silent", "locked", secret_in=("locked",)),
                 "--timeout", str(TIMEOUT), "--format", "json")
    assert result.exit_code == exitcodes.USAGE
    doc = json.loads(result.stdout)
    assert (doc["in_sync"], doc["drift"], doc["unreachable"]) == (False, True, ["silent", "locked"])
    nodes = {n["name"]: n for n in doc["nodes"]}
    assert [n["name"] for n in doc["nodes"]] == ["sync", "drift", "silent", "locked"]
    assert (nodes["sync"]["status"], nodes["sync"]["drift"]) == ("ok", False)
    assert (nodes["drift"]["status"], nodes["drift"]["drift"], nodes["drift"]["live_domains"]) == ("ok", True, 3)
    assert nodes["silent"]["status"] == "unreachable" and "no answer within 1s" in nodes["silent"]["error"]
    assert nodes["locked"]["error"].startswith("HTTP 401")
    assert nodes["locked"]["url"] == fleet["locked"].url.replace("http://", "http://opensips:***@")
    rows = {(d["name"], d["type"]): d for d in doc["domains"]}
    assert list(rows) == [("dom6", "TLS_DOMAIN_CLI"), ("dom3", "TLS_DOMAIN_SRV"), ("old", "TLS_DOMAIN_SRV")]
    states = {k: {n: c["state"] for n, c in d["nodes"].items()} for k, d in rows.items()}
    assert states[("dom6", "TLS_DOMAIN_CLI")] == {"sync": "ok", "drift": "ok", "silent": "unknown", "locked": "unknown"}
    assert states[("dom3", "TLS_DOMAIN_SRV")]["drift"] == "changed"
    assert states[("old", "TLS_DOMAIN_SRV")] == {"sync": "absent", "drift": "extra", "silent": "unknown",
                                                "locked": "unknown"}
    assert rows[("old", "TLS_DOMAIN_SRV")]["in_config"] is False
    [change] = rows[("dom3", "TLS_DOMAIN_SRV")]["nodes"]["drift"]["changes"]
    assert (change["key"], change["expected"], change["live"]) == ("METHOD", "TLSv1", "TLSv1_2-TLSv1_3")
    assert_no_secret(result)


def test_diff_fleet_all_in_sync_exit_0(cfg, fleet):
    result = run("diff", "-c", cfg, *url_args(fleet, "sync"), "--mi-url", f"again={fleet['sync'].url}")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("in sync: all 2 node(s) hold the 2 TLS domain(s) ")
    assert result.stderr == ""


def test_diff_fleet_drift_only_exit_1(cfg, fleet):
    result = run("diff", "-c", cfg, *url_args(fleet, "sync", "drift"), "--format", "json")
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    assert (doc["in_sync"], doc["drift"], doc["unreachable"]) == (False, True, [])


def test_diff_fleet_default_names_are_host_and_port(cfg, fleet):
    result = run("diff", "-c", cfg, "--mi-url", fleet["sync"].url, "--mi-url", fleet["drift"].url,
                 "--format", "json")
    assert result.exit_code == 1
    port = fleet["sync"].url.split(":")[2].split("/")[0]
    assert doc_names(result) == [f"127.0.0.1:{port}", url_name(fleet["drift"].url)]


def doc_names(result):
    return [n["name"] for n in json.loads(result.stdout)["nodes"]]


def url_name(url):
    return url.removeprefix("http://").removesuffix("/mi")


def test_diff_fleet_shared_db_domain_missing_on_one_node(tmp_path, pki):
    """The config's db_url is read: a DB domain a node lacks is 'missing' there, and
    tls_reload on that node is the fix."""
    from tlsmgm_cli.core.db.backend import connect
    from tlsmgm_cli.core.db.rows import TlsRow, insert_rows

    url = f"sqlite:///{tmp_path / 'tls.db'}"
    with connect(url, create=True) as db:
        db.init_schema()
        with db.transaction():
            insert_rows(db, [TlsRow(domain="dbdom", type=2, match_ip_address="*",
                                    certificate=pki.server.cert_path.read_bytes(),
                                    private_key=pki.server.key_path.read_bytes())])
    config = str(write_cfg(tmp_path, CONFIG + mp("db_url", url), name="db.cfg"))
    predicted = run("list", "-c", config, "--format", "mi")
    assert predicted.exit_code == 0, predicted.output
    expected = json.loads(predicted.stdout)
    assert "dbdom" in [d["name"] for d in expected["Domains"]]
    without_db = {"Domains": [d for d in expected["Domains"] if d["name"] != "dbdom"]}
    with HttpMi(answer({"tls_list": expected})) as full, HttpMi(answer({"tls_list": without_db})) as lagging:
        result = run("diff", "-c", config, "--mi-url", f"full={full.url}", "--mi-url", f"lagging={lagging.url}")
    assert result.exit_code == 1, result.output
    row = next(line for line in result.stdout.splitlines() if line.startswith("dbdom ")).split()
    assert row[2:] == ["db", "yes", "ok", "missing"]
    assert "lagging: missing  server domain [dbdom] (db): in the config, not on the node" in result.stdout
    assert "DB-defined domains differ on lagging; 'tlsmgm mi tls_reload' on each" in result.stderr


def test_diff_fleet_text_escapes_node_and_domain_names(cfg, tmp_path):
    evil = copy.deepcopy(LIVE_OK)
    evil["Domains"].append(dict(LIVE_OK["Domains"][1], name="x\x1b]0;pwned\x07"))
    with HttpMi(answer({"tls_list": evil})) as mi, HttpMi(answer({"tls_list": LIVE_OK})) as ok:
        nodes = tmp_path / "nodes.yaml"
        nodes.write_text(yaml.safe_dump([{"name": "n\x1b[2J", "url": mi.url}, {"name": "ok", "url": ok.url}]))
        result = run("diff", "-c", cfg, "--nodes", str(nodes))
        listed = run("mi", "tls_list", "--nodes", str(nodes))
    assert result.exit_code == 1 and listed.exit_code == 0
    for r in (result, listed):
        assert "\x1b" not in r.stdout + r.stderr and "\x07" not in r.stdout
        assert "n\\x1b[2J" in r.stdout and "x\\x1b]0;pwned\\x07" in r.stdout


def test_diff_fleet_nodes_are_asked_concurrently(cfg):
    with ExitStack() as stack:
        silent = [stack.enter_context(SilentMi()) for _ in range(3)]
        start = time.monotonic()
        result = run("diff", "-c", cfg, *[a for i, s in enumerate(silent) for a in ("--mi-url", f"s{i}={s.url}")],
                     "--timeout", "1")
        elapsed = time.monotonic() - start
    assert result.exit_code == exitcodes.USAGE
    assert elapsed < 2.5, elapsed  # three silent nodes, one --timeout
    assert result.stdout.count("unreachable: no answer within 1s") == 3


def test_diff_fleet_as_a_real_process(cfg, fleet):
    proc = run_proc(["diff", "-c", cfg, *url_args(fleet, "sync", "silent", "locked", secret_in=("locked",)),
                     "--timeout", "1", "--format", "json"], timeout=30)
    assert proc.returncode == exitcodes.USAGE
    doc = json.loads(proc.stdout)
    assert [n["status"] for n in doc["nodes"]] == ["ok", "unreachable", "unreachable"]
    assert SECRET not in proc.stdout + proc.stderr


def test_one_mi_url_keeps_the_single_node_output(cfg, fleet):
    result = run("diff", "-c", cfg, "--mi-url", f"sync={fleet['sync'].url}")
    assert result.exit_code == 0
    assert result.stdout.startswith(f"no drift: {fleet['sync'].url} holds the 2 TLS domain(s)")


# ---- nodes files --------------------------------------------------------------------------

def write_nodes(tmp_path, nodes, name="nodes.yaml") -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(nodes) if not isinstance(nodes, str) else nodes)
    return str(path)


def test_nodes_file_password_env_is_sent_and_never_shown(cfg, tmp_path, fleet):
    nodes = write_nodes(tmp_path, [
        {"name": "sync", "url": fleet["sync"].url},
        {"name": "locked", "url": fleet["locked"].url, "user": "opensips", "password_env": "LOCKED_PW"},
    ])
    good = run("diff", "-c", cfg, "--nodes", nodes, env={"LOCKED_PW": "right-password"})
    assert good.exit_code == 0, good.output
    assert fleet["locked"].authorizations[-1] == "Basic b3BlbnNpcHM6cmlnaHQtcGFzc3dvcmQ="
    bad = run("diff", "-c", cfg, "--nodes", nodes, "--format", "json", env={"LOCKED_PW": SECRET})
    assert bad.exit_code == exitcodes.USAGE  # diff: an unreachable node is 2 (issue 14)
    locked = json.loads(bad.stdout)["nodes"][1]
    assert locked["error"].startswith("HTTP 401") and locked["url"].startswith("http://opensips:***@")
    listed = run("mi", "tls_list", "--nodes", nodes, env={"LOCKED_PW": SECRET})
    assert listed.exit_code == exitcodes.PROBLEMS and "== locked (http://opensips:***@127.0.0.1" in listed.stdout
    assert_no_secret(good, bad, listed)


def test_nodes_file_password_file(cfg, tmp_path, fleet):
    pw = tmp_path / "locked.pw"
    pw.write_text("right-password\n")
    nodes = write_nodes(tmp_path, {"nodes": [
        {"name": "locked", "url": fleet["locked"].url, "user": "opensips", "password_file": str(pw)}]})
    result = run("mi", "tls_list", "--nodes", nodes, "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert list(doc) == ["locked"] and doc["locked"]["status"] == "ok"
    assert doc["locked"]["Domains"] == LIVE_OK["Domains"]
    assert "right-password" not in result.stdout + result.stderr


@pytest.mark.parametrize(("content", "message"), [
    ([{"name": "a", "url": "http://127.0.0.1:1/mi", "password": SECRET}],
     "a password is never written in the nodes file: use password_env"),
    ([{"name": "a", "url": "http://127.0.0.1:1/mi", "user": "u", "password_env": "NOPE_UNSET_VAR"}],
     "the environment variable NOPE_UNSET_VAR (password_env) is not set"),
    ([{"name": "a", "url": "http://127.0.0.1:1/mi"}, {"name": "a", "url": "http://127.0.0.1:2/mi"}],
     "two nodes are named 'a'"),
    ([{"name": "a"}], "give exactly one of url (mi_http) and fifo (mi_fifo)"),
    ([{"name": "a", "url": "ftp://h/mi"}], "the scheme must be http or https"),
    ([{"name": "a", "url": "http://127.0.0.1:1/mi", "colour": "red"}], "unknown key 'colour'"),
    ([{"name": "a", "url": "http://127.0.0.1:1/mi", "timeout": -1}], "timeout must be a number of seconds"),
    ({"sip1": "http://127.0.0.1:1/mi"}, "expected a non-empty list of nodes"),
    ([], "expected a non-empty list of nodes"),
    (["http://127.0.0.1:1/mi"], "expected a mapping with name and url, not a str"),
    ("- name: [unclosed\n", "cannot read the nodes file"),
    ([{"name": "a", "url": f"http://u:{SECRET}@127.0.0.1:1/mi", "user": "v", "password_env": "HOME"}],
     "already holds credentials"),
])
def test_nodes_file_errors_are_one_line_usage_errors(cfg, tmp_path, content, message):
    nodes = write_nodes(tmp_path, content)
    for args in (("diff", "-c", cfg), ("mi", "tls_list")):
        result = run(*args, "--nodes", nodes)
        assert result.exit_code == exitcodes.USAGE, result.output
        assert message in result.stderr
        assert_no_secret(result)


def test_nodes_file_that_is_a_fifo_is_refused(tmp_path):
    fifo = tmp_path / "nodes.fifo"
    os.mkfifo(fifo)
    result = run("mi", "tls_list", "--nodes", str(fifo))
    assert result.exit_code == 1 and "FIFO" in result.stderr and "nodes file" in result.stderr


def test_nodes_file_fifo_node_next_to_http_nodes(cfg, tmp_path, fleet):
    with FifoMi(tmp_path, answer({"tls_list": drifting_reply()})) as local:
        nodes = write_nodes(tmp_path, [{"name": "sync", "url": fleet["sync"].url},
                                       {"name": "local", "fifo": local.fifo, "reply_dir": local.reply_dir}])
        result = run("diff", "-c", cfg, "--nodes", nodes, "--format", "json")
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    assert [(n["name"], n["url"], n["drift"]) for n in doc["nodes"]] == [
        ("sync", fleet["sync"].url, False), ("local", f"FIFO {local.fifo}", True)]


def test_nodes_file_and_password_file_are_read_safely(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * (1024 * 1024) + "\n- {name: a, url: 'http://127.0.0.1:1/mi'}\n")
    result = run("mi", "tls_list", "--nodes", str(big))
    assert result.exit_code == 1 and "nodes file" in result.stderr and "over the 1 MiB limit" in result.stderr
    pw_fifo = tmp_path / "pw.fifo"
    os.mkfifo(pw_fifo)
    nodes = write_nodes(tmp_path, [{"name": "a", "url": "http://127.0.0.1:1/mi", "user": "u",
                                    "password_file": str(pw_fifo)}])
    result = run("mi", "tls_list", "--nodes", nodes)
    assert result.exit_code == 1 and "password file" in result.stderr and "FIFO" in result.stderr


_yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["name", "url", "fifo", "user", "password_env", "password_file", "timeout",
                         "reply_dir", "nodes", "x"]) | st.text(max_size=5), inner, max_size=5),
    max_leaves=12)


@settings(max_examples=200, deadline=None)
@given(data=_yaml_values | st.text(max_size=200))
def test_nodes_file_parser_never_crashes(data):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "nodes.yaml"
        path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
        try:
            nodes = read_nodes_file(str(path), timeout=1.0, env={})
        except TlsmgmError as err:
            assert "\n" not in str(err) or str(err).count("\n") < 3
            return
        assert nodes and all(n.endpoint is not None for n in nodes)


# ---- opensips-cli instances ----------------------------------------------------------------

def test_all_instances_of_an_opensips_cli_config(cfg, tmp_path, fleet):
    cli_cfg = tmp_path / "opensips-cli.cfg"
    cli_cfg.write_text(
        "[default]\nlog_level: WARNING\ncommunication_type: http\n\n"
        f"[edge1]\nurl: {fleet['sync'].url}\n\n"
        f"[edge2]\nurl: {fleet['drift'].url}\n\n"
        "[legacy]\ncommunication_type: datagram\n")
    plain = tmp_path / "plain.cfg"  # no MI keys anywhere: the database-only instance is no node
    plain.write_text(f"[default]\nlog_level: INFO\n\n[db]\ndatabase_url: mysql://x\n\n[edge]\nurl: {fleet['sync'].url}\n"
                     "communication_type: http\n")
    only = run("mi", "tls_list", "--cli-config", str(plain), "--all-instances", "--format", "json")
    assert only.exit_code == 0 and list(json.loads(only.stdout)) == ["edge"]
    result = run("diff", "-c", cfg, "--cli-config", str(cli_cfg), "--all-instances", "--format", "json")
    assert result.exit_code == exitcodes.USAGE, result.output
    doc = json.loads(result.stdout)
    nodes = {n["name"]: n for n in doc["nodes"]}
    assert list(nodes) == ["edge1", "edge2", "legacy"]
    assert (nodes["edge1"]["drift"], nodes["edge2"]["drift"]) == (False, True)
    assert nodes["edge1"]["origin"] == f"{cli_cfg} [edge1]"
    assert "communication_type 'datagram' is not supported" in nodes["legacy"]["error"]
    # two instances, found in ~/.opensips-cli.cfg without --cli-config
    home_cfg = Path(os.environ["HOME"]) / ".opensips-cli.cfg"
    home_cfg.write_text("[default]\ncommunication_type: http\n\n"
                        f"[edge1]\nurl: {fleet['sync'].url}\n\n[edge2]\nurl: {fleet['sync'].url}\n")
    listed = run("mi", "tls_list", "--all-instances")
    assert listed.exit_code == 0, listed.output
    assert "== edge1 (" in listed.stdout and "== edge2 (" in listed.stdout
    assert run("diff", "-c", cfg, "--all-instances").exit_code == 0


def test_all_instances_without_any_config_is_a_usage_error():
    result = run("mi", "tls_list", "--all-instances")
    assert result.exit_code == exitcodes.USAGE and "--all-instances: no opensips-cli config found" in result.stderr


# ---- mi tls_list across nodes -------------------------------------------------------------

def test_mi_tls_list_one_section_per_node_and_json_keyed_by_name(fleet):
    args = url_args(fleet, "sync", "drift", "silent")
    text = run("mi", "tls_list", *args, "--timeout", "1")
    assert text.exit_code == exitcodes.PROBLEMS
    sections = text.stdout.split("\n\n")
    assert sections[0].startswith(f"== sync ({fleet['sync'].url}): 2 TLS domain(s)\nname")
    assert sections[1].startswith(f"== drift ({fleet['drift'].url}): 3 TLS domain(s)\nname")
    assert sections[2].startswith(f"== silent ({fleet['silent'].url}): unreachable: no answer within 1s")
    assert "1 of 3 node(s) did not answer: silent" in text.stderr
    doc = json.loads(run("mi", "tls_list", *args, "--timeout", "1", "--format", "json").stdout)
    assert list(doc) == ["sync", "drift", "silent"]
    assert doc["sync"] == {"url": fleet["sync"].url, "status": "ok", "Domains": LIVE_OK["Domains"]}
    assert doc["drift"]["Domains"] == drifting_reply()["Domains"]
    assert doc["silent"]["status"] == "unreachable" and "no answer" in doc["silent"]["error"]


def test_mi_tls_list_fleet_garbage_reply_is_an_unreachable_node(fleet):
    with HttpMi(answer({"tls_list": {"Domains": "all of them", "status": "ok"}})) as odd:
        result = run("mi", "tls_list", *url_args(fleet, "sync"), "--mi-url", f"odd={odd.url}", "--format", "json")
    assert result.exit_code == exitcodes.PROBLEMS
    doc = json.loads(result.stdout)
    assert doc["odd"]["status"] == "unreachable" and "not what OpenSIPS's tls_list returns" in doc["odd"]["error"]


def test_refused_port_is_unreachable_quickly(cfg, fleet):
    result = run("diff", "-c", cfg, *url_args(fleet, "sync"), "--mi-url", f"gone=http://127.0.0.1:{free_port()}/mi",
                 "--format", "json")
    assert result.exit_code == exitcodes.USAGE
    gone = json.loads(result.stdout)["nodes"][1]
    assert "cannot reach OpenSIPS's mi_http (Connection refused)" in gone["error"]


def test_help_teaches_the_fleet_usage():
    for args in (("diff", "--help"), ("mi", "tls_list", "--help")):
        text = run(*args).stdout
        assert "--nodes FILE" in text and "--all-instances" in text and "password_env" in text
        assert "--mi-url [NAME=]URL" in text


# ---- core ---------------------------------------------------------------------------------

def test_core_compare_fleet_rows_and_cells():
    answers = [("a", "A", "t", LIVE_OK, None), ("b", "B", "t", drifting_reply(), None),
               ("c", "C", "t", None, "no answer")]
    report = compare_fleet(answers, LIVE_OK)
    assert [(r.name, r.in_config) for r in report.rows] == [("dom6", True), ("dom3", True), ("old", False)]
    assert [[r.cells[n].state for n in "abc"] for r in report.rows] == [
        ["ok", "ok", "unknown"], ["ok", "changed", "unknown"], ["absent", "extra", "unknown"]]
    assert report.has_drift and [n.name for n in report.unreachable] == ["c"] and not report.in_sync


def test_core_resolve_nodes_mixes_sources(tmp_path):
    nodes_file = write_nodes(tmp_path, [{"name": "f", "url": "http://10.0.0.9:8888/mi", "timeout": 2}])
    nodes = resolve_nodes(mi_urls=("http://10.0.0.1:8888/mi", "b=https://h.example:9/mi"),
                          nodes_file=nodes_file, timeout=3.0)
    assert [(n.name, n.endpoint.timeout) for n in nodes] == [("10.0.0.1:8888", 3.0), ("b", 3.0), ("f", 2.0)]
