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
