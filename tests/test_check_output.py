"""tlsmgm check output formats (json, sarif, github, text), exit codes and .tlsmgm.yaml."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from cfgtext import mp, server, write_cfg
from clirun import run
from pki import Pki

from tlsmgm_cli.core.checks.rules import RULES

# What GitHub code scanning requires of an uploaded SARIF file (no SARIF schema ships
# offline in a Python package: sarif-om has classes only).
GITHUB_SARIF_SCHEMA = {
    "type": "object",
    "required": ["version", "runs"],
    "properties": {
        "version": {"const": "2.1.0"},
        "runs": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["tool", "results"],
            "properties": {
                "tool": {"type": "object", "required": ["driver"], "properties": {"driver": {
                    "type": "object", "required": ["name", "rules"],
                    "properties": {"name": {"type": "string", "minLength": 1}, "rules": {
                        "type": "array", "items": {"type": "object", "required": ["id", "shortDescription"],
                                                   "properties": {"id": {"type": "string"}}}}}}}},
                "results": {"type": "array", "items": {
                    "type": "object",
                    "required": ["ruleId", "level", "message", "locations", "partialFingerprints"],
                    "properties": {
                        "level": {"enum": ["error", "warning", "note", "none"]},
                        "message": {"type": "object", "required": ["text"]},
                        "partialFingerprints": {"type": "object", "minProperties": 1},
                        "locations": {"type": "array", "minItems": 1, "items": {
                            "type": "object", "required": ["physicalLocation"], "properties": {
                                "physicalLocation": {"type": "object", "required": ["artifactLocation", "region"],
                                                     "properties": {
                                    "artifactLocation": {"type": "object", "required": ["uri"]},
                                    "region": {"type": "object", "required": ["startLine"], "properties": {
                                        "startLine": {"type": "integer", "minimum": 1}}}}}}}}}}}}}},
    },
}


def faulty_cfg(pki: Pki, tmp_path: Path) -> Path:
    return write_cfg(tmp_path, server(pki, cert=pki.wrong_key.cert_path.as_posix()) + mp("ec_curve", "[d]X448"))


def invoke(*args: str, **kw):
    return run(*["check", *args], **kw)


def test_json_shape_exactly(pki: Pki, tmp_path: Path) -> None:
    result = invoke("-c", str(faulty_cfg(pki, tmp_path)), "--format", "json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert set(doc) == {"findings", "summary", "opensips_would_start"}
    assert set(doc["summary"]) == {"domains", "errors", "warnings", "notes"}
    for finding in doc["findings"]:
        assert list(finding) == ["rule", "severity", "domain", "side", "message", "hint", "file", "line",
                                 "stops_start"]
    mismatch = next(f for f in doc["findings"] if f["rule"] == "TLS203")
    assert mismatch["domain"] == "d" and mismatch["side"] == "server" and mismatch["line"] == 7
    assert "does not match the public key of the certificate" in mismatch["message"]


def test_sarif_meets_code_scanning_requirements(pki: Pki, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = faulty_cfg(pki, tmp_path)
    first = json.loads(invoke("-c", str(cfg), "--format", "sarif").stdout)
    jsonschema.validate(first, GITHUB_SARIF_SCHEMA)
    run = first["runs"][0]
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == tmp_path.resolve().as_uri() + "/"
    ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert ids == list(RULES)
    results = run["results"]
    assert {r["ruleId"] for r in results} >= {"TLS203", "TLS406"}
    for res in results:
        assert ids[res["ruleIndex"]] == res["ruleId"]
        art = res["locations"][0]["physicalLocation"]["artifactLocation"]
        assert art == {"uri": "opensips.cfg", "uriBaseId": "%SRCROOT%"}
    again = json.loads(invoke("-c", str(cfg), "--format", "sarif").stdout)
    assert [r["partialFingerprints"] for r in again["runs"][0]["results"]] == \
        [r["partialFingerprints"] for r in results]


def test_github_annotations(pki: Pki, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    faulty_cfg(pki, tmp_path)
    out = invoke("-c", "opensips.cfg", "--format", "github", catch_exceptions=False)
    lines = out.stdout.splitlines()
    assert any(line.startswith("::error file=opensips.cfg,line=7,title=TLS203::[d] key ") for line in lines)
    assert all(line.startswith(("::error ", "::warning ", "::notice ")) for line in lines)


def test_text_groups_by_domain_with_file_line(pki: Pki, tmp_path: Path) -> None:
    cfg = faulty_cfg(pki, tmp_path)
    out = invoke("-c", str(cfg)).stdout
    assert "server domain [d]\n" in out
    assert f"  {cfg}:7: error TLS203 key " in out
    assert "openssl: openssl x509 -in" in out
    summary, verdict = out.rstrip().splitlines()[-2:]
    assert summary == "1 domain checked: 2 error(s), 1 warning(s), 0 note(s)"  # + TLS307
    assert verdict.startswith("OpenSIPS 3.6.8 would not start: 2 findings stop it (TLS203 at ")


def test_exit_codes_and_fail_on(pki: Pki, tmp_path: Path) -> None:
    warn_only = write_cfg(tmp_path, server(pki) + mp("tls_method", "[d]TLSv1-TLSv1_3"))
    assert invoke("-c", str(warn_only)).exit_code == 0
    assert invoke("-c", str(warn_only), "--fail-on", "warning").exit_code == 1
    assert invoke("-c", str(warn_only), "--fail-on", "warning", "--ignore", "TLS033").exit_code == 0
    assert invoke("-c", str(tmp_path / "missing.cfg")).exit_code == 2
    assert invoke("-c", str(warn_only), "--select", "TLS999").exit_code == 2
    assert invoke("-c", str(warn_only), "--now", "yesterday").exit_code == 2
    assert invoke("-c", str(warn_only), "--fail-on", "fatal").exit_code == 2


def test_now_makes_expiry_reproducible(pki: Pki, tmp_path: Path) -> None:
    cfg = write_cfg(tmp_path, server(pki))
    later = pki.server.cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%S")
    result = invoke("-c", str(cfg), "--now", later + "Z", "--format", "json", "--select", "TLS30")
    assert [f["rule"] for f in json.loads(result.stdout)["findings"]] == ["TLS301"]


def test_project_yaml_sets_options_and_flags_win(pki: Pki, tmp_path: Path) -> None:
    cfg = write_cfg(tmp_path, server(pki) + mp("tls_method", "[d]TLSv1-TLSv1_3"))
    (tmp_path / ".tlsmgm.yaml").write_text("format: json\nfail-on: warning\nignore: [TLS034]\n")
    result = invoke("-c", str(cfg))
    assert result.exit_code == 1 and json.loads(result.stdout)["summary"]["warnings"] == 1
    assert invoke("-c", str(cfg), "--fail-on", "error").exit_code == 0
    (tmp_path / ".tlsmgm.yaml").write_text("colour: always\n")
    bad = invoke("-c", str(cfg))
    assert bad.exit_code == 2 and "unknown option 'colour'" in bad.output


def test_list_rules(tmp_path: Path) -> None:
    text = invoke("--list-rules").stdout
    assert "TLS203" in text and "private key does not match the certificate" in text
    doc = json.loads(invoke("--list-rules", "--format", "json").stdout)
    assert [r["id"] for r in doc] == list(RULES)


def test_no_progress_bar_in_machine_formats_real_process(pki: Pki, tmp_path: Path) -> None:
    cfg = write_cfg(tmp_path, "".join(server(pki, f"d{i}") for i in range(250)))
    proc = subprocess.run([sys.executable, "-m", "tlsmgm_cli", "check", "-c", str(cfg), "--format", "json",
                           "--select", "TLS2"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert json.loads(proc.stdout)["summary"]["domains"] == 250


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "github"])
def test_clean_config_every_format_exit_0(pki: Pki, tmp_path: Path, fmt: str) -> None:
    assert invoke("-c", str(write_cfg(tmp_path, server(pki))), "--format", fmt).exit_code == 0


def test_several_configs_as_arguments_like_pre_commit(pki: Pki, tmp_path: Path) -> None:
    good = write_cfg(tmp_path, server(pki), name="opensips-good.cfg")
    bad = faulty_cfg(pki, tmp_path)
    result = invoke(str(good), str(bad), "--format", "github")
    assert result.exit_code == 1 and "title=TLS203" in result.stdout
    assert invoke(str(good), str(good)).exit_code == 0
    assert invoke(str(good), str(bad), "--format", "json").exit_code == 2


def test_pre_commit_hook_definition() -> None:
    import re

    import yaml

    (hook,) = yaml.safe_load((Path(__file__).parent.parent / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "tlsmgm-check" and hook["entry"] == "tlsmgm check"
    assert re.search(hook["files"], "etc/opensips-prod.cfg") and not re.search(hook["files"], "kamailio.cfg")
