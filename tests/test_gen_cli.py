"""tlsmgm gen ca | cert | crl, through click and (a few) real subprocesses."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from clirun import run
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from tlsmgm_cli.cli import COMMANDS
from tlsmgm_cli.core.x509 import certgen
from tlsmgm_cli.core.x509 import facts as x509_facts

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl binary not installed")


def ok(*args: str | Path):
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result


def cert_at(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def spki(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.fixture
def ca_dir(tmp_path: Path) -> Path:
    ok("gen", "ca", "--out", tmp_path / "pki")
    return tmp_path / "pki"


def test_gen_ca_writes_a_real_ca(ca_dir: Path) -> None:
    ca = cert_at(ca_dir / "ca.crt")
    bc = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca
    ku = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.key_cert_sign and ku.crl_sign
    assert stat.S_IMODE((ca_dir / "ca.key").stat().st_mode) == 0o600
    assert sorted(p.name for p in ca_dir.iterdir()) == ["ca.crt", "ca.key"]


def test_gen_ca_options(tmp_path: Path) -> None:
    result = ok("gen", "ca", "--out", tmp_path, "--cn", "Example CA", "--rsa", "1024", "--days", "7")
    ca = cert_at(tmp_path / "ca.crt")
    assert ca.subject.rfc4514_string() == "CN=Example CA"
    assert x509_facts.key_text(ca) == "RSA 1024"
    assert (ca.not_valid_after_utc - ca.not_valid_before_utc).days == 7
    assert "RSA 1024" in result.output and "PRIVATE KEY" not in result.output


def test_gen_cert_is_signed_by_the_ca_with_its_own_key(ca_dir: Path) -> None:
    result = ok("gen", "cert", "server", "--out", ca_dir, "--cn", "atlanta.com", "--san", "atlanta.com",
                "--san", "IP:10.0.0.1", "--san", "URI:sip:atlanta.com")
    ca, leaf = cert_at(ca_dir / "ca.crt"), cert_at(ca_dir / "server.crt")
    leaf.verify_directly_issued_by(ca)
    assert spki(leaf) != spki(ca)
    assert certgen.load_issued(ca_dir / "server.crt", ca_dir / "server.key").cert == leaf
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [x509_facts.general_name_text(n) for n in sans] == ["DNS:atlanta.com", "IP:10.0.0.1",
                                                            "URI:sip:atlanta.com"]
    assert list(leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH]
    assert stat.S_IMODE((ca_dir / "server.key").stat().st_mode) == 0o600
    assert f"wrote {ca_dir / 'server.crt'}" in result.output
    assert "DNS:atlanta.com, IP:10.0.0.1, URI:sip:atlanta.com" in result.output
    assert f"0x{leaf.serial_number:x}" in result.output
    assert "PRIVATE KEY" not in result.output


def test_gen_cert_defaults_cn_and_san_to_name(ca_dir: Path) -> None:
    ok("gen", "cert", "biloxi.com", "--out", ca_dir)
    leaf = cert_at(ca_dir / "biloxi.com.crt")
    assert leaf.subject.rfc4514_string() == "CN=biloxi.com"
    assert leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value == \
        x509.SubjectAlternativeName([x509.DNSName("biloxi.com")])


@pytest.mark.parametrize(("flags", "expected"), [
    ([], [ExtendedKeyUsageOID.SERVER_AUTH]),
    (["--client"], [ExtendedKeyUsageOID.CLIENT_AUTH]),
    (["--server", "--client"], [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
])
def test_gen_cert_eku_flags(ca_dir: Path, flags: list[str], expected: list) -> None:
    ok("gen", "cert", "c", "--out", ca_dir, *flags)
    assert list(cert_at(ca_dir / "c.crt").extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) \
        == expected


@pytest.mark.parametrize(("flags", "expected"), [
    (["--ec"], "EC P-256"), (["--ec", "--days", "3"], "EC P-256"), (["--ec", "P-384"], "EC P-384"), (["--rsa", "1024"], "RSA 1024"), ([], "EC P-256"),
])
def test_gen_cert_key_flags(ca_dir: Path, flags: list[str], expected: str) -> None:
    ok("gen", "cert", "k", "--out", ca_dir, *flags)
    assert x509_facts.key_text(cert_at(ca_dir / "k.crt")) == expected


def test_gen_cert_with_separate_ca_dir(ca_dir: Path, tmp_path: Path) -> None:
    ok("gen", "cert", "gw", "--out", tmp_path / "certs", "--ca-dir", ca_dir)
    cert_at(tmp_path / "certs" / "gw.crt").verify_directly_issued_by(cert_at(ca_dir / "ca.crt"))
    assert not (tmp_path / "certs" / "ca.crt").exists()


def test_never_overwrites_without_force(ca_dir: Path) -> None:
    before = (ca_dir / "ca.crt").read_bytes(), (ca_dir / "ca.key").read_bytes()
    result = run("gen", "ca", "--out", ca_dir)
    assert result.exit_code == 2
    assert f"{ca_dir / 'ca.crt'} already exists (use --force to overwrite it)" in result.output
    assert ((ca_dir / "ca.crt").read_bytes(), (ca_dir / "ca.key").read_bytes()) == before
    ok("gen", "cert", "s", "--out", ca_dir)
    leaf = (ca_dir / "s.crt").read_bytes()
    assert run("gen", "cert", "s", "--out", ca_dir).exit_code == 2
    assert (ca_dir / "s.crt").read_bytes() == leaf
    ok("gen", "cert", "s", "--out", ca_dir, "--force")
    assert (ca_dir / "s.crt").read_bytes() != leaf
    ok("gen", "ca", "--out", ca_dir, "--force")
    assert (ca_dir / "ca.crt").read_bytes() != before[0]


@pytest.mark.parametrize(("args", "message"), [
    (["gen", "cert", "x", "--ec", "--rsa", "2048"], "mutually exclusive"),
    (["gen", "cert", "x", "--ec", "P-999"], "'P-999' is not one of P-256, P-384, P-521"),
    (["gen", "cert", "../x"], "must be a plain file name"),
    (["gen", "cert", "ca", "--force"], "'ca' would replace the CA's own files"),
    (["gen", "cert", "x", "--san", "IP:nope"], "'nope' is not an IP address"),
    (["gen", "cert", "x", "--days", "0"], "--days"),
    (["gen", "crl", "--revoke", "zz"], "'zz' is not a serial"),
    (["gen", "crl", "--revoke", "-5"], "not negative"),
])
def test_bad_input_is_a_usage_error(ca_dir: Path, args: list[str], message: str) -> None:
    result = run(*args, "--out", ca_dir)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_missing_ca_is_a_clear_error(tmp_path: Path) -> None:
    result = run("gen", "cert", "x", "--out", tmp_path)
    assert result.exit_code == 2
    assert f"{tmp_path / 'ca.crt'} not found (create a CA first: tlsmgm gen ca --out {tmp_path})" in result.output


def test_json_output(ca_dir: Path) -> None:
    data = json.loads(ok("gen", "cert", "j", "--out", ca_dir, "--san", "IP:::1", "--format", "json").output)
    leaf = cert_at(ca_dir / "j.crt")
    assert data["certificate"] == str(ca_dir / "j.crt")
    assert data["private_key"] == str(ca_dir / "j.key")
    assert data["sans"] == ["IP:::1"]
    assert data["serial"] == f"0x{leaf.serial_number:x}"
    assert data["not_after"] == leaf.not_valid_after_utc.isoformat()
    assert data["ca"] is False


def test_gen_crl_revokes_and_accumulates(ca_dir: Path) -> None:
    ok("gen", "cert", "victim", "--out", ca_dir)
    victim = cert_at(ca_dir / "victim.crt")
    ok("gen", "crl", "--out", ca_dir, "--revoke", "0x3001", "--revoke", "7")
    data = json.loads(ok("gen", "crl", "--out", ca_dir, "--revoke-cert", ca_dir / "victim.crt",
                         "--format", "json").output)
    crl = certgen.load_crl(ca_dir / "crl.pem")
    assert sorted(r.serial_number for r in crl) == sorted([0x3001, 7, victim.serial_number])
    assert crl.is_signature_valid(cert_at(ca_dir / "ca.crt").public_key())
    assert data["added"] == [f"0x{victim.serial_number:x}"]
    assert data["crl_dir"] == str(ca_dir / "crl")
    hashed = ca_dir / "crl" / Path(data["hashed"][0]).name
    assert hashed.read_bytes() == (ca_dir / "crl.pem").read_bytes()
    assert stat.S_ISREG(os.lstat(hashed).st_mode)


def test_gen_crl_refuses_a_foreign_crl_without_force(ca_dir: Path, tmp_path: Path) -> None:
    ok("gen", "crl", "--out", ca_dir, "--revoke", "1")
    ok("gen", "ca", "--out", tmp_path / "other")
    result = run("gen", "crl", "--out", ca_dir, "--ca-dir", tmp_path / "other", "--revoke", "2")
    assert result.exit_code == 2 and "was not issued by this CA" in result.output
    ok("gen", "crl", "--out", ca_dir, "--ca-dir", tmp_path / "other", "--revoke", "2", "--force")
    assert [r.serial_number for r in certgen.load_crl(ca_dir / "crl.pem")] == [2]
    assert len(list((ca_dir / "crl").iterdir())) == 1  # the old issuer's hashed CRL is gone


@needs_openssl
def test_outputs_verify_with_openssl(ca_dir: Path) -> None:
    ok("gen", "cert", "good", "--out", ca_dir, "--rsa", "2048", "--server", "--client")
    ok("gen", "cert", "bad", "--out", ca_dir)
    bad_serial = cert_at(ca_dir / "bad.crt").serial_number
    ok("gen", "crl", "--out", ca_dir, "--revoke", str(bad_serial))
    ca = str(ca_dir / "ca.crt")

    def verify(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([OPENSSL, "verify", "-CAfile", ca, *args], capture_output=True, text=True)

    good = verify("-purpose", "sslserver", str(ca_dir / "good.crt"))
    assert good.returncode == 0, good.stdout + good.stderr
    assert verify("-purpose", "sslclient", str(ca_dir / "good.crt")).returncode == 0
    crl_dir = str(ca_dir / "crl")
    assert verify("-CApath", crl_dir, "-crl_check", str(ca_dir / "good.crt")).returncode == 0
    revoked = verify("-CApath", crl_dir, "-crl_check", str(ca_dir / "bad.crt"))
    assert revoked.returncode != 0 and "certificate revoked" in revoked.stdout + revoked.stderr
    crl_hash = subprocess.run([OPENSSL, "crl", "-hash", "-noout", "-in", str(ca_dir / "crl.pem")],
                              capture_output=True, text=True, check=True).stdout.strip()
    assert [p.name for p in (ca_dir / "crl").iterdir()] == [f"{crl_hash}.r0"]
    text = subprocess.run([OPENSSL, "x509", "-noout", "-text", "-in", ca], capture_output=True, text=True,
                          check=True).stdout
    assert "CA:TRUE" in text and "Certificate Sign" in text


def test_real_subprocess_run(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "tlsmgm_cli", "gen", "ca", "--out", str(tmp_path),
                           "--format", "json"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["ca"] is True
    again = subprocess.run([sys.executable, "-m", "tlsmgm_cli", "gen", "ca", "--out", str(tmp_path)],
                           capture_output=True, text=True)
    assert again.returncode == 2
    assert again.stderr.strip() == f"tlsmgm: error: {tmp_path / 'ca.crt'} already exists (use --force to overwrite it)"


def test_short_help_matches_command_list() -> None:
    from tlsmgm_cli.cli.gen_cmd import gen_group

    assert gen_group.get_short_help_str(limit=200) == COMMANDS["gen"][2]
    assert set(gen_group.commands) == {"ca", "cert", "crl"}
