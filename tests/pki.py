"""Shared test certificates (generated with tlsmgm's own core.x509.certgen, never committed).

API (stable; other test files rely on it)
-----------------------------------------
Fixtures (tests/conftest.py):

* ``pki`` — session-scoped ``Pki``, generated once into a temporary directory.
* ``make_pki`` — function-scoped factory: ``make_pki()`` (or ``make_pki("sub")``) builds a
  fresh, independent ``Pki`` under the test's ``tmp_path``; use it when a test modifies files.

Outside pytest: ``build_pki(directory) -> Pki`` (about 0.1 s). Import as
``from pki import Pki, PASSWORD, SPECIAL_SUBJECT`` (tests/ is on sys.path because it has no
``__init__.py``).

``Pki`` attributes, each a ``PkiItem`` (``.cert``, ``.key``, ``.cert_path``, ``.key_path``,
``.issued``; keys are written mode 0600, certificates 0644, all PEM, as ``<name>.crt`` /
``<name>.key`` in ``pki.dir``):

==================  ==========================================================================
``ca``              root CA "tlsmgm test root CA" (EC P-256, CA:TRUE critical)
``intermediate``    intermediate CA "tlsmgm test intermediate CA", signed by ``ca``
``server``          CN/SAN ``atlanta.com``, serverAuth, signed by ``ca``
``server_chain``    CN/SAN ``biloxi.com``, serverAuth, signed by ``intermediate``;
                    ``cert_path`` is leaf+intermediate, ``leaf_path`` the leaf alone
``client``          CN ``client.atlanta.com``, SAN DNS + ``URI:sip:alice@atlanta.com``,
                    clientAuth only, signed by ``ca``
``expired``         ``expired.atlanta.com``, notAfter yesterday, signed by ``ca``
``not_yet_valid``   ``future.atlanta.com``, notBefore tomorrow, signed by ``ca``
``self_signed``     ``self.atlanta.com``, self-signed leaf (not a CA)
``revoked``         ``revoked.atlanta.com``, signed by ``ca`` and revoked:
                    ``crl_path`` (root's CRL) and ``crl_dir`` (hashed, usable as crl_dir)
``wrong_key``       ``wrongkey.atlanta.com`` cert with a ``key_path`` holding ANOTHER key
``special``         subject with UTF-8, ``/``, ``+``, commas and a multi-valued RDN
                    (``SPECIAL_SUBJECT``); SAN ``special.atlanta.com``
``rsa1024``         RSA 1024-bit leaf ``rsa1024.atlanta.com`` signed by ``ca``
``rsa``             RSA 2048-bit leaf ``rsa.atlanta.com`` signed by ``ca``
``sha1``            ``sha1.atlanta.com`` signed by ``ca`` with ecdsa-with-SHA1
``encrypted_key``   ``encrypted.atlanta.com``; ``key_path`` is encrypted with ``.password``
==================  ==========================================================================

Plus ``pki.dir`` (the directory), ``pki.ca_bundle_path`` (root + intermediate PEM) and
``pki.ca_dir`` (a c_rehash-style hashed directory holding root and intermediate).

DH parameters: ``DH_PARAMS_PEM[bits]`` for 1024 and 2048 bits, and ``write_dh_params(path, bits)``.
They are published constants, not generated (generating them took most of a second per test):
2048 is RFC 7919's ffdhe2048 (as ``openssl genpkey -genparam -algorithm DH -pkeyopt
group:ffdhe2048`` prints it), 1024 is RFC 2409's second Oakley group (1024-bit MODP, g=2), a
safe prime that TLS checks must call too small.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from tlsmgm_cli.core.util.atomicio import SECRET_MODE, atomic_write
from tlsmgm_cli.core.x509 import certgen

PASSWORD = b"tlsmgm-test-passphrase"

DH_PARAMS_PEM = {
    1024: b"""-----BEGIN DH PARAMETERS-----
MIGHAoGBAP//////////yQ/aoiFowjTExmKLgNwc0SkCTgiKZ8x0Agu+pjsTmyJR
Sgh5jjQE3e+VGbPNOkMbMCsKbfJfFDdP4TVtbVHCReSFtXZiXn7G9ExC6aY37WsL
/1y29Aa37e44a/taiZ+lrp8kEXxLH+ZJKGZR7OZTgf//////////AgEC
-----END DH PARAMETERS-----
""",
    2048: b"""-----BEGIN DH PARAMETERS-----
MIIBCAKCAQEA//////////+t+FRYortKmq/cViAnPTzx2LnFg84tNpWp4TZBFGQz
+8yTnc4kmz75fS/jY2MMddj2gbICrsRhetPfHtXV/WVhJDP1H18GbtCFY2VVPe0a
87VXE15/V8k1mE8McODmi3fipona8+/och3xWKE2rec1MKzKT0g6eXq8CrGCsyT7
YdEIqUuyyOP7uWrat2DX9GgdT0Kj3jlN9K5W7edjcrsZCwenyO4KbXCeAvzhzffi
7MA0BM0oNC9hkXL+nOmFg/+OTxIy7vKBg8P+OxtMb61zO7X8vC7CIAXFjvGDfRaD
ssbzSibBsu/6iGtCOGEoXJf//////////wIBAg==
-----END DH PARAMETERS-----
""",
}


def write_dh_params(path: str | Path, bits: int = 2048) -> Path:
    """Write the ``bits``-bit DH parameters of ``DH_PARAMS_PEM`` (PKCS#3 PEM) to ``path``."""
    target = Path(path)
    target.write_bytes(DH_PARAMS_PEM[bits])
    return target


SPECIAL_SUBJECT = x509.Name([
    x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COUNTRY_NAME, "RO")]),
    x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Acme, Inc.")]),
    x509.RelativeDistinguishedName([
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "R&D/Ops + QA"),
        x509.NameAttribute(NameOID.LOCALITY_NAME, "Bucureşti"),
    ]),
    x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COMMON_NAME, "Zoë/Ünïcode+plus, comma")]),
])


@dataclass
class PkiItem:
    """One test certificate and its key, in memory and on disk."""

    issued: certgen.Issued
    cert_path: Path
    key_path: Path
    leaf_path: Path | None = None      # server_chain: the leaf alone
    crl_path: Path | None = None       # revoked: a CRL revoking it
    crl_dir: Path | None = None        # revoked: hashed CRL dir (tls_mgm crl_dir)
    password: bytes | None = None      # encrypted_key: the key's passphrase

    @property
    def cert(self) -> x509.Certificate:
        return self.issued.cert

    @property
    def key(self) -> certgen.CertificateIssuerPrivateKeyTypes:
        return self.issued.key

    @property
    def serial(self) -> int:
        return self.issued.cert.serial_number


@dataclass
class Pki:
    """The whole test PKI (see the module docstring)."""

    dir: Path
    ca_bundle_path: Path
    ca_dir: Path
    ca: PkiItem
    intermediate: PkiItem
    server: PkiItem
    server_chain: PkiItem
    client: PkiItem
    expired: PkiItem
    not_yet_valid: PkiItem
    self_signed: PkiItem
    revoked: PkiItem
    wrong_key: PkiItem
    special: PkiItem
    rsa1024: PkiItem
    rsa: PkiItem
    sha1: PkiItem
    encrypted_key: PkiItem

    def items(self) -> dict[str, PkiItem]:
        """Every ``PkiItem`` by attribute name."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if isinstance(getattr(self, f.name), PkiItem)}


def _store(directory: Path, name: str, issued: certgen.Issued, **extra) -> PkiItem:
    cert_path, key_path = issued.write(directory, name, force=True, password=extra.get("password"))
    return PkiItem(issued, cert_path, key_path, **extra)


def build_pki(directory: str | Path) -> Pki:
    """Generate the whole test PKI into ``directory`` (created if needed)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc)
    day = dt.timedelta(days=1)

    root = certgen.make_ca("tlsmgm test root CA")
    inter = certgen.make_ca("tlsmgm test intermediate CA", parent=root, days=1825)

    def leaf(name: str, cn: str, **kw) -> PkiItem:
        return _store(d, name, certgen.make_cert(root, cn, **kw))

    chain_leaf = certgen.make_cert(inter, "biloxi.com")
    chain_cert_path, chain_key_path = chain_leaf.write(d, "server_chain", force=True, chain=True)
    leaf_path = atomic_write(d / "server_chain.leaf.crt", chain_leaf.cert_pem(), force=True)
    chain_item = PkiItem(chain_leaf, chain_cert_path, chain_key_path, leaf_path=leaf_path)

    revoked = certgen.make_cert(root, "revoked.atlanta.com")
    crl = certgen.make_crl(root, [revoked.cert.serial_number])
    crl_path = atomic_write(d / "root.crl.pem", certgen.crl_pem(crl), force=True)
    certgen.write_hashed_crl_dir(d / "crl", [crl])

    wrong = certgen.make_cert(root, "wrongkey.atlanta.com")
    wrong_item = _store(d, "wrong_key", wrong)
    atomic_write(wrong_item.key_path, certgen.Issued(wrong.cert, certgen.new_key()).key_pem(),
                 mode=SECRET_MODE, force=True)

    ca_item = _store(d, "ca", root)
    inter_item = _store(d, "intermediate", inter)
    bundle = atomic_write(d / "ca_bundle.pem", root.cert_pem() + inter.cert_pem(), force=True)
    ca_dir = d / "ca_dir"
    ca_dir.mkdir(exist_ok=True)
    atomic_write(ca_dir / "root.pem", root.cert_pem(), force=True)
    atomic_write(ca_dir / "intermediate.pem", inter.cert_pem(), force=True)
    certgen.rehash_dir(ca_dir)

    return Pki(
        dir=d, ca_bundle_path=bundle, ca_dir=ca_dir,
        ca=ca_item, intermediate=inter_item,
        server=leaf("server", "atlanta.com"),
        server_chain=chain_item,
        client=leaf("client", "client.atlanta.com", server=False, client=True,
                    sans=["DNS:client.atlanta.com", "URI:sip:alice@atlanta.com"]),
        expired=leaf("expired", "expired.atlanta.com", not_before=now - 30 * day, not_after=now - day),
        not_yet_valid=leaf("not_yet_valid", "future.atlanta.com", not_before=now + day,
                           not_after=now + 30 * day),
        self_signed=_store(d, "self_signed", certgen.make_cert(None, "self.atlanta.com", self_signed=True)),
        revoked=_store(d, "revoked", revoked, crl_path=crl_path, crl_dir=d / "crl"),
        wrong_key=wrong_item,
        special=leaf("special", "Zoë/Ünïcode+plus, comma", subject=SPECIAL_SUBJECT,
                     sans=["DNS:special.atlanta.com"]),
        rsa1024=leaf("rsa1024", "rsa1024.atlanta.com", key="rsa", bits=1024),
        rsa=leaf("rsa", "rsa.atlanta.com", key="rsa", bits=2048),
        sha1=leaf("sha1", "sha1.atlanta.com", hash="sha1"),
        encrypted_key=_store(d, "encrypted_key", certgen.make_cert(root, "encrypted.atlanta.com"),
                             password=PASSWORD),
    )
