"""`tlsmgm diff` and core.mi.drift: live tls_list (from the test MI servers) vs the config."""

from __future__ import annotations

import copy
import json
import socket
import subprocess
import sys
import time

import pytest
from cfgtext import CONFIG_S_DOMAINS, mp, write_cfg
from clirun import run
from miserver import SPEC_REPLY, FifoMi, HttpMi, answer

from tlsmgm_cli.core.errors import TlsmgmError
from tlsmgm_cli.core.mi.drift import compare_tls_list, validate_tls_list

# dom6 (client) and dom3 (server) of behaviour §4.12 config S
CONFIG = CONFIG_S_DOMAINS["dom3"] + CONFIG_S_DOMAINS["dom6"]
# what a server started from CONFIG answers (behaviour §7.4 entries, client domains first, §7.2)
LIVE_OK = {"Domains": [SPEC_REPLY["Domains"][0], SPEC_REPLY["Domains"][2]]}
DB1 = SPEC_REPLY["Domains"][1]


@pytest.fixture(autouse=True)
def no_opensips_cli_cfg(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in ("TLSMGM_OPENSIPS_CLI_CFG", "TLSMGM_MI_URL", "TLSMGM_MI_FIFO", "TLSMGM_DB"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def cfg(tmp_path):
    return str(write_cfg(tmp_path, CONFIG))


def diff_against(reply, cfg, *extra):
    with HttpMi(answer({"tls_list": reply})) as mi:
        return run("diff", "-c", cfg, "--mi-url", mi.url, *extra)


def changed(reply, name, **fields):
    out = copy.deepcopy(reply)
    for dom in out["Domains"]:
        if dom["name"] == name:
            dom.update(fields)
    return out


def test_prediction_is_the_spec_reply(cfg):
    result = run("list", "-c", cfg, "--format", "mi")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == LIVE_OK


def test_no_drift_exit_0(cfg):
    result = diff_against(LIVE_OK, cfg)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("no drift: http://127.0.0.1:") and "holds the 2 TLS domain(s)" in result.stdout


def test_key_order_does_not_matter(cfg):
    shuffled = {"Domains": [dict(reversed(list(d.items()))) for d in LIVE_OK["Domains"]]}
    assert diff_against(shuffled, cfg).exit_code == 0


def test_domain_order_does_not_matter(cfg):
    assert diff_against({"Domains": LIVE_OK["Domains"][::-1]}, cfg).exit_code == 0


def test_method_drift_issue_2181(cfg):
    result = diff_against(changed(LIVE_OK, "dom3", METHOD="TLSv1_2-TLSv1_3"), cfg)
    assert result.exit_code == 1
    assert "changed  server domain [dom3] (script):" in result.stdout
    assert 'METHOD (method): expected "TLSv1", live "TLSv1_2-TLSv1_3"' in result.stdout
    assert "a tls_reload would not fix this drift" in result.stderr
    assert "restart OpenSIPS" in result.stderr


def test_filters_flags_and_files_drift_json(cfg):
    live = changed(LIVE_OK, "dom3", **{"SIP DOMAIN FILTERS": ["none", "*"], "REQ_CLI_CERT": False,
                                        "CERT_FILE": "/certs/old/cert.pem"})
    result = diff_against(live, cfg, "--format", "json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["drift"] is True and doc["script_only"] is True
    [dom] = doc["domains"]
    assert (dom["name"], dom["type"], dom["kind"], dom["source"]) == ("dom3", "TLS_DOMAIN_SRV", "changed", "script")
    assert [(c["key"], c["group"], c["expected"], c["live"]) for c in dom["changes"]] == [
        ("SIP DOMAIN FILTERS", "filters", ["none"], ["none", "*"]),
        ("REQ_CLI_CERT", "flags", True, False),
        ("CERT_FILE", "files", "/certs/generic/cert.pem", "/certs/old/cert.pem"),
    ]


def test_filter_order_is_drift(tmp_path):
    config = write_cfg(tmp_path, CONFIG.replace("[dom6]1.2.3.4:6677", "[dom6]1.2.3.4:6677,5.6.7.8:5061"), name="two.cfg")
    stored = ["5.6.7.8:5061", "1.2.3.4:6677"]  # OpenSIPS stores filters in reverse order of the string
    assert diff_against(changed(LIVE_OK, "dom6", **{"IP ADDRESS FILTERS": stored}), str(config)).exit_code == 0
    result = diff_against(changed(LIVE_OK, "dom6", **{"IP ADDRESS FILTERS": stored[::-1]}), str(config))
    assert result.exit_code == 1 and "IP ADDRESS FILTERS (filters)" in result.stdout


def test_missing_and_extra_domains(cfg):
    live = {"Domains": [LIVE_OK["Domains"][0], dict(LIVE_OK["Domains"][1], name="old")]}
    result = diff_against(live, cfg)
    assert result.exit_code == 1
    assert "missing  server domain [dom3] (script): in the config, not on the server" in result.stdout
    assert "extra    server domain [old] (script): on the server, not in the config" in result.stdout


def test_same_name_other_type_is_another_domain(cfg):
    live = {"Domains": [dict(LIVE_OK["Domains"][0], type="TLS_DOMAIN_SRV"), LIVE_OK["Domains"][1]]}
    result = diff_against(live, cfg)
    assert result.exit_code == 1
    assert "missing  client domain [dom6]" in result.stdout and "extra    server domain [dom6]" in result.stdout


def test_extra_db_domain_is_reloadable(cfg):
    live = {"Domains": [LIVE_OK["Domains"][0], DB1, LIVE_OK["Domains"][1]]}
    result = diff_against(live, cfg)
    assert result.exit_code == 1
    assert "extra    server domain [db1] (db)" in result.stdout
    assert "warning" not in result.stderr
    assert "'tlsmgm mi tls_reload' makes OpenSIPS reload them" in result.stderr


def test_fifo_transport(cfg, tmp_path):
    with FifoMi(tmp_path, answer({"tls_list": changed(LIVE_OK, "dom6", EC_CURVE="prime256v1")})) as mi:
        result = run("diff", "-c", cfg, "--fifo", mi.fifo, "--fifo-reply-dir", mi.reply_dir)
    assert result.exit_code == 1
    assert f"between FIFO {mi.fifo} (live)" in result.stdout
    assert 'EC_CURVE (ciphers): expected "", live "prime256v1"' in result.stdout


def test_absent_server_exit_2_within_timeout(cfg):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.monotonic()
    result = run("diff", "-c", cfg, "--mi-url", f"http://127.0.0.1:{port}/mi", "--timeout", "1")
    assert result.exit_code == 2
    assert "cannot reach OpenSIPS's mi_http" in result.stderr and "Traceback" not in result.output
    assert time.monotonic() - start < 1.5


def test_silent_server_exit_2_within_timeout(cfg):
    with HttpMi(answer({"tls_list": LIVE_OK}), delay=3) as mi:
        start = time.monotonic()
        result = run("diff", "-c", cfg, "--mi-url", mi.url, "--timeout", "0.5")
        elapsed = time.monotonic() - start
    assert result.exit_code == 2 and "no answer within 0.5s" in result.stderr
    assert elapsed < 2


@pytest.mark.parametrize("reply", [
    "OK", [], {"domains": []}, {"Domains": ["dom1"]}, {"Domains": [{"type": "TLS_DOMAIN_SRV"}]},
])
def test_garbage_reply_exit_2(cfg, reply):
    result = diff_against(reply, cfg)
    assert result.exit_code == 2
    assert "the tls_list reply is not what OpenSIPS's tls_list returns" in result.stderr


def test_broken_config_exit_2_before_calling(tmp_path):
    bad = write_cfg(tmp_path, mp("verify_cert", "[nodom]1"))
    with HttpMi(answer({"tls_list": LIVE_OK})) as mi:
        result = run("diff", "-c", str(bad), "--mi-url", mi.url)
    assert result.exit_code == 2 and mi.requests == []


def test_subprocess_absent_fifo(cfg, tmp_path):
    out = subprocess.run([sys.executable, "-m", "tlsmgm_cli", "diff", "-c", cfg, "--fifo",
                          str(tmp_path / "absent_fifo"), "--timeout", "1"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "is OpenSIPS running with mi_fifo loaded?" in out.stderr and "Traceback" not in out.stderr


# ---- core.mi.drift ---------------------------------------------------------------------

def test_core_mixed_script_and_db_drift():
    expected = {"Domains": [LIVE_OK["Domains"][0], DB1]}
    live = {"Domains": [dict(LIVE_OK["Domains"][0], METHOD="TLSv1_3"), dict(DB1, METHOD="TLSv1_2")]}
    report = compare_tls_list(live, expected)
    assert [(d.name, d.source, d.reload_fixes) for d in report.drifts] == [
        ("dom6", "script", False), ("db1", "db", True)]
    assert report.has_drift and not report.script_only


def test_core_key_present_on_one_side_only():
    live = {"Domains": [{k: v for k, v in DB1.items() if k != "EC_CURVE"}]}
    [drift] = compare_tls_list(live, {"Domains": [DB1]}).drifts
    assert [(c.key, c.expected, c.live) for c in drift.changes] == [("EC_CURVE", "", None)]


def test_core_unknown_keys_are_compared_too():
    live = {"Domains": [dict(DB1, NEW_KEY=1)]}
    [drift] = compare_tls_list(live, {"Domains": [DB1]}).drifts
    assert [(c.key, c.group) for c in drift.changes] == [("NEW_KEY", "other")]


def test_core_script_domain_turned_db_counts_as_script():
    script_db1 = dict(DB1, CERT_FILE="", CA_FILE="", PKEY_FILE="", DH_PARAMS_FILE="")
    [drift] = compare_tls_list({"Domains": [DB1]}, {"Domains": [script_db1]}).drifts
    assert drift.source == "script" and not drift.reload_fixes


def test_core_validate_names_the_origin():
    with pytest.raises(TlsmgmError, match="^http://x/mi: the tls_list reply"):
        validate_tls_list({"Domains": [{"name": 1, "type": "TLS_DOMAIN_SRV"}]}, origin="http://x/mi")
