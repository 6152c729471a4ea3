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
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    result = run(*["demo", str(target)])
    assert result.exit_code == 2
    assert "already exists" in result.stderr and "--force" in result.stderr
    assert (target / "keep.txt").read_text() == "mine"
    result = run(*["demo", str(target), "--force"])
    assert result.exit_code == 0, result.output
    assert not (target / "keep.txt").exists()
