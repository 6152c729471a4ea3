"""Shared fixtures: the test PKI (see tests/pki.py for its API) and the databases (db_url,
server_url: see tests/dbservers.py for where the servers come from)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from dbservers import db_url, mysql_server_url, postgres_server_url, server_url  # noqa: F401
from pki import Pki, build_pki
from tlsserving import ClientCerts, make_client_pki


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: harmless where xdist is absent
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`pytest -n auto`: two workers per CPU (at most 8). Many tests spend their time waiting for
    a timeout (silent servers, lock waits), so on 2 cores 4 workers finish sooner than 2."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(2 * cpus, 8)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """The session-wide test PKI, generated once (read-only: use make_pki to modify files)."""
    return build_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def make_pki(tmp_path: Path) -> Callable[..., Pki]:
    """Factory for a private test PKI under this test's tmp_path: make_pki(subdir="pki")."""

    def _make(subdir: str = "pki") -> Pki:
        return build_pki(tmp_path / subdir)

    return _make


@pytest.fixture(scope="module")
def client_pki(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> ClientCerts:
    """Client-auth certificates issued by ``pki``'s root: valid, expired, self-signed,
    revoked (with a hashed CRL dir); see tlsserving.ClientCerts."""
    return make_client_pki(pki, tmp_path_factory.mktemp("clients"))


@pytest.fixture
def umask_022() -> Iterator[None]:
    """A umask that would make new files 0644 (the process's umask restored after)."""
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.fixture(autouse=True)
def _no_internal_error(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every in-process CLI run of every test fails the test when it hit an internal error
    (see clirun.py), whatever exit status the test itself expected."""
    from click.testing import CliRunner
    from clirun import check_result

    original = CliRunner.invoke

    def invoke(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        result = original(self, *args, **kwargs)
        check_result(result)
        return result

    monkeypatch.setattr(CliRunner, "invoke", invoke)
