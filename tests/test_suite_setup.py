"""The test suite itself: it runs anywhere with the README's command (issue 13).

`pip install '.[test]'` installs everything the suite needs; the suite never installs packages or
starts system services; database servers are throwaway ones started from the installed binaries,
skipped with the true reason when those are absent, and required where CI says so.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from dbservers import ENV, REQUIRE_ENV, SEARCH_ENV
from pki import DH_PARAMS_PEM

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())

# imported by tlsmgm_cli at run time when a DB test connects, not by the tests themselves
DRIVEN_AT_RUN_TIME = {"psycopg", "pymysql"}
# named in pyproject's pytest settings (--dist, timeout), not imported
PLUGINS_CONFIGURED = {"xdist", "pytest_timeout"}


def _dist_name(requirement: str) -> str:
    name = re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def _imported_modules() -> set[str]:
    names: set[str] = set()
    for path in TESTS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    local = {p.stem for p in TESTS.rglob("*.py")} | {"tlsmgm_cli"}
    return {n for n in names if n not in sys.stdlib_module_names and n not in local}


def test_the_test_extra_installs_everything_the_suite_needs() -> None:
    project = PYPROJECT["project"]
    declared = {_dist_name(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]}
    providers = packages_distributions()
    missing = {}
    for module in sorted(_imported_modules() | DRIVEN_AT_RUN_TIME | PLUGINS_CONFIGURED):
        dists = {_dist_name(d) for d in providers.get(module, [])}
        if not dists & declared:
            missing[module] = sorted(dists) or "not installed"
    assert not missing, f"modules the suite needs that '.[test]' does not install: {missing}"


FORBIDDEN = ("apt-get", "apt install", "start-databases", "systemctl", "invoke-rc.d", "/etc/init.d",
             "pg_ctlcluster", "service postgresql", "service mariadb", "sudo ")


def test_the_suite_never_installs_packages_or_starts_system_services() -> None:
    offenders = [f"{path.relative_to(TESTS)}: {word}" for path in sorted(TESTS.rglob("*.py"))
                 if path != Path(__file__)
                 for word in FORBIDDEN if word in path.read_text()]
    assert offenders == []


def test_ci_runs_exactly_the_readmes_test_command() -> None:
    ci = re.search(r"^readme_test_command\(\) \{ (.+); \}$", (REPO / ".ci" / "run").read_text(), re.M)
    readme = [line.strip() for line in (REPO / "README.md").read_text().splitlines()
              if line.strip().startswith("pip install '.[test]'")]
    assert ci is not None and readme == [ci.group(1)]
    assert "pytest" in ci.group(1)


# ---- database servers: truthful skips, required in CI --------------------------------------------

PROBE = """
def test_probe(db_url):
    assert db_url
"""


def _run_probe(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run a one-test session using the suite's db_url fixture in a separate pytest process."""
    (tmp_path / "conftest.py").write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(TESTS)!r})
        from dbservers import db_url, mysql_server_url, postgres_server_url  # noqa: F401
    """))
    (tmp_path / "test_probe.py").write_text(PROBE)
    environ = {k: v for k, v in os.environ.items() if k not in (*ENV.values(), REQUIRE_ENV, SEARCH_ENV)}
    environ.update(env, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")  # the probe needs no plugin: start faster
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                           "-rA", "-q", str(tmp_path / "test_probe.py")],
                          cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=120)


def test_absent_server_binaries_skip_with_the_true_reason(tmp_path: Path) -> None:
    empty = tmp_path / "no-binaries"
    empty.mkdir()
    proc = _run_probe(tmp_path, **{SEARCH_ENV: str(empty)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed, 2 skipped" in proc.stdout
    assert f"no pg_ctl in {SEARCH_ENV}" in proc.stdout
    assert f"no mysqld/mariadbd in {SEARCH_ENV}" in proc.stdout


def test_required_databases_fail_instead_of_skipping(tmp_path: Path) -> None:
    empty = tmp_path / "no-binaries"
    empty.mkdir()
    proc = _run_probe(tmp_path, **{SEARCH_ENV: str(empty), REQUIRE_ENV: "1"})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 passed, 2 errors" in proc.stdout
    assert "skipped" not in proc.stdout
    assert f"no pg_ctl in {SEARCH_ENV} ({REQUIRE_ENV}=1" in proc.stdout
    assert f"no mysqld/mariadbd in {SEARCH_ENV} ({REQUIRE_ENV}=1" in proc.stdout


def _assert_scratch(datadir: Path, prefix: str) -> None:
    """The data directory is in a fresh directory of the fixture's, in a temporary place."""
    assert datadir.parent.name.startswith(prefix)
    assert datadir.parent.parent in (Path("/dev/shm"), Path(tempfile.gettempdir()).resolve())


def _throwaway(backend: str) -> None:
    if os.environ.get(ENV[backend]):
        pytest.skip(f"{ENV[backend]} names an external server")


@pytest.mark.postgres
def test_postgres_is_a_throwaway_server_in_a_temporary_directory(postgres_server_url: str) -> None:
    _throwaway("postgres")
    import psycopg

    with psycopg.connect(postgres_server_url.replace("postgres://", "postgresql://", 1),
                         connect_timeout=10) as conn:
        row = conn.execute("SHOW data_directory").fetchone()
    assert row is not None
    _assert_scratch(Path(row[0]), "tlsmgm-pg-")


@pytest.mark.mysql
def test_mysql_is_a_throwaway_server_in_a_temporary_directory(mysql_server_url: str) -> None:
    _throwaway("mysql")
    from urllib.parse import urlsplit

    import pymysql

    url = urlsplit(mysql_server_url)
    conn = pymysql.connect(host=url.hostname, port=url.port, user=url.username, password=url.password,
                           database=url.path.lstrip("/"), connect_timeout=10)
    with conn.cursor() as cur:
        cur.execute("SELECT @@datadir")
        datadir = cur.fetchone()[0]
    conn.close()
    _assert_scratch(Path(datadir), "tlsmgm-my-")


# ---- precomputed DH parameters (generating them was the slowest part of a check test) ------------

def _probably_prime(n: int) -> bool:
    """Miller-Rabin with a few prime bases (a composite passing all of them is beyond doubt here)."""
    bases = (2, 3, 5, 7)
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for a in bases:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


@pytest.mark.parametrize("bits", [1024, 2048])
def test_dh_params_are_safe_prime_groups_of_their_size(bits: int) -> None:
    import warnings

    from cryptography.hazmat.primitives import serialization

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FFDH deprecation: the check under test still reads them
        numbers = serialization.load_pem_parameters(DH_PARAMS_PEM[bits]).parameter_numbers()
    p = numbers.p
    assert p.bit_length() == bits and numbers.g == 2
    assert p >> (bits - 64) == 2**64 - 1 and p % 2**64 == 2**64 - 1  # RFC 2409/7919: 64 ones each end
    assert _probably_prime(p) and _probably_prime((p - 1) // 2)
