"""`tlsmgm check --format prometheus|nagios` (issue 14 part 3): the node_exporter textfile
format parsed with prometheus-client's own parser, the monitoring-plugin status line checked
against the Monitoring Plugins Development Guidelines, plugin exit statuses from real configs
and generated certificates, and the atomic --output."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cfgtext import mp, server, write_cfg
from clirun import run, run_proc
from hypothesis import given, settings
from hypothesis import strategies as st
from pki import Pki

from tlsmgm_cli import exitcodes
from tlsmgm_cli.core.x509 import certgen

SOCKET = "socket=tls:127.0.0.1:5061\n"
DAY = 86400
REPO = Path(__file__).resolve().parent.parent

# The Monitoring Plugins Development Guidelines: "SERVICE STATUS - text | perfdata", one
# line; perfdata is space-separated 'label'=value[UOM];[warn];[crit];[min];[max], the
# label quoted (it may hold spaces) and holding no quote and no '='; thresholds are ranges
# ([@][start:][end], '~' for -infinity).
_NUM = r"-?[0-9]+(?:\.[0-9]+)?"
_RANGE = rf"(?:@?(?:(?:{_NUM}|~):)?(?:{_NUM})?)"
_UOM = r"(?:s|ms|us|%|B|KB|MB|TB|c)?"
PERF_ITEM = re.compile(rf"'[^'=]+'={_NUM}{_UOM};{_RANGE};{_RANGE};(?:{_NUM})?;(?:{_NUM})?")
STATUS_LINE = re.compile(r"^TLSMGM CHECK (OK|WARNING|CRITICAL|UNKNOWN) - ([^|\n]+?)(?: \| ([^\n]+))?\n$")
PLUGIN_STATUS = {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}


def nagios(stdout: str) -> tuple[str, str, dict[str, tuple[float, str, str]]]:
    """(status word, text, {label: (value, warn, crit)}), asserting the plugin format."""
    match = STATUS_LINE.match(stdout)
    assert match, f"not a monitoring-plugin status line: {stdout!r}"
    perf: dict[str, tuple[float, str, str]] = {}
    if match.group(3):
        items = re.findall(r"'[^']*'=\S*", match.group(3))
        assert " ".join(items) == match.group(3), match.group(3)
        for item in items:
            assert PERF_ITEM.fullmatch(item), item
            label, rest = item[1:].split("'=", 1)
            value, warn, crit = rest.split(";")[:3]
            assert label not in perf, f"duplicate perfdata label {label}"
            perf[label] = (float(value), warn, crit)
    return match.group(1), match.group(2), perf


def families(text: str) -> dict:
    from prometheus_client.parser import text_string_to_metric_families

    return {f.name: f for f in text_string_to_metric_families(text)}


def samples(text: str, name: str) -> list:
    return families(text)[name].samples


def leaf(pki: Pki, directory: Path, name: str, cn: str, days_left: float) -> tuple[Path, Path]:
    """A certificate for ``cn`` signed by the test CA, notAfter ``days_left`` days from now."""
    now = dt.datetime.now(dt.timezone.utc)
    issued = certgen.make_cert(pki.ca.issued, cn, not_before=now - dt.timedelta(days=30),
                               not_after=now + dt.timedelta(days=days_left))
    return issued.write(directory, name, force=True)


def cfg_with(pki: Pki, tmp_path: Path, *domains: tuple[str, str, Path, Path], extra: str = "") -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    body = SOCKET + extra
    for name, sni, cert, key in domains:
        body += server(pki, name, cert=str(cert), key=str(key), sni=sni)
    return write_cfg(tmp_path, body)


def healthy(pki: Pki, tmp_path: Path) -> Path:
    return cfg_with(pki, tmp_path, ("atl", "atlanta.com, none", pki.server.cert_path, pki.server.key_path))


def expiring(pki: Pki, tmp_path: Path, days: float) -> Path:
    cert, key = leaf(pki, tmp_path, "soon", "soon.atlanta.com", days)
    return cfg_with(pki, tmp_path, ("atl", "atlanta.com, none", pki.server.cert_path, pki.server.key_path),
                    ("soon", "soon.atlanta.com", cert, key))


# ---- prometheus -------------------------------------------------------------------------------
def _db_url(tmp_path: Path, pki: Pki) -> str:
    from tlsmgm_cli.core.db.backend import connect
    from tlsmgm_cli.core.db.rows import TlsRow, insert_rows
    from tlsmgm_cli.core.db.schema import TYPE_SERVER

    url = f"sqlite:///{tmp_path}/tls.db"
    with connect(url, create=True) as db:
        db.init_schema()
        with db.transaction():
            insert_rows(db, [TlsRow(domain="dbdom", type=TYPE_SERVER, match_ip_address="*",
                                    match_sip_domain="biloxi.com", certificate=pki.server_chain.cert_path.read_bytes(),
                                    private_key=pki.server_chain.key_path.read_bytes(),
                                    ca_list=pki.ca_bundle_path.read_bytes())])
    return url


def test_prometheus_expiry_seconds_for_config_and_db_domains(pki: Pki, tmp_path: Path) -> None:
    cert, key = leaf(pki, tmp_path, "soon", "soon.atlanta.com", 10)
    url = _db_url(tmp_path, pki)
    cfg = cfg_with(pki, tmp_path, ("soon", "soon.atlanta.com", cert, key),
                   ("old", "expired.atlanta.com", pki.expired.cert_path, pki.expired.key_path),
                   extra=mp("db_url", url))
    result = run("check", "-c", str(cfg), "--format", "prometheus")
    assert result.exit_code == exitcodes.PROBLEMS, result.output  # TLS301 (expired) fails --fail-on error
    expiry = {(s.labels["domain"], s.labels["side"]): s
              for s in samples(result.stdout, "tlsmgm_check_certificate_expiry_seconds")}
    assert set(expiry) == {("soon", "server"), ("old", "server"), ("dbdom", "server")}
    assert abs(expiry[("soon", "server")].value - 10 * DAY) < 120  # ~864000 s
    assert expiry[("soon", "server")].labels["file"] == str(cert)
    assert expiry[("soon", "server")].labels["config"] == str(cfg)
    assert -2 * DAY < expiry[("old", "server")].value < 0  # expired yesterday
    db_row = expiry[("dbdom", "server")]
    assert re.fullmatch(r"db:\d+", db_row.labels["file"]), db_row.labels
    assert 820 * DAY < db_row.value < 826 * DAY
    stamps = {s.labels["domain"]: s.value
              for s in samples(result.stdout, "tlsmgm_check_certificate_not_after_timestamp_seconds")}
    from cryptography import x509

    soon_after = x509.load_pem_x509_certificate(cert.read_bytes()).not_valid_after_utc
    assert stamps["soon"] == round(soon_after.timestamp())
    assert stamps["old"] == round(pki.expired.cert.not_valid_after_utc.timestamp())


def test_prometheus_findings_and_start_agree_with_json(pki: Pki, tmp_path: Path) -> None:
    # a key that is not the certificate's stops OpenSIPS (TLS203); the expired domain does not
    cfg = cfg_with(pki, tmp_path, ("bad", "atlanta.com, none", pki.wrong_key.cert_path, pki.wrong_key.key_path),
                   ("old", "expired.atlanta.com", pki.expired.cert_path, pki.expired.key_path))
    doc = json.loads(run("check", "-c", str(cfg), "-f", "json").stdout)
    result = run("check", "-c", str(cfg), "-f", "prometheus")
    assert result.exit_code == exitcodes.PROBLEMS
    fams = families(result.stdout)
    counts = {s.labels["severity"]: s.value for s in fams["tlsmgm_check_findings"].samples}
    assert counts == {"error": doc["summary"]["errors"], "warning": doc["summary"]["warnings"],
                      "note": doc["summary"]["notes"]}
    assert counts["error"] >= 2
    assert doc["opensips_would_start"] is False
    assert fams["tlsmgm_check_opensips_would_start"].samples[0].value == 0.0
    by_rule = {s.labels["rule"]: s.value for s in fams["tlsmgm_check_rule_findings"].samples}
    assert by_rule["TLS203"] == 1 and by_rule["TLS301"] == 1
    assert fams["tlsmgm_check_domains"].samples[0].value == 2

    fine = run("check", "-c", str(healthy(pki, tmp_path / "ok")), "-f", "prometheus")
    assert fine.exit_code == exitcodes.OK, fine.output
    fams = families(fine.stdout)
    assert fams["tlsmgm_check_opensips_would_start"].samples[0].value == 1.0
    assert {s.value for s in fams["tlsmgm_check_findings"].samples} == {0.0}
    assert len(fams["tlsmgm_check_findings"].samples) == 3  # every severity, even at zero


def test_prometheus_now_moves_the_expiry(pki: Pki, tmp_path: Path) -> None:
    cfg = healthy(pki, tmp_path)
    not_after = pki.server.cert.not_valid_after_utc
    at = (not_after - dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = run("check", "-c", str(cfg), "-f", "prometheus", "--now", at)
    (sample,) = samples(result.stdout, "tlsmgm_check_certificate_expiry_seconds")
    assert sample.value == 3 * DAY
    (stamp,) = samples(result.stdout, "tlsmgm_check_timestamp_seconds")
    assert stamp.value == round((not_after - dt.timedelta(days=3)).timestamp())


def test_output_replaces_the_file_whole(pki: Pki, tmp_path: Path) -> None:
    cfg = expiring(pki, tmp_path, 10)
    textfile = tmp_path / "textfile"
    textfile.mkdir()
    target = textfile / "tlsmgm.prom"
    target.write_text("# an older run\nstale_metric 1\n")
    before = os.stat(target).st_ino
    result = run("check", "-c", str(cfg), "-f", "prometheus", "--output", str(target))
    assert result.exit_code == exitcodes.OK, result.output
    assert result.stdout == ""
    assert [p.name for p in textfile.iterdir()] == ["tlsmgm.prom"]  # no temporary file left
    assert os.stat(target).st_ino != before  # renamed into place, never rewritten in place
    text = target.read_text()
    assert "stale_metric" not in text
    assert {s.labels["domain"] for s in samples(text, "tlsmgm_check_certificate_expiry_seconds")} == {"atl", "soon"}
    assert oct(os.stat(target).st_mode & 0o777) == oct(0o644)  # readable by node_exporter


def test_output_that_cannot_be_written_is_an_error_not_a_traceback(pki: Pki, tmp_path: Path) -> None:
    cfg = healthy(pki, tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run("check", "-c", str(cfg), "-f", "prometheus", "-o", str(blocker / "x.prom"))
    assert result.exit_code == exitcodes.PROBLEMS and "cannot write" in result.stderr
    result = run("check", "-c", str(cfg), "-f", "nagios", "-o", str(blocker / "x.txt"))
    assert result.exit_code == 3 and nagios(result.stdout)[0] == "UNKNOWN"


def test_output_needs_a_machine_format_and_one_config(pki: Pki, tmp_path: Path) -> None:
    cfg = healthy(pki, tmp_path)
    assert run("check", "-c", str(cfg), "-o", str(tmp_path / "x")).exit_code == exitcodes.USAGE
    for fmt in ("prometheus", "json"):
        several = run("check", "-f", fmt, str(cfg), str(cfg))
        assert several.exit_code == exitcodes.USAGE and "several configs" in several.stderr
    out = tmp_path / "check.json"
    assert run("check", "-c", str(cfg), "-f", "json", "-o", str(out)).exit_code == exitcodes.OK
    assert json.loads(out.read_text())["opensips_would_start"] is True


def test_prometheus_client_is_imported_only_for_prometheus() -> None:
    code = ("import sys, tlsmgm_cli.cli.check_cmd, tlsmgm_cli.render.check, tlsmgm_cli.render.monitoring, "
            "tlsmgm_cli.render.probe, tlsmgm_cli.core.checks.expiry; "
            "print('prometheus_client' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stderr


def test_prometheus_as_a_real_process(pki: Pki, tmp_path: Path) -> None:
    proc = run_proc(["check", "-c", str(expiring(pki, tmp_path, 10)), "-f", "prometheus"])
    assert proc.returncode == exitcodes.OK, proc.stderr
    assert len(samples(proc.stdout, "tlsmgm_check_certificate_expiry_seconds")) == 2


def test_help_names_exactly_the_metrics_check_emits(pki: Pki, tmp_path: Path) -> None:
    cfg = cfg_with(pki, tmp_path, ("atl", "atlanta.com, none", pki.server.cert_path, pki.server.key_path),
                   ("bad", "biloxi.com", pki.wrong_key.cert_path, pki.wrong_key.key_path))
    emitted = set(families(run("check", "-c", str(cfg), "-f", "prometheus").stdout))
    named = set(re.findall(r"\btlsmgm_check_[a-z_]+", run("check", "--help").stdout))
    assert named == emitted


# ---- nagios -----------------------------------------------------------------------------------
def test_nagios_ok(pki: Pki, tmp_path: Path) -> None:
    result = run("check", "-c", str(healthy(pki, tmp_path)), "--format", "nagios")
    assert result.exit_code == 0, result.output
    word, text, perf = nagios(result.stdout)
    assert word == "OK" and "would start" in text
    value, warn, crit = perf["days_left_atl_server"]
    assert 820 < value < 826 and (warn, crit) == ("30:", "7:")  # alert below 30 / 7 days
    assert perf["errors"][0] == perf["warnings"][0] == 0


@pytest.mark.parametrize("days, extra, word", [
    (20, [], "WARNING"),                                     # within --warn-days 30
    (3, [], "CRITICAL"),                                     # within --crit-days 7 (a warning finding alone)
    (20, ["--warn-days", "10", "--crit-days", "5"], "OK"),   # thresholds moved
    (20, ["--warn-days", "40", "--crit-days", "25"], "CRITICAL"),
])
def test_nagios_expiry_thresholds(pki: Pki, tmp_path: Path, days: float, extra: list[str], word: str) -> None:
    result = run("check", "-c", str(expiring(pki, tmp_path, days)), "-f", "nagios", *extra)
    got, text, perf = nagios(result.stdout)
    assert got == word and result.exit_code == PLUGIN_STATUS[word], result.output
    assert abs(perf["days_left_soon_server"][0] - days) < 0.2
    assert "[soon]" in text  # the next expiry is named


def test_nagios_errors_are_critical(pki: Pki, tmp_path: Path) -> None:
    stops = cfg_with(pki, tmp_path, ("bad", "atlanta.com, none", pki.wrong_key.cert_path, pki.wrong_key.key_path))
    result = run("check", "-c", str(stops), "-f", "nagios")
    word, text, _ = nagios(result.stdout)
    assert (word, result.exit_code) == ("CRITICAL", 2) and "would not start" in text and "TLS203" in text

    expired = cfg_with(pki, tmp_path / "e", ("old", "expired.atlanta.com", pki.expired.cert_path,
                                             pki.expired.key_path))
    result = run("check", "-c", str(expired), "-f", "nagios", "--crit-days", "0", "--warn-days", "0")
    word, text, perf = nagios(result.stdout)
    assert (word, result.exit_code) == ("CRITICAL", 2) and "TLS301" in text and "would start" in text
    assert perf["days_left_old_server"][0] < 0


def test_nagios_warnings_are_warning(pki: Pki, tmp_path: Path) -> None:
    # no domain takes clients without SNI on the listener: TLS103, a warning
    cfg = cfg_with(pki, tmp_path, ("atl", "atlanta.com", pki.server.cert_path, pki.server.key_path))
    result = run("check", "-c", str(cfg), "-f", "nagios")
    word, text, perf = nagios(result.stdout)
    assert (word, result.exit_code) == ("WARNING", 1) and "TLS103" in text
    assert perf["warnings"][0] >= 1


@pytest.mark.parametrize("args", [
    ["--bogus"], ["--warn-days", "soon"], ["--crit-days", "40"], ["--root", "/nonexistent/dir"],
    ["--select", "TLS9999"], ["--now", "yesterday"],
])
def test_nagios_usage_errors_are_unknown(pki: Pki, tmp_path: Path, args: list[str]) -> None:
    result = run("check", "-c", str(healthy(pki, tmp_path)), "--format", "nagios", *args)
    assert result.exit_code == 3, result.output
    assert nagios(result.stdout)[0] == "UNKNOWN"
    if args[0] != "--crit-days":  # --crit-days is a nagios threshold only
        assert run("check", "-c", str(healthy(pki, tmp_path)), *args).exit_code == exitcodes.USAGE


@pytest.mark.parametrize("form", [["--format", "nagios"], ["--format=nagios"], ["-f", "nagios"], ["-fnagios"]])
def test_nagios_unreadable_config_is_unknown(tmp_path: Path, form: list[str]) -> None:
    result = run("check", "-c", str(tmp_path / "missing.cfg"), *form)
    assert result.exit_code == 3, result.output
    word, text, _ = nagios(result.stdout)
    assert word == "UNKNOWN" and "not found" in text
    proc = run_proc(["check", "-c", str(tmp_path), *form])  # a directory
    assert proc.returncode == 3 and nagios(proc.stdout)[0] == "UNKNOWN"


def test_nagios_from_the_settings_file(pki: Pki, tmp_path: Path) -> None:
    cfg = expiring(pki, tmp_path, 20)
    (tmp_path / ".tlsmgm.yaml").write_text("format: nagios\nwarn-days: 10\ncrit-days: 5\n")
    result = run("check", "-c", str(cfg))
    assert result.exit_code == 0 and nagios(result.stdout)[0] == "OK", result.output
    (tmp_path / ".tlsmgm.yaml").write_text("format: nagios\ncrit-days: many\n")
    result = run("check", "-c", str(cfg))
    assert result.exit_code == 3 and nagios(result.stdout)[0] == "UNKNOWN"


HOSTILE = "we'ird=na|me\x1b[2J"


def test_hostile_names_stay_one_valid_line_and_parsable_metrics(pki: Pki, tmp_path: Path) -> None:
    cfg = cfg_with(pki, tmp_path, (HOSTILE, "atlanta.com, none", pki.server.cert_path, pki.server.key_path))
    result = run("check", "-c", str(cfg), "-f", "nagios")
    assert "\x1b" not in result.stdout
    word, _, perf = nagios(result.stdout)
    assert any(label.startswith("days_left_we_ird_na_me") for label in perf), perf
    prom = run("check", "-c", str(cfg), "-f", "prometheus").stdout
    assert "\x1b" not in prom
    (sample,) = samples(prom, "tlsmgm_check_certificate_expiry_seconds")
    assert sample.labels["domain"] == "we'ird=na|me\\x1b[2J"


# ---- the shared helpers, for any text ----------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(label=st.text(min_size=1, max_size=40), value=st.floats(-1e6, 1e6), warn=st.integers(0, 1000),
       text=st.text(max_size=60))
def test_any_label_and_text_make_a_valid_status_line(label: str, value: float, warn: int, text: str) -> None:
    from tlsmgm_cli.render.monitoring import NAGIOS_WARNING, perf_item, status_line

    item = perf_item(label, value, warn=f"{warn}:", crit="7:")
    assert PERF_ITEM.fullmatch(item), item
    line = status_line("TLSMGM CHECK", NAGIOS_WARNING, text or "x", [item]) + "\n"
    word, _, perf = nagios(line)
    assert word == "WARNING" and len(perf) == 1


@settings(max_examples=100, deadline=None)
@given(domain=st.text(min_size=1, max_size=30), file=st.text(min_size=1, max_size=30),
       seconds=st.integers(-10**8, 10**8))
def test_any_domain_name_gives_a_parsable_exposition(domain: str, file: str, seconds: int) -> None:
    from tlsmgm_cli.core.checks import CheckReport
    from tlsmgm_cli.core.checks.expiry import CertExpiry
    from tlsmgm_cli.render.check import prometheus_check
    from tlsmgm_cli.render.safe import visible

    now = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    item = CertExpiry(domain=domain, side="client", file=file, from_db=False,
                      not_after=now + dt.timedelta(seconds=seconds), seconds_left=float(seconds))
    text = prometheus_check(CheckReport(domains=1), [item], "c.cfg", now, 0.1).decode()
    (sample,) = samples(text, "tlsmgm_check_certificate_expiry_seconds")
    assert sample.value == seconds
    assert sample.labels == {"config": "c.cfg", "domain": visible(domain), "side": "client", "file": visible(file)}


# ---- the README's Monitoring section ------------------------------------------------------------
def _monitoring_section() -> str | None:
    readme = REPO / "README.md"
    text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    match = re.search(r"^## Monitoring\b.*?(?=^## |\Z)", text, flags=re.M | re.S)
    return match.group(0) if match else None


def test_readme_alert_rules_name_metrics_check_emits(pki: Pki, tmp_path: Path) -> None:
    import yaml

    section = _monitoring_section()
    if section is None:
        pytest.skip("README.md has no '## Monitoring' section yet")
    blocks = re.findall(r"```ya?ml\n(.*?)```", section, flags=re.S)
    assert blocks, "the Monitoring section has no YAML alert rule"
    exprs = []
    for block in blocks:
        doc = yaml.safe_load(block)
        for group in doc["groups"]:
            for rule in group["rules"]:
                assert rule["alert"] and rule["expr"]
                exprs.append(str(rule["expr"]))
    cfg = cfg_with(pki, tmp_path, ("atl", "atlanta.com, none", pki.server.cert_path, pki.server.key_path),
                   ("bad", "biloxi.com", pki.wrong_key.cert_path, pki.wrong_key.key_path))
    emitted = set(families(run("check", "-c", str(cfg), "-f", "prometheus").stdout))
    named = {m for expr in exprs for m in re.findall(r"\btlsmgm_[a-z_]+", expr)}
    assert named and named <= emitted, named - emitted
    assert "--format prometheus" in section or "-f prometheus" in section
    assert "--format nagios" in section or "-f nagios" in section


# ---- the README's cron lines and Nagios command, run as written --------------------------------
README_TEXT = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def _as_shell(command: str, cfg: Path, textfile: Path) -> str:
    """A README command line with the demo's config, a temporary textfile directory, and
    this interpreter's tlsmgm."""
    tlsmgm = f"{sys.executable} -m tlsmgm_cli"
    command = command.replace("/etc/opensips/opensips.cfg", str(cfg))
    command = command.replace("/var/lib/node_exporter/textfile", str(textfile))
    return re.sub(r"(?:/usr/local/bin/)?\btlsmgm\b(?= )", tlsmgm, command)


def test_readme_cron_lines_write_files_the_prometheus_parser_reads(tmp_path: Path) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    assert run("demo", str(tmp_path / "demo")).exit_code == 0
    cfg = tmp_path / "demo" / "opensips.cfg"
    textfile = tmp_path / "textfile"
    textfile.mkdir()
    lines = re.findall(r"^\*/\d+\s+\*\s+\*\s+\*\s+\*\s+opensips\s+(tlsmgm .+)$", README_TEXT, re.M)
    assert len(lines) == 2, lines  # check and probe
    env = {k: v for k, v in os.environ.items() if k != "TLSMGM_DEBUG"}
    for line in lines:
        shell = _as_shell(line, cfg, textfile)
        if " probe " in shell:
            shell = shell.replace(" probe ", " probe --no-db --timeout 5 --handshake-timeout 1 ", 1)
        else:
            shell = shell.replace(" check ", " check --no-db ", 1)
        proc = subprocess.run(["sh", "-c", shell], capture_output=True, text=True, timeout=120, env=env)
        assert proc.returncode == 0, (shell, proc.stderr)  # exit 1 (findings) is what `|| test` allows
        assert "internal error" not in proc.stderr
    written = sorted(p.name for p in textfile.iterdir())
    assert written == ["tlsmgm.prom", "tlsmgm_probe.prom"], written
    for path in textfile.iterdir():
        families = list(text_string_to_metric_families(path.read_text()))
        assert families, path


def test_readme_nagios_command_definition_runs_as_a_plugin(tmp_path: Path) -> None:
    (command,) = re.findall(r"^\s*command_line\s+(.+)$", README_TEXT, re.M)
    assert run("demo", str(tmp_path / "demo")).exit_code == 0
    cfg = tmp_path / "demo" / "opensips.cfg"
    shell = _as_shell(command, cfg, tmp_path).replace("$ARG1$", str(cfg)).replace("$ARG2$", "30")
    shell = shell.replace("$ARG3$", "7").replace(" check ", " check --no-db ", 1)
    env = {k: v for k, v in os.environ.items() if k != "TLSMGM_DEBUG"}
    proc = subprocess.run(["sh", "-c", shell], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode in (0, 1, 2, 3), proc.stderr
    first = proc.stdout.splitlines()[0]
    assert re.match(r"^TLSMGM CHECK (OK|WARNING|CRITICAL|UNKNOWN) - .+\|", first), first
    assert ["OK", "WARNING", "CRITICAL", "UNKNOWN"][proc.returncode] in first
