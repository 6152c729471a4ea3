"""``core.tls.context.build_context``: a domain's settings on an ``ssl.SSLContext``, and errors
that name the domain and the setting at fault."""

from __future__ import annotations

import os
import ssl
import tempfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from pki import Pki

from tlsmgm_cli.core.domain import CLIENT, SERVER, TlsDomain
from tlsmgm_cli.core.errors import TlsmgmError
from tlsmgm_cli.core.tls.context import build_context, chain_too_long, local_certificate_der


def _server(pki: Pki, **kw) -> TlsDomain:
    base = {"certificate": str(pki.server.cert_path), "private_key": str(pki.server.key_path)}
    return TlsDomain(name="atlanta", side=SERVER, **(base | kw))


@pytest.mark.parametrize("method, low, high", [
    ("TLSv1_2", ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2),
    ("TLSv1_2-", ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3),
    ("TLSv1_2-SSLv23", ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.MAXIMUM_SUPPORTED),
    ("tlsv1_3", ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_3),
])
def test_method_bounds(pki: Pki, method: str, low: ssl.TLSVersion, high: ssl.TLSVersion) -> None:
    ctx = build_context(_server(pki, method=method))
    assert (ctx.minimum_version, ctx.maximum_version) == (low, high)


def test_unbounded_method_keeps_defaults(pki: Pki) -> None:
    default = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx = build_context(_server(pki, method="SSLv23-TLSv1_2"))  # high ignored when low is SSLv23
    assert (ctx.minimum_version, ctx.maximum_version) == (default.minimum_version, default.maximum_version)


@pytest.mark.parametrize("side, verify, require, mode", [
    (SERVER, None, None, ssl.CERT_REQUIRED), (SERVER, 1, 0, ssl.CERT_OPTIONAL), (SERVER, 0, 1, ssl.CERT_NONE),
    (CLIENT, None, None, ssl.CERT_REQUIRED), (CLIENT, 0, 1, ssl.CERT_NONE), (CLIENT, 1, 0, ssl.CERT_REQUIRED),
])
def test_verify_mode_per_side(pki: Pki, side: str, verify: int | None, require: int | None, mode) -> None:
    dom = TlsDomain(name="d", side=side, verify_cert=verify, require_cert=require,
                    certificate=str(pki.server.cert_path), private_key=str(pki.server.key_path))
    ctx = build_context(dom)
    assert ctx.verify_mode == mode and ctx.check_hostname is False
    assert ctx.options & ssl.OP_CIPHER_SERVER_PREFERENCE and ctx.options & ssl.OP_NO_SSLv3


@pytest.mark.parametrize("check_all, flag", [(0, ssl.VERIFY_CRL_CHECK_LEAF), (1, ssl.VERIFY_CRL_CHECK_CHAIN)])
def test_crl_dir_sets_crl_checking(pki: Pki, check_all: int, flag: ssl.VerifyFlags) -> None:
    ctx = build_context(_server(pki, crl_dir=str(pki.revoked.crl_dir), crl_check_all=check_all,
                                ca_list=str(pki.ca.cert_path)))
    assert ctx.verify_flags & flag == flag
    assert ctx.cert_store_stats()["crl"] == 1


def test_empty_crl_dir_leaves_crl_checking_off(pki: Pki, tmp_path: Path) -> None:
    ctx = build_context(_server(pki, crl_dir=str(tmp_path)))
    assert not ctx.verify_flags & ssl.VERIFY_CRL_CHECK_LEAF


def test_client_domain_without_certificate(pki: Pki) -> None:
    dom = TlsDomain(name="c", side=CLIENT, ca_list=str(pki.ca.cert_path))
    ctx = build_context(dom)
    assert ctx.cert_store_stats()["x509_ca"] == 1
    assert local_certificate_der(dom) is None


@pytest.mark.parametrize("kw, message", [
    ({"certificate": "/nonexistent/c.pem"}, "server domain [atlanta]: certificate '/nonexistent/c.pem': No such file"),
    ({"private_key": "/nonexistent/k.pem"}, "server domain [atlanta]: private_key '/nonexistent/k.pem': No such file"),
    ({"method": "TLSv1_1"}, "server domain [atlanta]: tls_method 'TLSv1_1': unsupported method [TLSv1_1]"),
    ({"ciphers_list": "NOTACIPHER"}, "server domain [atlanta]: ciphers_list 'NOTACIPHER': failure to set"),
    ({"ec_curve": "nocurve"}, "server domain [atlanta]: ec_curve 'nocurve': unable to find the EC curve"),
    ({"crl_dir": "/nonexistent/crl"}, "server domain [atlanta]: crl_dir '/nonexistent/crl': Unable to open"),
    ({"ca_list": "/nonexistent/ca.pem"}, "server domain [atlanta]: ca_list '/nonexistent/ca.pem': unable to load ca"),
    ({"dh_params": "/nonexistent/dh.pem"}, "server domain [atlanta]: dh_params '/nonexistent/dh.pem': unable to open"),
])
def test_errors_name_domain_and_setting(pki: Pki, kw: dict, message: str) -> None:
    with pytest.raises(TlsmgmError) as info:
        build_context(_server(pki, **kw))
    assert info.value.message.startswith(message)


def test_mismatched_and_encrypted_keys(pki: Pki) -> None:
    with pytest.raises(TlsmgmError, match="does not match the public key"):
        build_context(_server(pki, certificate=str(pki.wrong_key.cert_path), private_key=str(pki.wrong_key.key_path)))
    with pytest.raises(TlsmgmError, match="the key is encrypted"):
        build_context(_server(pki, certificate=str(pki.encrypted_key.cert_path),
                              private_key=str(pki.encrypted_key.key_path)))


def test_key_without_certificate_on_client(pki: Pki) -> None:
    with pytest.raises(TlsmgmError, match=r"client domain \[c\]: private_key .*without a certificate"):
        build_context(TlsDomain(name="c", side=CLIENT, private_key=str(pki.client.key_path)))


def test_db_domain_pem_content_leaves_no_files(pki: Pki) -> None:
    dom = TlsDomain(name="db", side=SERVER, source="db", certificate=pki.server_chain.cert_path.read_text(),
                    private_key=pki.server_chain.key_path.read_text(), ca_list=pki.ca.cert_path.read_text())
    before = set(os.listdir(tempfile.gettempdir()))
    ctx = build_context(dom)
    assert set(os.listdir(tempfile.gettempdir())) - before == set()
    assert ctx.cert_store_stats()["x509_ca"] == 1
    der = local_certificate_der(dom)
    assert der == pki.server_chain.cert.public_bytes(Encoding.DER)


def test_db_domain_errors_do_not_echo_pem(pki: Pki) -> None:
    dom = TlsDomain(name="db", side=SERVER, source="db", certificate="garbage", private_key="also garbage")
    with pytest.raises(TlsmgmError) as info:
        build_context(dom)
    assert "PEM content from the DB" in info.value.message and "garbage" not in info.value.message


def test_chain_depth_limit() -> None:
    assert not chain_too_long(5) and chain_too_long(6)


def test_db_ca_list_reads_trusted_certificate_blocks(pki: Pki) -> None:
    """OpenSIPS reads a DB ca_list with the X509_AUX reader: TRUSTED CERTIFICATE blocks
    (certificate + trust settings) are CAs too (behaviour §6.6, §8.7)."""
    import base64

    der = pki.ca.cert.public_bytes(Encoding.DER)
    aux = bytes.fromhex("300c300a06082b06010505070301")  # X509_CERT_AUX: trust serverAuth
    body = base64.encodebytes(der + aux).decode()
    trusted = f"-----BEGIN TRUSTED CERTIFICATE-----\n{body}-----END TRUSTED CERTIFICATE-----\n"
    plain = pki.intermediate.cert.public_bytes(Encoding.PEM).decode()
    dom = TlsDomain("db", CLIENT, source="db", ca_list=trusted + plain)
    subjects = {c["subject"] for c in build_context(dom).get_ca_certs()}
    assert len(subjects) == 2
