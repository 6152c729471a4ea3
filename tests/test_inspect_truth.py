"""``tlsmgm inspect`` tells the truth on ordinary input (issue 11 "Commands that fail or
mislead", issue 12 items 5, 11 and its messages): one trust-store builder (a missing
ca_dir is not an error), certificates with an unknown key algorithm, PKCS#12, a missing
--crl, terminal escapes, and bundles inspected in linear time."""

from __future__ import annotations

import base64
import json
import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import pytest
from clirun import run
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlsmgm_cli.core.x509 import certgen
from tlsmgm_cli.core.x509.tlsvars import cert_var_names

ID_EC_PUBLIC_KEY = bytes.fromhex("06072A8648CE3D0201")  # OID 1.2.840.10045.2.1
UNKNOWN_KEY_OID = bytes.fromhex("06072A8648CE3D0209")  # 1.2.840.10045.2.9: no such algorithm
ESCAPE_CN = "evil\x1b]0;pwned\x07.example"


@pytest.fixture(scope="module")
def ca() -> certgen.Issued:
    return certgen.make_ca("truth CA")


def _pem(der: bytes) -> bytes:
    return b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(der) + b"-----END CERTIFICATE-----\n"


def _unknown_key_cert(ca: certgen.Issued) -> bytes:
    """A certificate whose SubjectPublicKeyInfo names an algorithm nobody knows (the
    DER edited in place; the signature no longer verifies, which inspect reports)."""
    der = certgen.make_cert(ca, "odd.example.com").cert.public_bytes(serialization.Encoding.DER)
    assert der.count(ID_EC_PUBLIC_KEY) == 1
    return _pem(der.replace(ID_EC_PUBLIC_KEY, UNKNOWN_KEY_OID))


# ---- 1. one trust store: a missing ca_dir is not an error --------------------------------------
def test_inspect_domain_of_the_demo_setup(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    assert run("demo", str(demo)).exit_code == 0
    cfg = demo / "opensips.cfg"
    assert "ca_dir" not in cfg.read_text()  # the default /etc/pki/CA/ applies
    result = run("inspect", str(demo / "client.crt"), "-c", str(cfg), "--domain", "atlanta",
                 "--var", "tls_peer_verified")
    assert result.exit_code == 0, result.output
    assert result.stdout == "1\n"
    assert "unable to load ca" not in result.output


def test_inspect_domain_whose_ca_dir_does_not_exist(tmp_path: Path, ca: certgen.Issued) -> None:
    leaf = certgen.make_cert(ca, "client.example", server=False, client=True)
    (tmp_path / "ca.pem").write_bytes(ca.cert_pem())
    (tmp_path / "leaf.pem").write_bytes(leaf.cert_pem())
    cfg = tmp_path / "o.cfg"
    cfg.write_text('loadmodule "tls_openssl.so"\nloadmodule "tls_mgm.so"\n'
                   'modparam("tls_mgm", "server_domain", "d")\n'
                   f'modparam("tls_mgm", "ca_list", "[d]{tmp_path / "ca.pem"}")\n'
                   f'modparam("tls_mgm", "ca_dir", "[d]{tmp_path / "no-such-dir"}")\n')
    result = run("-v", "inspect", str(tmp_path / "leaf.pem"), "-c", str(cfg), "--domain", "d", "-f", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["vars"]["tls_peer_verified"] == "1"


def test_one_trust_store_builder_for_every_command() -> None:
    """inspect, check, handshake and serve take a domain's CA sources from core.x509.truststore."""
    from tlsmgm_cli.core.domain import SERVER, TlsDomain
    from tlsmgm_cli.core.tls import context as tlsctx
    from tlsmgm_cli.core.x509.truststore import domain_sources

    dom = TlsDomain(name="x", side=SERVER, ca_dir="/nonexistent/ca/dir/")
    sources = domain_sources(dom)
    assert sources.ca_dirs == () and sources.skipped_ca_dirs == ("/nonexistent/ca/dir/",)
    assert not hasattr(tlsctx, "trust_store")  # the duplicate is gone
    core = Path(tlsctx.__file__).parent.parent
    for module in ("tls/context.py", "tls/handshake.py", "checks/certs.py"):
        assert "truststore" in (core / module).read_text(), module
    assert "truststore" in (core.parent / "cli" / "inspect_cmd.py").read_text()


# ---- 2. a key algorithm cryptography does not know ----------------------------------------------
@pytest.mark.parametrize("fmt", ["json", "text", "xlog"])
def test_unknown_key_algorithm_is_inspected_with_the_others(tmp_path: Path, ca: certgen.Issued, fmt: str) -> None:
    odd = tmp_path / "odd.pem"
    odd.write_bytes(_unknown_key_cert(ca))
    good = tmp_path / "good.pem"
    good.write_bytes(certgen.make_cert(ca, "good.example.com").cert_pem())
    result = run("inspect", str(odd), str(good), "-f", fmt)
    assert result.exit_code == 0, result.output
    if fmt == "json":
        items = json.loads(result.stdout)
        assert [i["source"] for i in items] == [str(odd), str(good)]
        assert set(items[0]["vars"]) == set(cert_var_names("peer"))
        assert items[0]["vars"]["tls_peer_subject_cn"] == "odd.example.com"
        assert items[0]["extra"]["key_type"] == "1.2.840.10045.2.9"
        assert items[1]["vars"]["tls_peer_subject_cn"] == "good.example.com"
    else:
        for name in cert_var_names("peer"):
            assert result.stdout.count(f"${name} ") == 2, name
        assert "odd.example.com" in result.stdout and "good.example.com" in result.stdout


def test_unknown_key_algorithm_with_a_ca(tmp_path: Path, ca: certgen.Issued) -> None:
    odd = tmp_path / "odd.pem"
    odd.write_bytes(_unknown_key_cert(ca))
    (tmp_path / "ca.pem").write_bytes(ca.cert_pem())
    result = run("inspect", str(odd), "--ca", str(tmp_path / "ca.pem"), "-f", "json")
    assert result.exit_code == 0, result.output
    item = json.loads(result.stdout)[0]
    assert item["extra"]["verify"]["code"] == 7  # the edited DER no longer matches its signature
    assert item["vars"]["tls_peer_verified"] == "0"


def test_check_with_an_unknown_key_algorithm_certificate(tmp_path: Path, ca: certgen.Issued) -> None:
    cert = tmp_path / "odd.pem"
    cert.write_bytes(_unknown_key_cert(ca))
    key = tmp_path / "odd.key"
    key.write_bytes(certgen.make_cert(ca, "other.example").key_pem())
    key.chmod(0o600)
    cfg = tmp_path / "o.cfg"
    cfg.write_text('loadmodule "tls_openssl.so"\nloadmodule "tls_mgm.so"\n'
                   'modparam("tls_mgm", "server_domain", "d")\n'
                   f'modparam("tls_mgm", "certificate", "[d]{cert}")\n'
                   f'modparam("tls_mgm", "private_key", "[d]{key}")\n')
    result = run("check", "-c", str(cfg), "-f", "json")  # no internal error (clirun)
    assert "findings" in json.loads(result.stdout)


def test_unreadable_file_still_fails_the_run(tmp_path: Path, ca: certgen.Issued) -> None:
    odd = tmp_path / "odd.pem"
    odd.write_bytes(_unknown_key_cert(ca))
    result = run("inspect", str(odd), str(tmp_path / "missing.pem"), "-f", "json")
    assert result.exit_code == 1
    assert len(json.loads(result.stdout)) == 1
    assert "missing.pem" in result.stderr and "not found" in result.stderr


# ---- 5. linear in the bundle size ----------------------------------------------------------------
def test_bundle_of_3000_certificates_is_linear(tmp_path: Path, ca: certgen.Issued) -> None:
    one = certgen.make_cert(ca, "bundle.example").cert_pem()
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(one * 3000)
    (tmp_path / "ca.pem").write_bytes(ca.cert_pem())
    started = time.monotonic()
    result = run("inspect", str(bundle), "--ca", str(tmp_path / "ca.pem"), "-f", "json")
    took = time.monotonic() - started
    assert result.exit_code == 0
    items = json.loads(result.stdout)
    assert len(items) == 3000 and all(i["vars"]["tls_peer_verified"] == "1" for i in items)
    assert took < 30, f"3000 certificates took {took:.1f} s"  # quadratic: several minutes


@pytest.fixture(scope="module")
def chain_pool() -> list[x509.Certificate]:
    root = certgen.make_ca("pool root")
    inter = certgen.make_ca("pool inter", parent=root)
    inter2 = certgen.make_ca("pool inter", parent=root)  # same name, another key
    return [root.cert, inter.cert, inter2.cert, certgen.make_cert(inter, "a.example").cert,
            certgen.make_cert(inter2, "b.example").cert, certgen.make_cert(root, "c.example").cert,
            certgen.make_cert(None, "self.example", self_signed=True).cert]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.lists(st.integers(min_value=0, max_value=6), min_size=1, max_size=8), trust_root=st.booleans())
def test_bundle_verification_equals_one_verification_per_certificate(
        chain_pool: list[x509.Certificate], order: list[int], trust_root: bool) -> None:
    from tlsmgm_cli.core.x509.verify import TrustStore, verify_bundle, verify_peer

    certs = [chain_pool[i] for i in order]
    store = TrustStore(certs=[chain_pool[0]] if trust_root else [])
    bundle = verify_bundle(certs, store)
    single = [verify_peer(certs[i:], store) for i in range(len(certs))]
    assert [(r.code, r.depth, r.chain) for r in bundle] == [(r.code, r.depth, r.chain) for r in single]


# ---- 6. messages: --crl missing, PKCS#12 -------------------------------------------------------
def test_missing_crl_says_not_found(tmp_path: Path, ca: certgen.Issued) -> None:
    leaf = tmp_path / "leaf.pem"
    leaf.write_bytes(certgen.make_cert(ca, "crl.example").cert_pem())
    result = run("inspect", str(leaf), "--crl", str(tmp_path / "missing.pem"))
    assert result.exit_code != 0
    assert "not found" in result.output and "no CRL in it" not in result.output


@pytest.fixture
def p12_files(tmp_path: Path, ca: certgen.Issued) -> tuple[Path, Path]:
    leaf = certgen.make_cert(ca, "p12.example")
    locked = tmp_path / "locked.p12"
    locked.write_bytes(pkcs12.serialize_key_and_certificates(
        b"n", leaf.key, leaf.cert, [ca.cert], serialization.BestAvailableEncryption(b"s3cret")))
    open_ = tmp_path / "open.p12"
    open_.write_bytes(pkcs12.serialize_key_and_certificates(
        b"n", leaf.key, leaf.cert, [ca.cert], serialization.NoEncryption()))
    return locked, open_


def test_pkcs12_is_read(tmp_path: Path, p12_files: tuple[Path, Path]) -> None:
    locked, open_ = p12_files
    result = run("inspect", str(open_), "--var", "tls_peer_subject_cn")
    assert result.exit_code == 0 and result.stdout == "p12.example\ntruth CA\n"
    pw = tmp_path / "pw"
    pw.write_text("s3cret\n")
    result = run("inspect", str(locked), "--password-file", str(pw), "--var", "tls_peer_subject_cn")
    assert result.exit_code == 0 and result.stdout.splitlines()[0] == "p12.example"
    result = run("inspect", str(locked), "--var", "tls_peer_subject_cn", env={"TLSMGM_P12_PASSWORD": "s3cret"})
    assert result.exit_code == 0 and result.stdout.splitlines()[0] == "p12.example"


def test_pkcs12_without_password_says_so(p12_files: tuple[Path, Path]) -> None:
    locked, _ = p12_files
    result = run("inspect", str(locked), env={"TLSMGM_P12_PASSWORD": None})  # type: ignore[dict-item]
    assert result.exit_code == 1
    assert "PKCS#12" in result.stderr and "--password-file" in result.stderr
    assert "not a certificate" not in result.stderr
    wrong = run("inspect", str(locked), env={"TLSMGM_P12_PASSWORD": "nope"})
    assert wrong.exit_code == 1 and "wrong password" in wrong.stderr and "nope" not in wrong.stderr


def test_pkcs12_password_file_that_is_not_utf8_is_a_wrong_password(tmp_path: Path,
                                                                  p12_files: tuple[Path, Path]) -> None:
    locked, _ = p12_files
    pw = tmp_path / "pw"
    pw.write_bytes(b"\xff\xfe\n")  # used to say "cannot be read (TypeError)"
    result = run("inspect", str(locked), "--password-file", str(pw))
    assert result.exit_code == 1 and "cannot be opened with the password given" in result.stderr


# ---- 7. terminal escapes -------------------------------------------------------------------
@pytest.fixture
def evil_cert(tmp_path: Path, ca: certgen.Issued) -> Path:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ESCAPE_CN)])
    path = tmp_path / "evil.pem"
    path.write_bytes(certgen.make_cert(ca, "x", subject=subject, sans=["DNS:evil.example"]).cert_pem())
    return path


def test_text_output_escapes_certificate_strings(evil_cert: Path) -> None:
    result = run("inspect", str(evil_cert))
    assert result.exit_code == 0
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "evil\\x1b]0;pwned\\x07.example" in result.stdout
    # off a terminal, xlog, JSON and --var stay exact
    xlog = run("inspect", str(evil_cert), "-f", "xlog")
    assert f"$tls_peer_subject_cn = '{ESCAPE_CN}'\n" in xlog.stdout
    data = json.loads(run("inspect", str(evil_cert), "-f", "json").stdout)
    assert data[0]["vars"]["tls_peer_subject_cn"] == ESCAPE_CN
    assert run("inspect", str(evil_cert), "--var", "tls_peer_subject_cn").stdout == ESCAPE_CN + "\n"


def _on_a_terminal(args: list[str]) -> bytes:
    """stdout of ``tlsmgm ARGS`` written to a pseudo-terminal."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "tlsmgm_cli", *args], stdout=slave,
                                stderr=subprocess.PIPE, env={**os.environ, "COLUMNS": "200"})
        os.close(slave)
        chunks = []
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        proc.wait(30)
        assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
        return b"".join(chunks)
    finally:
        os.close(master)


@pytest.mark.parametrize("fmt", ["xlog", "text"])
def test_terminal_output_is_escaped(evil_cert: Path, fmt: str) -> None:
    out = _on_a_terminal(["--no-color", "inspect", str(evil_cert), "-f", fmt])
    assert b"]0;pwned" in out
    assert b"\x1b]0;" not in out and b"\x07" not in out
    assert b"\\x1b]0;pwned\\x07" in out


# ---- 8. only regular files ---------------------------------------------------------------------
def test_inspect_reads_through_the_safe_reader(tmp_path: Path) -> None:
    from tlsmgm_cli.core.limits import PKI_FILE_MAX_BYTES

    big = tmp_path / "big.pem"
    with open(big, "wb") as handle:
        handle.truncate(PKI_FILE_MAX_BYTES + 1)
    result = run("inspect", str(big))
    assert result.exit_code == 1 and "limit" in result.stderr
