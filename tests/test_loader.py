"""load_domains policies: DB reachability."""

from __future__ import annotations

from cfgtext import mp, write_cfg
from clirun import run

from tlsmgm_cli.core.loader import load_domains


def test_explicit_unreachable_db_is_an_error(tmp_path):
    path = write_cfg(tmp_path, mp("server_domain", "d"))
    result = run(*["list", "-c", str(path), "--db", f"sqlite:///{tmp_path}/none.db"])
    assert result.exit_code == 2
    assert "cannot read the DB domains" in result.stderr


def test_config_db_url_unreachable_is_a_warning(tmp_path):
    path = write_cfg(tmp_path, mp("server_domain", "d") + mp("db_url", f"sqlite:///{tmp_path}/none.db"))
    ds = load_domains(str(path))
    assert [(d.severity, d.code) for d in ds.diagnostics if d.code == "db-unreachable"] == [
        ("warning", "db-unreachable")]
    assert [d.name for d in ds.server] == ["d"]
