"""Root options: --version, -q/--quiet, -v/--verbose, --no-color and NO_COLOR."""

from __future__ import annotations

import platform
import ssl
import subprocess
import sys

import cryptography
import pytest
from cfgtext import mp, write_cfg
from click.testing import CliRunner

from tlsmgm_cli import __version__
from tlsmgm_cli.cli import cli
from tlsmgm_cli.render import console, settings

FRAGMENT = mp("server_domain", "dom1")  # no loadmodule: a warning, not an error


@pytest.fixture(autouse=True)
def reset_settings(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("TLSMGM_NO_COLOR", raising=False)
    saved = (settings.quiet, settings.verbose, settings.no_color)
    yield
    settings.quiet, settings.verbose, settings.no_color = saved


@pytest.fixture
def fragment(tmp_path):
    return str(write_cfg(tmp_path, FRAGMENT, header=""))


def test_version_lines_exact():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        f"tlsmgm {__version__}",
        f"Python {platform.python_version()}",
        ssl.OPENSSL_VERSION,
        f"cryptography {cryptography.__version__}",
    ]


def test_version_wins_over_a_subcommand():
    result = CliRunner().invoke(cli, ["--version", "list", "-c", "/nonexistent.cfg"])
    assert result.exit_code == 0 and result.stdout.startswith("tlsmgm ")


def test_version_in_a_real_process():
    out = subprocess.run([sys.executable, "-m", "tlsmgm_cli", "--version"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.splitlines()[0] == f"tlsmgm {__version__}"


def test_warnings_shown_by_default(fragment):
    result = CliRunner().invoke(cli, ["list", "-c", fragment])
    assert result.exit_code == 0
    assert "warning: tls_mgm is never loaded" in result.stderr


@pytest.mark.parametrize("flag", ["-q", "--quiet"])
def test_quiet_drops_warnings_keeps_results(fragment, flag):
    result = CliRunner().invoke(cli, [flag, "list", "-c", fragment])
    assert result.exit_code == 0
    assert result.stderr == "" and "dom1" in result.stdout
    assert settings.quiet is True


def test_quiet_keeps_errors(tmp_path):
    bad = write_cfg(tmp_path, mp("verify_cert", "[nodom]1"))
    result = CliRunner().invoke(cli, ["-q", "list", "-c", str(bad)])
    assert result.exit_code == 2 and "error:" in result.stderr


def test_settings_are_per_invocation(fragment):
    CliRunner().invoke(cli, ["-q", "-vv", "--no-color", "list", "-c", fragment])
    assert (settings.quiet, settings.verbose, settings.no_color) == (True, 2, True)
    CliRunner().invoke(cli, ["list", "-c", fragment])
    assert (settings.quiet, settings.verbose, settings.no_color) == (False, 0, False)


def test_verbose_counts(fragment):
    CliRunner().invoke(cli, ["--verbose", "-v", "-v", "list", "-c", fragment])
    assert settings.verbose == 3


@pytest.mark.parametrize("env", [{"NO_COLOR": "1"}, {"TLSMGM_NO_COLOR": "1"}])
def test_no_color_from_environment(fragment, env):
    result = CliRunner().invoke(cli, ["list", "-c", fragment], env=env)
    assert result.exit_code == 0
    assert settings.no_color is True and console().no_color is True


def test_empty_no_color_means_colour_allowed(fragment):
    CliRunner().invoke(cli, ["list", "-c", fragment], env={"NO_COLOR": ""})
    assert settings.no_color is False and console().no_color is False


def test_no_color_flag_reaches_rich_console(fragment):
    CliRunner().invoke(cli, ["--no-color", "list", "-c", fragment])
    assert console().no_color is True and console(stderr=True).no_color is True
