"""Settings files (.tlsmgm.yaml / --settings FILE) reach the options through click's
default_map: command line (and environment) > settings file > built-in default; the file's
values go through the options' own types; --format nagios from the file makes every usage
error UNKNOWN; ``check`` and ``probe`` share one nagios usage error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from cfgtext import mp, server, write_cfg
from clirun import run
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pki import Pki

from tlsmgm_cli import exitcodes

NAGIOS_UNKNOWN = 3


@pytest.fixture
def warned_cfg(pki: Pki, tmp_path: Path) -> Path:
    """A config whose only finding is a warning (TLSv1 allowed: TLS033)."""
    return write_cfg(tmp_path, server(pki) + mp("tls_method", "[d]TLSv1-TLSv1_3"))


def test_precedence_command_line_then_file_then_default(warned_cfg: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    default = run("check", "-c", str(warned_cfg))  # built-in defaults: text, fail on errors only
    assert default.exit_code == exitcodes.OK and not default.stdout.lstrip().startswith("{")
    (tmp_path / ".tlsmgm.yaml").write_text("format: json\nfail-on: warning\n")
    from_file = run("check", "-c", str(warned_cfg))
    assert from_file.exit_code == exitcodes.PROBLEMS
    assert json.loads(from_file.stdout)["summary"]["warnings"] == 1
    flags = run("check", "-c", str(warned_cfg), "--fail-on", "error", "-f", "github")
    assert flags.exit_code == exitcodes.OK and not flags.stdout.lstrip().startswith("{")
    # every use of an option sees the same value: --list-rules too takes the file's format
    rules = json.loads(run("check", "--list-rules").stdout)
    assert rules[0]["id"] == "TLS001"
    assert not run("check", "--list-rules", "-f", "text").stdout.lstrip().startswith("[")


def test_a_scalar_for_a_list_option_and_a_bad_value_naming_the_file(warned_cfg: Path, tmp_path: Path) -> None:
    settings = tmp_path / "ci.yaml"
    settings.write_text("format: json\nignore: TLS033\n")
    doc = json.loads(run("check", "-c", str(warned_cfg), "--settings", str(settings)).stdout)
    assert doc["summary"]["warnings"] == 0, doc
    settings.write_text("warn-days: many\n")
    bad = run("check", "-c", str(warned_cfg), "--settings", str(settings))
    assert bad.exit_code == exitcodes.USAGE
    assert f"settings file {settings}: warn-days ('--warn-days'): 'many' is not a valid" in bad.stderr


def test_nagios_from_the_file_makes_command_line_usage_errors_unknown(warned_cfg: Path, tmp_path: Path) -> None:
    settings = tmp_path / "mon.yaml"
    settings.write_text("format: nagios\n")
    bad = run("check", "-c", str(warned_cfg), "--settings", str(settings), "--warn-days", "-1")
    assert bad.exit_code == NAGIOS_UNKNOWN
    assert bad.stdout.startswith("TLSMGM CHECK UNKNOWN - usage:"), bad.stdout
    # the command line's format wins over the file's: a plain usage error
    plain = run("check", "-c", str(warned_cfg), "--settings", str(settings), "-f", "json", "--warn-days", "-1")
    assert plain.exit_code == exitcodes.USAGE and plain.stdout == ""


def test_db_on_the_command_line_wins_over_no_db_in_the_file(warned_cfg: Path, tmp_path: Path) -> None:
    settings = tmp_path / "offline.yaml"
    settings.write_text("no-db: true\nformat: json\n")
    missing = f"sqlite:///{tmp_path}/absent.db"
    offline = run("check", "-c", str(warned_cfg), "--settings", str(settings))
    assert offline.exit_code == exitcodes.OK
    named = run("check", "-c", str(warned_cfg), "--settings", str(settings), "--db", missing)
    assert "TLS048" in named.stdout  # the DB named on the command line was tried
    settings.write_text("no-db: maybe\n")
    bad = run("check", "-c", str(warned_cfg), "--settings", str(settings))
    assert bad.exit_code == exitcodes.USAGE
    assert bad.stderr.strip() == f"Error: settings file {settings}: no-db must be true or false"


def test_probe_usage_error_under_nagios_is_an_unknown_status_line(warned_cfg: Path) -> None:
    result = run("probe", "--no-db", "-c", str(warned_cfg), "-f", "nagios", "--jobs", "0")
    assert result.exit_code == NAGIOS_UNKNOWN
    assert result.stdout.startswith("TLSMGM PROBE UNKNOWN - usage:"), result.stdout
    missing = run("probe", "-c", str(warned_cfg) + ".missing", "-f", "nagios")
    assert missing.exit_code == NAGIOS_UNKNOWN and missing.stdout.startswith("TLSMGM PROBE UNKNOWN - ")


_KEYS = ["format", "fail-on", "warn-days", "crit-days", "now", "select", "ignore", "root", "cfg-dir",
         "opensips-version", "db", "no-db"]
_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 100), st.floats(allow_nan=False),
                    st.text(max_size=12), st.lists(st.text(max_size=6), max_size=3),
                    st.sampled_from(["json", "nagios", "warning", "3.6.8", "TLS0", "2025-01-01"]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.dictionaries(st.sampled_from(_KEYS), _VALUES, max_size=4))
@example(values={"warn-days": float("inf")})  # YAML .inf: int() raises OverflowError, not ValueError
@example(values={"crit-days": -float("inf")})
def test_any_settings_file_is_an_answer_or_a_usage_error(warned_cfg: Path, tmp_path: Path,
                                                         values: dict) -> None:
    settings_file = tmp_path / "fuzz.yaml"
    settings_file.write_text(yaml.safe_dump(values))
    result = run("check", "--no-db", "-c", str(warned_cfg), "--settings", str(settings_file))  # never internal
    assert result.exit_code in (exitcodes.OK, exitcodes.PROBLEMS, exitcodes.USAGE, NAGIOS_UNKNOWN)
    if result.exit_code == exitcodes.USAGE and "settings file" in result.stderr:
        assert str(settings_file) in result.stderr


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fmt=st.sampled_from(["text", "json", "github", "sarif"]), fail_on=st.sampled_from(["error", "warning", "note"]),
       warn_days=st.integers(0, 4000))
def test_a_settings_file_equals_the_same_flags(warned_cfg: Path, tmp_path: Path, fmt: str, fail_on: str,
                                               warn_days: int) -> None:
    settings_file = tmp_path / "same.yaml"
    settings_file.write_text(f"format: {fmt}\nfail-on: {fail_on}\nwarn-days: '{warn_days}'\n"
                             "now: '2030-01-01T00:00:00Z'\n")
    by_file = run("check", "-c", str(warned_cfg), "--settings", str(settings_file))
    by_flags = run("check", "-c", str(warned_cfg), "-f", fmt, "--fail-on", fail_on, "--warn-days", str(warn_days),
                   "--now", "2030-01-01T00:00:00Z")
    assert (by_file.exit_code, by_file.stdout) == (by_flags.exit_code, by_flags.stdout)
