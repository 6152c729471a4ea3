"""`tlsmgm inspect` end to end: formats, verification options, config domains, bad input."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import Result
from clirun import run
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from tlsmgm_cli.core.x509.certgen import Issued, crl_pem, make_ca, make_cert, make_crl

NOW = dt.datetime.now(dt.timezone.utc)
DAY = dt.timedelta(days=1)


@pytest.fixture(scope="module")
def root() -> Issued:
    return make_ca("inspect root")


@pytest.fixture(scope="module")
def inter(root: Issued) -> Issued:
    return make_ca("inspect intermediate", parent=root)


def run_inspect(*args: str, stdin: bytes | None = None) -> Result:
    """``tlsmgm inspect ARGS`` (the shared clirun.run)."""
    return run("inspect", *args, input=stdin)


def write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def test_json_for_a_bundle_verifies_each_cert_with_the_rest(tmp_path: Path, root: Issued, inter: Issued) -> None:
    leaf = make_cert(inter, "sip.biloxi.com", serial=0x3001)
    bundle = write(tmp_path / "chain.pem", leaf.cert_pem() + inter.cert_pem())
    ca = write(tmp_path / "ca.pem", root.cert_pem())
    result = run_inspect(bundle, "--ca", ca, "-f", "json")
    assert result.exit_code == 0, result.output
    items = json.loads(result.output)
    assert [(i["source"], i["index"]) for i in items] == [(bundle, 0), (bundle, 1)]
    first = items[0]["vars"]
    assert first["tls_peer_subject"] == "/CN=sip.biloxi.com"
    assert first["tls_peer_issuer"] == "/CN=inspect intermediate"
    assert first["tls_peer_serial"] == "12289"
    assert first["tls_peer_san_hostname"] == "sip.biloxi.com" and first["tls_peer_san_uri"] is None
    assert (first["tls_peer_verified"], first["tls_peer_selfsigned"]) == ("1", "0")
    extra = items[0]["extra"]
    assert extra["verify"] == {"code": 0, "text": "ok", "depth": 0}
    assert extra["key_type"] == "EC secp256r1" and extra["extended_key_usage"] == ["serverAuth"]
    assert len(extra["sha256_fingerprint"]) == 95 and extra["days_left"] >= 800
    assert extra["openssl_command"].startswith(f"openssl x509 -in {bundle} -noout")
    assert "serial_hex" not in extra
    assert items[1]["vars"]["tls_peer_subject"] == "/CN=inspect intermediate"


def test_xlog_text_yaml_and_my(tmp_path: Path, root: Issued) -> None:
    path = write(tmp_path / "c.pem", make_cert(root, "a.example").cert_pem())
    xlog = run_inspect(path, "-f", "xlog")
    assert xlog.exit_code == 0
    lines = xlog.output.splitlines()
    assert lines[0] == f"# {path} #0"
    assert "$tls_peer_subject = '/CN=a.example'" in lines
    assert "$tls_peer_san_email = <null>" in lines
    assert "$tls_peer_verified = '0'" in lines  # nothing trusted without --ca
    mine = run_inspect(path, "-f", "xlog", "--as", "my").output
    assert "$tls_my_issuer = '/CN=inspect root'" in mine and "tls_peer" not in mine and "verified" not in mine
    text = run_inspect(path).output
    assert "$tls_peer_subject_cn" in text and "a.example" in text and "20 unable to get local issuer" in text
    data = yaml.safe_load(run_inspect(path, "-f", "yaml").output)
    assert data[0]["vars"]["tls_peer_subject_cn"] == "a.example"


def test_var_prints_raw_value_and_null_exits_1(tmp_path: Path, root: Issued) -> None:
    path = write(tmp_path / "c.pem", make_cert(root, "b.example").cert_pem())
    ok = run_inspect(path, "--var", "$tls_peer_subject_cn")
    assert (ok.exit_code, ok.output) == (0, "b.example\n")
    null = run_inspect(path, "--var", "tls_peer_san_uri")
    assert (null.exit_code, null.output) == (1, "")
    assert run_inspect(path, "--var", "tls_peer_nonsense").exit_code == 2
    assert run_inspect(path, "--var", "tls_peer_notBefore", "--as", "my").exit_code == 2


def test_flags_expired_selfsigned_revoked_and_at(tmp_path: Path) -> None:
    root = make_ca("old root", not_before=NOW - 30 * DAY)
    ca = write(tmp_path / "ca.pem", root.cert_pem())
    expired = write(tmp_path / "e.pem", make_cert(root, "e.example", not_before=NOW - 9 * DAY,
                                                   not_after=NOW - DAY).cert_pem())
    assert run_inspect(expired, "--ca", ca, "--var", "tls_peer_expired").output == "1\n"
    at = (NOW - 5 * DAY).strftime("%Y-%m-%dT%H:%M:%S")
    assert run_inspect(expired, "--ca", ca, "--at", at, "--var", "tls_peer_verified").output == "1\n"
    self_signed = write(tmp_path / "s.pem", make_cert(None, "s.example", self_signed=True).cert_pem())
    assert run_inspect(self_signed, "--var", "tls_peer_selfsigned").output == "1\n"
    assert run_inspect(self_signed, "--ca", self_signed, "--var", "tls_peer_verified").output == "1\n"
    revoked = write(tmp_path / "r.pem", make_cert(root, "r.example", serial=0x4242).cert_pem())
    crl = write(tmp_path / "root.crl", crl_pem(make_crl(root, [0x4242])))
    assert run_inspect(revoked, "--ca", ca, "--crl", crl, "--var", "tls_peer_revoked").output == "1\n"
    assert run_inspect(revoked, "--ca", ca, "--var", "tls_peer_revoked").output == "0\n"


def test_domain_settings_from_config(tmp_path: Path, root: Issued) -> None:
    ca = write(tmp_path / "ca.pem", root.cert_pem())
    crl_dir = tmp_path / "crls"
    crl_dir.mkdir()
    (crl_dir / "root.pem").write_bytes(crl_pem(make_crl(root, [0x99])))
    cfg = tmp_path / "opensips.cfg"
    cfg.write_text('loadmodule "tls_openssl.so"\nloadmodule "tls_mgm.so"\n'
                   'modparam("tls_mgm", "server_domain", "sips")\n'
                   f'modparam("tls_mgm", "ca_list", "[sips]{ca}")\n'
                   f'modparam("tls_mgm", "crl_dir", "[sips]{crl_dir}")\n'
                   f'modparam("tls_mgm", "ca_dir", "[sips]{tmp_path}")\n')
    client = write(tmp_path / "cl.pem", make_cert(root, "cl.example", server=False, client=True,
                                                  serial=0x99).cert_pem())
    good = write(tmp_path / "ok.pem", make_cert(root, "ok.example", server=False, client=True).cert_pem())
    server_only = write(tmp_path / "srv.pem", make_cert(root, "srv.example").cert_pem())
    base = ["-c", str(cfg), "--domain", "sips", "-f", "json"]
    assert json.loads(run_inspect(client, *base).output)[0]["vars"]["tls_peer_revoked"] == "1"
    assert json.loads(run_inspect(good, *base).output)[0]["vars"]["tls_peer_verified"] == "1"
    # a server domain verifies clients: a serverAuth-only certificate is the wrong purpose
    assert json.loads(run_inspect(server_only, *base).output)[0]["extra"]["verify"]["code"] == 26
    missing = run_inspect(good, "-c", str(cfg), "--domain", "nope")
    assert missing.exit_code == 2 and "no TLS domain named 'nope'" in missing.output
    # a failed verification on a verifying domain: the handshake aborts, said in a note
    revoked = json.loads(run_inspect(client, *base).output)[0]
    assert "OpenSIPS aborts the handshake on this certificate (certificate revoked)" in \
        revoked["extra"]["opensips_note"]
    assert "opensips_note" not in json.loads(run_inspect(good, *base).output)[0]["extra"]
    # a server domain with verify_cert=0 asks for no client certificate (behaviour §10)
    cfg.write_text(cfg.read_text() + 'modparam("tls_mgm", "verify_cert", "[sips]0")\n')
    unasked = json.loads(run_inspect(client, *base).output)[0]
    assert {k: v for k, v in unasked["vars"].items() if v is not None} == {
        "tls_peer_verified": "0", "tls_peer_revoked": "0", "tls_peer_expired": "0", "tls_peer_selfsigned": "0"}
    assert "verify_cert=0: OpenSIPS requests no client certificate" in unasked["extra"]["opensips_note"]


def test_der_pkcs7_stdin_and_globs(tmp_path: Path, root: Issued, inter: Issued) -> None:
    leaf = make_cert(root, "d.example")
    der = leaf.cert.public_bytes(serialization.Encoding.DER)
    write(tmp_path / "a.der", der)
    p7 = pkcs7.serialize_certificates([leaf.cert, inter.cert], serialization.Encoding.DER)
    write(tmp_path / "b.p7b", p7)
    result = run_inspect(str(tmp_path / "*.[dp]*"), "--var", "tls_peer_subject_cn")
    lines = result.output.splitlines()
    assert lines[0] == "d.example"  # a.der, then b.p7b's certificates in the order stored
    assert sorted(lines[1:]) == ["d.example", "inspect intermediate"]
    piped = run_inspect("-", "--var", "tls_peer_subject_cn", stdin=leaf.cert_pem())
    assert piped.output == "d.example\n"
    nothing = run_inspect(str(tmp_path / "*.none"))
    assert nothing.exit_code == 1 and "no file matches" in nothing.output


def test_true_serial(tmp_path: Path, root: Issued) -> None:
    serial = int.from_bytes(bytes(range(0x40, 0x54)), "big")  # 20 bytes
    path = write(tmp_path / "c.pem", make_cert(root, "big.example", serial=serial).cert_pem())
    item = json.loads(run_inspect(path, "--true-serial", "-f", "json").output)[0]
    assert item["vars"]["tls_peer_serial"] == "18446744073709551615"
    assert item["extra"]["serial_hex"] == f"{serial:X}" and item["extra"]["serial_decimal"] == str(serial)


@pytest.mark.parametrize(("content", "message"), [
    (b"hello, I am a text file\n", "not a certificate (neither PEM nor DER)"),
    (b"\x30\x82\x05\x00garbage", "truncated or damaged DER"),
    (b"\x30\x03\x02\x01\x05", "DER data that is not a certificate"),
    (b"-----BEGIN CERTIFICATE-----\nMIIBkTCB+wIJAK\n", "truncated PEM"),
    (b"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n", "is a certificate revocation list"),
    (b"", "empty input"),
])
def test_bad_input_is_reported_and_others_still_inspected(tmp_path: Path, root: Issued, content: bytes,
                                                          message: str) -> None:
    bad = write(tmp_path / "bad.pem", content)
    good = write(tmp_path / "good.pem", make_cert(root, "good.example").cert_pem())
    result = run_inspect(bad, good, "--var", "tls_peer_subject_cn")
    assert result.exit_code == 1
    assert "good.example\n" in result.output
    assert f"tlsmgm: error: {bad}: " in result.output and message in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("encoding", ["pem", "der", "encrypted"])
def test_private_key_given_by_mistake_never_printed(tmp_path: Path, root: Issued, encoding: str) -> None:
    issued = make_cert(root, "k.example")
    if encoding == "pem":
        data = issued.key_pem()
    elif encoding == "encrypted":
        data = issued.key_pem(password="secret")
    else:
        data = issued.key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
    key = write(tmp_path / "key.pem", data)
    result = run_inspect(key, "-f", "json")
    assert result.exit_code == 1
    assert "is a private key, not a certificate (key material not shown)" in result.output
    body = issued.key_pem().decode().splitlines()[1]
    assert body[:20] not in result.output


def test_file_over_the_pki_limit(tmp_path: Path) -> None:
    from tlsmgm_cli.core.limits import PKI_FILE_MAX_BYTES

    big = tmp_path / "big.pem"
    with open(big, "wb") as handle:
        handle.truncate(PKI_FILE_MAX_BYTES + 1)
    result = run_inspect(str(big))
    assert result.exit_code == 1 and f"over the {PKI_FILE_MAX_BYTES // 2**20} MiB limit" in result.output


def test_usage_errors_exit_2(tmp_path: Path, root: Issued) -> None:
    path = write(tmp_path / "c.pem", make_cert(root, "u.example").cert_pem())
    assert run_inspect(path, "--at", "yesterday-ish").exit_code == 2
    assert run_inspect(path, "--ca", str(tmp_path / "missing.pem")).exit_code == 2
    assert run_inspect().exit_code == 2


def test_real_subprocess_run(tmp_path: Path, root: Issued) -> None:
    path = write(tmp_path / "c.pem", make_cert(root, "proc.example").cert_pem())
    env = {**os.environ, "NO_COLOR": "1"}
    out = subprocess.run([sys.executable, "-m", "tlsmgm_cli", "inspect", path, "-f", "xlog"],
                         capture_output=True, text=True, env=env, check=False)
    assert out.returncode == 0, out.stderr
    assert "$tls_peer_subject = '/CN=proc.example'" in out.stdout
