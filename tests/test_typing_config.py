"""Types are checked in CI (issue 13 item 5): `mypy` with no arguments checks the package,
strict on tlsmgm_cli.core.*, mypy's default checks elsewhere, no module skipped; .ci/run runs
it and ruff after the tests; `pip install '.[test]'` installs both and the stubs they need."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _options(args: list[str]) -> tuple[list[str], object]:
    from mypy.main import process_options

    sources, options = process_options(args)
    return [s.module for s in sources], options


def _strict_flags() -> tuple[list[str], object, object]:
    """The flags `--strict` changes (asked of the installed mypy), with both option sets."""
    _, strict = _options(["--strict", "--config-file", "", "-c", "pass"])
    _, default = _options(["--config-file", "", "-c", "pass"])
    names = [n for n in dir(default) if not n.startswith("_") and not callable(getattr(default, n))]
    return [n for n in names if getattr(strict, n) != getattr(default, n)], strict, default


@pytest.fixture()
def configured(monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], object]:
    """What `mypy` with no arguments, run at the repository root, checks and how."""
    monkeypatch.chdir(ROOT)
    try:
        return _options(["--config-file", str(ROOT / "pyproject.toml")])
    except SystemExit as stop:  # mypy's argument parser exits on a missing or bad configuration
        pytest.fail(f"`mypy` alone cannot run from pyproject.toml's [tool.mypy] (exit {stop.code})")


def test_mypy_without_arguments_checks_the_whole_package_and_skips_no_module(configured) -> None:
    modules, options = configured
    assert "tlsmgm_cli.cli" in modules and "tlsmgm_cli.core.loader" in modules
    assert "tlsmgm_cli.core.cfg.lex" in modules and "tlsmgm_cli.render.mi" in modules
    skipped = [m for m in modules if options.clone_for_module(m).ignore_errors]
    assert skipped == []


def test_core_is_checked_with_every_strict_flag_and_the_rest_with_the_defaults(configured) -> None:
    modules, options = configured
    flags, strict, default = _strict_flags()
    assert "disallow_untyped_defs" in flags and "warn_return_any" in flags
    core = [m for m in modules if m == "tlsmgm_cli.core" or m.startswith("tlsmgm_cli.core.")]
    assert len(core) > 30
    for module in core:
        mine = options.clone_for_module(module)
        assert {f: getattr(mine, f) for f in flags} == {f: getattr(strict, f) for f in flags}, module
    # warn_redundant_casts is global-only: the one strict flag the rest of the package gets too
    for module in ("tlsmgm_cli.cli.db_cmd", "tlsmgm_cli.render.mi", "tlsmgm_cli.docs"):
        mine = options.clone_for_module(module)
        assert {f for f in flags if getattr(mine, f) != getattr(default, f)} <= {"warn_redundant_casts"}, module


def test_mypy_passes_on_the_package() -> None:
    proc = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", "/dev/null"], cwd=ROOT,
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "Success: no issues found" in proc.stdout


def test_ci_runs_mypy_and_ruff_after_the_tests() -> None:
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    tests_at = lines.index("readme_test_command")
    assert lines.index("mypy") > tests_at
    assert lines.index("ruff check .") > tests_at


def test_the_test_extra_installs_mypy_ruff_and_the_stubs_they_need() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {req.split(";")[0].split("[")[0].split(">")[0].split("=")[0].split("<")[0].strip().lower()
             for req in project["optional-dependencies"]["test"]}
    assert {"mypy", "ruff", "types-pyyaml", "types-tabulate"} <= names
