"""Database servers for the DB test suite.

``db_url`` (function fixture, parametrised): a URL to an empty database - SQLite always
(a file in tmp_path), PostgreSQL and MariaDB/MySQL from ``TLSMGM_TEST_PG_URL`` /
``TLSMGM_TEST_MYSQL_URL``. When those are unset, local servers are discovered (the
defaults ``.ci/start-databases`` creates) or, as root, started with that script; a backend
is skipped only when no server can be reached or started. Server databases are emptied of
the tables tests create before each test.

Test modules use it with ``from dbservers import db_url  # noqa: F401``.
"""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

import pytest

from tlsmgm_cli.core.db.backend import DbError, connect

REPO = Path(__file__).resolve().parent.parent
START_SCRIPT = REPO / ".ci" / "start-databases"
ENV = {"postgres": "TLSMGM_TEST_PG_URL", "mysql": "TLSMGM_TEST_MYSQL_URL"}
DEFAULT_URLS = {
    "postgres": "postgres://tlsmgm:tlsmgm-test-pw@127.0.0.1:5432/tlsmgm_test",
    "mysql": "mysql://tlsmgm:tlsmgm-test-pw@127.0.0.1:3306/tlsmgm_test",
}
TEST_TABLES = ("tls_mgm", "tls_custom", "version")


def _reachable(url: str) -> str | None:
    """None when a connection works, else the (masked) reason."""
    try:
        connect(url).close()
    except DbError as err:
        return str(err)
    return None


@functools.lru_cache(maxsize=None)
def _started_urls() -> dict[str, str]:
    """Run .ci/start-databases once (root only) and read its export lines."""
    if os.geteuid() != 0 or not START_SCRIPT.exists():
        return {}
    proc = subprocess.run([str(START_SCRIPT)], capture_output=True, text=True, timeout=900)
    urls = {}
    for line in proc.stdout.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        for backend, var in ENV.items():
            if name == var:
                urls[backend] = value
    return urls


@functools.lru_cache(maxsize=None)
def server_url(backend: str) -> tuple[str | None, str]:
    """(url, why-not) for a PostgreSQL or MySQL test server."""
    url = os.environ.get(ENV[backend])
    if url:
        problem = _reachable(url)
        return (None, f"{ENV[backend]}: {problem}") if problem else (url, "")
    if _reachable(DEFAULT_URLS[backend]) is None:
        return DEFAULT_URLS[backend], ""
    url = _started_urls().get(backend)
    if url and _reachable(url) is None:
        return url, ""
    return None, f"no {backend} server (set {ENV[backend]} or run .ci/start-databases as root)"


def reset_database(url: str) -> None:
    """Drop the tables tests create."""
    with connect(url) as db:
        for table in TEST_TABLES:
            db.execute(f"DROP TABLE IF EXISTS {table}")


BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    pytest.param("mysql", id="mysql", marks=pytest.mark.mysql),
]


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL to an empty database of each backend."""
    backend = request.param
    if backend == "sqlite":
        return f"sqlite://{tmp_path / 'opensips.db'}"
    url, why = server_url(backend)
    if url is None:
        pytest.skip(why)
    reset_database(url)
    return url
