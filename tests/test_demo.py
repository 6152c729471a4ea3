"""tlsmgm demo: a self-contained, valid example that never clobbers an existing directory."""

from __future__ import annotations

import stat

from clirun import run
from cryptography import x509

from tlsmgm_cli.core.loader import load_domains


def test_demo_writes_a_valid_setup(tmp_path):
    target = tmp_path / "demo"
    result = run(*["demo", str(target)])
    assert result.exit_code == 0, result.output
    for name in ("ca", "atlanta", "biloxi", "generic", "client"):
        assert (target / f"{name}.crt").is_file()
        assert stat.S_IMODE((target / f"{name}.key").stat().st_mode) == 0o600
    ds = load_domains(str(target / "opensips.cfg"))
    assert not ds.errors
    assert [(d.side, d.name) for d in ds.all] == [
        ("client", "trunk"), ("server", "generic"), ("server", "biloxi"), ("server", "atlanta")]
    ca = x509.load_pem_x509_certificate((target / "ca.crt").read_bytes())
    for dom in ds.all:
        cert = x509.load_pem_x509_certificate(open(dom.eff_certificate, "rb").read())
        cert.verify_directly_issued_by(ca)
        assert dom.ca_list == str(target / "ca.crt")
    # the listing is shown, with every domain and its certificate
    for name in ("trunk", "generic", "biloxi", "atlanta", "CN=atlanta.com"):
        assert name in result.stdout
    assert "tlsmgm match" in result.stderr  # next steps


def test_demo_never_overwrites_without_force(tmp_path):
    target = tmp_path / "demo"
    assert run("demo", str(target)).exit_code == 0
    first = (target / "ca.crt").read_bytes()
    result = run("demo", str(target))
    assert result.exit_code == 2
    assert "already exists" in result.stderr and "--force" in result.stderr
    assert (target / "ca.crt").read_bytes() == first
    result = run("demo", str(target), "--force")  # a demo directory is replaced whole
    assert result.exit_code == 0, result.output
    assert (target / "ca.crt").read_bytes() != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]  # no staging left behind


def test_force_never_deletes_what_the_demo_did_not_write(tmp_path, monkeypatch):
    """`demo . --force` in a home or project directory must not wipe it (issue 12)."""
    mine = tmp_path / "project"
    (mine / "inner").mkdir(parents=True)
    (mine / "precious.txt").write_text("keep")
    monkeypatch.chdir(mine / "inner")
    for target in (str(mine), ".", "..", str(mine / "inner" / "..")):
        result = run("demo", target, "--force")
        assert result.exit_code == 2, result.output
        assert "is not a directory tlsmgm demo wrote" in result.stderr
    assert (mine / "precious.txt").read_text() == "keep" and (mine / "inner").is_dir()
    link = tmp_path / "link"
    link.symlink_to(mine)
    assert run("demo", str(link), "--force").exit_code == 2
    assert (mine / "precious.txt").exists()
    # a demo directory with a file added by the user is not replaced either
    demo = tmp_path / "demo"
    assert run("demo", str(demo)).exit_code == 0
    (demo / "notes.txt").write_text("mine")
    result = run("demo", str(demo), "--force")
    assert result.exit_code == 2 and "it holds other files (notes.txt)" in result.stderr
