"""Shared fixtures: the test PKI (see tests/pki.py for its API)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pki import Pki, build_pki


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
