"""The single OpenSSL verify result for a presented chain, cross-checked with `openssl verify`."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from tlsmgm_cli.core.x509 import verify
from tlsmgm_cli.core.x509.certgen import Issued, crl_pem, make_ca, make_cert, make_crl
from tlsmgm_cli.core.x509.hash import name_hash
from tlsmgm_cli.core.x509.truststore import build_trust_store, option_sources
from tlsmgm_cli.core.x509.verify import TrustStore, verify_peer

OPENSSL = shutil.which("openssl")
NOW = dt.datetime.now(dt.timezone.utc)
DAY = dt.timedelta(days=1)


@pytest.fixture(scope="module")
def root() -> Issued:
    return make_ca("verify root")


@pytest.fixture(scope="module")
def inter(root: Issued) -> Issued:
    return make_ca("verify intermediate", parent=root)



def build_store(ca: list[str], crl: list[str], crl_check_all: bool = False) -> TrustStore:
    """A store from --ca/--crl style locations, built by the one trust-store builder."""
    return build_trust_store(option_sources(ca, crl, crl_check_all))


def pem(*items: Issued | x509.Certificate) -> bytes:
    return b"".join((i.cert if isinstance(i, Issued) else i).public_bytes(serialization.Encoding.PEM)
                    for i in items)


class Case:
    """Files for one scenario, usable by verify_peer and by `openssl verify`."""

    def __init__(self, tmp_path: Path, presented: list[Issued], cas: list[Issued] = (),
                 crls: list[x509.CertificateRevocationList] = (), crl_check_all: bool = False):
        self.dir = tmp_path
        self.presented = presented
        self.leaf = tmp_path / "leaf.pem"
        self.leaf.write_bytes(pem(presented[0]))
        self.untrusted = tmp_path / "untrusted.pem"
        self.untrusted.write_bytes(pem(*presented[1:]))
        self.ca = tmp_path / "ca.pem" if cas else None
        if self.ca:
            self.ca.write_bytes(pem(*cas))
        self.crl = tmp_path / "crl.pem" if crls else None
        if self.crl:
            self.crl.write_bytes(b"".join(crl_pem(c) for c in crls))
        self.crl_check_all = crl_check_all

    def ours(self, at: dt.datetime | None = None, **kwargs) -> int:
        store = build_store([str(self.ca)] if self.ca else [], [str(self.crl)] if self.crl else [],
                            self.crl_check_all)
        return verify_peer([p.cert for p in self.presented], store, at=at, **kwargs).code

    def openssl(self, at: dt.datetime | None = None) -> int:
        args = [OPENSSL, "verify", "-verify_depth", "3"]
        args += ["-CAfile", str(self.ca)] if self.ca else ["-no-CAfile", "-no-CApath", "-no-CAstore"]
        if len(self.presented) > 1:
            args += ["-untrusted", str(self.untrusted)]
        if self.crl:
            args += ["-CRLfile", str(self.crl), "-crl_check_all" if self.crl_check_all else "-crl_check"]
        if at:
            args += ["-attime", str(int(at.timestamp()))]
        out = subprocess.run(args + [str(self.leaf)], capture_output=True, text=True)
        found = re.search(r"error (\d+) at \d+ depth", out.stdout + out.stderr)
        if found:
            return int(found.group(1))
        assert out.returncode == 0, out.stdout + out.stderr
        return 0

    def check(self, expected: int, at: dt.datetime | None = None) -> None:
        assert self.ours(at) == expected
        if OPENSSL:
            assert self.openssl(at) == expected


def test_leaf_signed_by_trusted_root(tmp_path: Path, root: Issued) -> None:
    Case(tmp_path, [make_cert(root, "ok.example")], [root]).check(0)


def test_self_signed_leaf_untrusted_reports_18_even_when_expired(tmp_path: Path) -> None:
    leaf = make_cert(None, "self.example", self_signed=True, not_before=NOW - 10 * DAY, not_after=NOW - DAY)
    Case(tmp_path, [leaf]).check(18)


def test_self_signed_leaf_trusted_through_ca_list(tmp_path: Path) -> None:
    leaf = make_cert(None, "self.example", self_signed=True)
    Case(tmp_path, [leaf], [leaf]).check(0)


def test_expired_and_not_yet_valid(tmp_path: Path, root: Issued) -> None:
    expired = make_cert(root, "old.example", not_before=NOW - 10 * DAY, not_after=NOW - DAY)
    Case(tmp_path, [expired], [root]).check(10)
    future = make_cert(root, "new.example", not_before=NOW + DAY, not_after=NOW + 10 * DAY)
    Case(tmp_path, [future], [root]).check(9)
    Case(tmp_path, [future], [root]).check(0, at=NOW + 2 * DAY)


def test_unknown_issuer(tmp_path: Path, root: Issued) -> None:
    Case(tmp_path, [make_cert(make_ca("other"), "x.example")], [root]).check(20)


def test_chain_via_intermediate(tmp_path: Path, root: Issued, inter: Issued) -> None:
    leaf = make_cert(inter, "chain.example")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    Case(tmp_path / "a", [leaf, inter], [root]).check(0)
    Case(tmp_path / "b", [leaf], [root]).check(20)  # intermediate not sent
    (tmp_path / "c").mkdir()
    Case(tmp_path / "c", [leaf], [inter]).check(2)  # intermediate trusted, its issuer unknown
    (tmp_path / "d").mkdir()
    Case(tmp_path / "d", [leaf, inter, root]).check(19)  # untrusted root in the chain


def test_chain_too_long_with_depth_3(tmp_path: Path, root: Issued) -> None:
    cas = [root]
    for i in range(5):
        cas.append(make_ca(f"level {i}", parent=cas[-1]))
    leaf = make_cert(cas[-1], "deep.example")
    Case(tmp_path, [leaf, *reversed(cas[1:])], [root]).check(22)
    (tmp_path / "ok").mkdir()
    Case(tmp_path / "ok", [make_cert(cas[3], "ok.example"), cas[3], cas[2], cas[1]], [root]).check(0)


def test_revoked_via_crl_wins_over_expired(tmp_path: Path, root: Issued) -> None:
    revoked = make_cert(root, "revoked.example", serial=0x5001)
    crl = make_crl(root, [0x5001])
    Case(tmp_path, [revoked], [root], [crl]).check(23)
    (tmp_path / "b").mkdir()
    old = make_cert(root, "old.example", serial=0x5002, not_before=NOW - 10 * DAY, not_after=NOW - DAY)
    Case(tmp_path / "b", [old], [root], [make_crl(root, [0x5002])]).check(23)
    (tmp_path / "c").mkdir()
    Case(tmp_path / "c", [make_cert(root, "fine.example")], [root], [crl]).check(0)


def test_crl_problems(tmp_path: Path, root: Issued, inter: Issued) -> None:
    leaf = make_cert(inter, "leaf.example")
    inter_crl = make_crl(inter, [])
    Case(tmp_path, [leaf, inter], [root], [inter_crl]).check(0)
    (tmp_path / "all").mkdir()
    Case(tmp_path / "all", [leaf, inter], [root], [inter_crl], crl_check_all=True).check(3)  # no root CRL
    (tmp_path / "all2").mkdir()
    Case(tmp_path / "all2", [leaf, inter], [root], [inter_crl, make_crl(root, [])], crl_check_all=True).check(0)
    (tmp_path / "stale").mkdir()
    stale = make_crl(inter, [], last_update=NOW - 10 * DAY, next_update=NOW - DAY)
    Case(tmp_path / "stale", [leaf, inter], [root], [stale]).check(12)


def test_crl_check_off_without_crl(tmp_path: Path, root: Issued) -> None:
    revoked = make_cert(root, "revoked.example", serial=0x6001)
    Case(tmp_path, [revoked], [root]).check(0)  # revoked without crl_dir: verified (behaviour §5.11)


def test_intermediate_that_is_not_a_ca(tmp_path: Path, root: Issued) -> None:
    fake = make_cert(root, "notaca.example")
    builder = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "victim")]))
               .issuer_name(fake.cert.subject).public_key(make_cert(None, "k", self_signed=True).key.public_key())
               .serial_number(77).not_valid_before(NOW - DAY).not_valid_after(NOW + 10 * DAY))
    victim = builder.sign(fake.key, hashes.SHA256())
    store = build_store([], [])
    store.certs.append(root.cert)
    assert verify_peer([victim, fake.cert], store).code == verify.ERR_INVALID_CA


def test_purpose_of_a_server_domain(root: Issued) -> None:
    store = TrustStore(certs=[root.cert])
    server_only = make_cert(root, "srv.example", server=True, client=False)
    assert verify_peer([server_only.cert], store, purpose=verify.PURPOSE_SSL_CLIENT).code == 26
    assert verify_peer([server_only.cert], store, purpose=verify.PURPOSE_SSL_SERVER).code == 0
    client = make_cert(root, "cli.example", server=False, client=True)
    assert verify_peer([client.cert], store, purpose=verify.PURPOSE_SSL_CLIENT).code == 0


def test_hashed_ca_dir(tmp_path: Path, root: Issued) -> None:
    leaf = make_cert(root, "hashed.example")
    hashed = tmp_path / "hashed"
    hashed.mkdir()
    (hashed / f"{name_hash(root.cert.subject)}.0").write_bytes(pem(root))
    assert verify_peer([leaf.cert], build_store([str(hashed)], [])).code == 0
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "root.pem").write_bytes(pem(root))  # not hashed: OpenSSL does not find it
    assert verify_peer([leaf.cert], build_store([str(plain)], [])).code == 20
    if OPENSSL:
        hashed_name = subprocess.run([OPENSSL, "x509", "-noout", "-hash"], input=pem(root),
                                     capture_output=True, check=True).stdout.decode().strip()
        assert hashed_name == name_hash(root.cert.subject)


def test_crl_dir_reads_every_pem_crl_file(tmp_path: Path, root: Issued) -> None:
    crl_dir = tmp_path / "crls"
    crl_dir.mkdir()
    (crl_dir / "any-name.pem").write_bytes(crl_pem(make_crl(root, [0x7001])))
    (crl_dir / "junk.txt").write_text("not a crl")
    store = build_store([], [str(crl_dir)])
    store.certs.append(root.cert)
    assert store.crl_check
    assert verify_peer([make_cert(root, "r.example", serial=0x7001).cert], store).code == 23
    empty = tmp_path / "empty"
    empty.mkdir()
    assert not build_store([], [str(empty)]).crl_check  # no usable CRL: checking stays off


def test_result_text_depth_and_chain(inter: Issued) -> None:
    leaf = make_cert(inter, "t.example").cert
    result = verify_peer([leaf, inter.cert], TrustStore())
    assert (result.code, result.text, result.depth) == (20, "unable to get local issuer certificate", 1)
    assert result.chain == (leaf, inter.cert)
    assert result.to_dict() == {"code": 20, "text": "unable to get local issuer certificate", "depth": 1}
