"""Helpers to write test configs: ``cfg(...)`` builds an opensips.cfg text from short
``modparam`` lines, and ``load(tmp_path, text)`` reads it into a DomainSet."""

from __future__ import annotations

import textwrap
from pathlib import Path

HEADER = 'loadmodule "tls_openssl.so"\nloadmodule "tls_mgm.so"\n'


def mp(param: str, value: str) -> str:
    """One modparam("tls_mgm", ...) line with a string value."""
    return f'modparam("tls_mgm", "{param}", "{value}")\n'


def write_cfg(tmp_path: Path, body: str, *, header: str = HEADER, name: str = "opensips.cfg") -> Path:
    path = tmp_path / name
    path.write_text(header + textwrap.dedent(body).lstrip("\n"))
    return path


def load(tmp_path: Path, body: str, *, header: str = HEADER, **kw):
    from tlsmgm_cli.core.loader import load_domains

    return load_domains(str(write_cfg(tmp_path, body, header=header)), **kw)
