"""Everything ``check`` reads from disk, parsed once per path (many domains share files).

Each loader returns a small result object instead of raising, so a check can report the
problem in OpenSIPS's words; results (good or bad) are cached by resolved path, or by the
content itself for DB blobs.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dh

from tlsmgm_cli.core.errors import TlsmgmError
from tlsmgm_cli.core.limits import PKI_FILE_MAX_BYTES
from tlsmgm_cli.core.util.safeio import (
    UnsafeInput,
    describe_os_error,
    file_kind,
    limit_text,
    read_bytes_limited,
)
from tlsmgm_cli.core.x509.hash import name_hash
from tlsmgm_cli.core.x509.load import CertLoadError, load_certificates, read_pem_objects
from tlsmgm_cli.core.x509.pem import is_pem, read_private_key
from tlsmgm_cli.core.x509.verify import TrustStore, VerifyResult, start_verify, verify_peer

HASHED_NAME = re.compile(r"^([0-9a-f]{8})\.(r?)(\d+)$")


@dataclass(frozen=True, slots=True)
class ReadResult:
    data: bytes | None
    error: str | None = None  # strerror-like text
    missing: bool = False
    mode: int | None = None


@dataclass(frozen=True, slots=True)
class CertFile:
    """The certificates of a certificate file/blob, leaf first, or why there are none."""

    certs: tuple[x509.Certificate, ...] = ()
    error: str | None = None
    missing: bool = False

    @property
    def leaf(self) -> x509.Certificate | None:
        return self.certs[0] if self.certs else None


@dataclass(frozen=True, slots=True)
class KeyFile:
    """A private key, or ``problem`` in {"missing", "unreadable", "encrypted", "invalid"}."""

    key: Any = None
    problem: str | None = None
    detail: str = ""
    mode: int | None = None
    public_key: Any = None  # the key's public half, to compare with a certificate's


@dataclass(frozen=True, slots=True)
class DhParams:
    bits: int | None = None
    error: str | None = None


@dataclass(slots=True)
class DirScan:
    """A ca_dir or crl_dir listing: usable items and per-entry problems."""

    error: str | None = None
    missing: bool = False
    usable: list[str] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (entry name, why)
    crls: list[tuple[str, x509.CertificateRevocationList]] = field(default_factory=list)
    other_files: int = 0


class CachedTrustStore(TrustStore):
    """A TrustStore that answers name lookups from a cache: one store serves many domains."""

    def __init__(self) -> None:
        super().__init__()
        self._by_subject: dict[bytes, list[x509.Certificate]] = {}
        self._by_issuer: dict[bytes, list[x509.CertificateRevocationList]] = {}

    def certs_named(self, name_der: bytes) -> list[x509.Certificate]:
        if name_der not in self._by_subject:
            self._by_subject[name_der] = super().certs_named(name_der)
        return self._by_subject[name_der]

    def crls_by_issuer(self, name: x509.Name) -> list[x509.CertificateRevocationList]:
        key = name.public_bytes()
        if key not in self._by_issuer:
            self._by_issuer[key] = super().crls_by_issuer(name)
        return self._by_issuer[key]


def _public_half(key: Any) -> Any:
    try:
        return key.public_key()
    except (AttributeError, ValueError, TypeError):
        return None


class FileCache:
    """Parsed file contents for one check run."""

    def __init__(self) -> None:
        self._reads: dict[str, ReadResult] = {}
        self._certs: dict[Any, CertFile] = {}
        self._keys: dict[Any, KeyFile] = {}
        self._dh: dict[Any, DhParams] = {}
        self._stores: dict[Any, tuple[TrustStore | None, str | None]] = {}
        self._verify: dict[Any, VerifyResult | Future[VerifyResult]] = {}
        self._dirs: dict[tuple[str, str], DirScan] = {}
        self._memo: dict[Any, Any] = {}

    def memo(self, key: Any, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per ``key`` (cipher strings, curve names...)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    # -- raw reads ---------------------------------------------------------------------
    def read(self, path: str) -> ReadResult:
        cached = self._reads.get(path)
        if cached is None:
            cached = self._reads[path] = self._read(path)
        return cached

    @staticmethod
    def _read(path: str) -> ReadResult:
        """The file's bytes, through ``safeio.read_bytes_limited``: regular files only (a
        FIFO is refused, not waited on; /dev/zero is refused, not read forever), at most
        ``limits.PKI_FILE_MAX_BYTES``."""
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return ReadResult(None, "No such file or directory", missing=True)
        except OSError as err:
            return ReadResult(None, describe_os_error(err))
        if stat.S_ISDIR(st.st_mode):
            return ReadResult(None, "is a directory", mode=st.st_mode)
        if not stat.S_ISREG(st.st_mode):
            return ReadResult(None, f"is {file_kind(st.st_mode)}, not a regular file (tlsmgm reads only "
                                    "regular files)", mode=st.st_mode)
        if st.st_size > PKI_FILE_MAX_BYTES:
            return ReadResult(None, f"{st.st_size} bytes, over the {limit_text(PKI_FILE_MAX_BYTES)} limit "
                                    "tlsmgm reads", mode=st.st_mode)
        try:
            data = read_bytes_limited(path, limit=PKI_FILE_MAX_BYTES, what="file")
        except UnsafeInput as err:
            why = str(err).split(f"'{path}'", 1)[-1].lstrip(" :") or str(err)
            return ReadResult(None, why, mode=st.st_mode)
        return ReadResult(data, mode=st.st_mode)

    # -- certificates ------------------------------------------------------------------
    def cert_file(self, path: str) -> CertFile:
        cached = self._certs.get(("file", path))
        if cached is None:
            got = self.read(path)
            cached = (CertFile(error=got.error, missing=got.missing) if got.data is None
                      else self._parse_certs(got.data, path))
            self._certs[("file", path)] = cached
        return cached

    def cert_blob(self, pem: str, source: str) -> CertFile:
        cached = self._certs.get(("blob", pem))
        if cached is None:
            cached = self._certs[("blob", pem)] = self._parse_certs(pem.encode("utf-8", "replace"), source)
        return cached

    @staticmethod
    def _parse_certs(data: bytes, source: str) -> CertFile:
        if not is_pem(data):
            return CertFile(error="not PEM (OpenSIPS reads certificates as PEM only)")
        try:
            loaded = load_certificates(data, source)
        except CertLoadError as err:
            return CertFile(error=str(err).removeprefix(f"{source}: "))
        return CertFile(tuple(item.cert for item in loaded))

    # -- private keys --------------------------------------------------------------------
    def key_file(self, path: str) -> KeyFile:
        cached = self._keys.get(("file", path))
        if cached is None:
            got = self.read(path)
            if got.data is None:
                cached = KeyFile(problem="missing" if got.missing else "unreadable", detail=got.error or "")
            else:
                cached = self._parse_key(got.data, got.mode)
            self._keys[("file", path)] = cached
        return cached

    def key_blob(self, pem: str) -> KeyFile:
        cached = self._keys.get(("blob", pem))
        if cached is None:
            cached = self._keys[("blob", pem)] = self._parse_key(pem.encode("utf-8", "replace"), None)
        return cached

    @staticmethod
    def _parse_key(data: bytes, mode: int | None) -> KeyFile:
        read = read_private_key(data)
        if read.problem is not None:
            return KeyFile(problem=read.problem, detail=read.detail, mode=mode)
        return KeyFile(key=read.key, mode=mode, public_key=_public_half(read.key))

    # -- DH parameters -------------------------------------------------------------------
    def dh_params(self, path: str | None, blob: str | None = None) -> DhParams:
        cache_key = ("blob", blob) if blob is not None else ("file", path)
        cached = self._dh.get(cache_key)
        if cached is not None:
            return cached
        if blob is not None:
            data: bytes | None = blob.encode("utf-8", "replace")
        else:
            got = self.read(path or "")
            if got.data is None:
                cached = self._dh[cache_key] = DhParams(error=f"unable to open dh params file '{path}' "
                                                              f"({got.error})")
                return cached
            data = got.data
        try:
            params = serialization.load_pem_parameters(data or b"")
            if not isinstance(params, dh.DHParameters):
                raise ValueError("not DH parameters")
            cached = DhParams(bits=params.parameter_numbers().p.bit_length())
        except (ValueError, TypeError):  # the library's text points at its FAQ: say what it is instead
            what = ("its PEM DH parameters do not parse" if b"-----BEGIN DH PARAMETERS-----" in (data or b"")
                    else "no PEM DH parameters in it")
            cached = DhParams(error=f"unable to read dh params ({what})")
        except Exception as err:  # noqa: BLE001 - unsupported parameter kinds
            cached = DhParams(error=f"unable to read dh params ({type(err).__name__})")
        self._dh[cache_key] = cached
        return cached

    # -- trust stores and verification -------------------------------------------------------
    def trust_store(self, ca_list_path: str | None, ca_list_blob: str | None,
                    ca_dir: str | None) -> tuple[TrustStore | None, str | None]:
        """The X509_STORE of a domain (no CRLs): (store, why ca_list failed). The store is
        None when it would hold nothing at all."""
        cache_key = (ca_list_path, ca_list_blob, ca_dir)
        cached = self._stores.get(cache_key)
        if cached is not None:
            return cached
        from tlsmgm_cli.core.x509.truststore import TrustSources, fill_store, usable_ca_dir

        def read_ca(path: str) -> bytes:
            got = self.read(path)  # size-limited, cached: one read per file for the whole run
            if got.data is None:
                raise TlsmgmError(f"unable to load ca '{path}' ({got.error})")
            return got.data

        store = CachedTrustStore()
        problem = None
        cas = TrustSources(ca_pem=ca_list_blob.encode("utf-8", "replace") if ca_list_blob else None,
                           ca_files=(ca_list_path,) if ca_list_path and not ca_list_blob else ())
        try:
            fill_store(store, cas, read_ca=read_ca)
        except TlsmgmError as err:
            problem = str(err)
        if ca_dir is not None and usable_ca_dir(ca_dir):  # a ca_dir counts even when ca_list failed
            fill_store(store, TrustSources(ca_dirs=(ca_dir,)))
        result = (store if store.certs or store.hashed_dirs else None, problem)
        self._stores[cache_key] = result
        return result

    def verify(self, cert_key: Any, certs: tuple[x509.Certificate, ...], store_key: Any, store: TrustStore,
               at: Any) -> VerifyResult:
        """``verify_peer`` once per (certificate, store) pair; waits for a result that
        ``verify_on`` started."""
        cache_key = (cert_key, store_key)
        cached = self._verify.get(cache_key)
        if cached is None:
            cached = self._verify[cache_key] = verify_peer(list(certs), store, at=at)
        elif isinstance(cached, Future):
            cached = self._verify[cache_key] = cached.result()
        return cached

    def verify_on(self, executor: Executor, cert_key: Any, certs: tuple[x509.Certificate, ...], store_key: Any,
                  store: TrustStore, at: Any) -> None:
        """Start ``verify`` of the pair: chain building here, the signatures on
        ``executor`` (a thread: cryptography checks them without holding the GIL, so they
        overlap the other checks). An error surfaces where ``verify`` collects the result."""
        cache_key = (cert_key, store_key)
        if cache_key in self._verify:
            return
        try:
            finish = start_verify(list(certs), store, at=at)
        except Exception as err:  # noqa: BLE001 - raised again by verify(), as verify_peer would
            failed: Future[VerifyResult] = Future()
            failed.set_exception(err)
            self._verify[cache_key] = failed
            return
        self._verify[cache_key] = executor.submit(finish)

    # -- directories ---------------------------------------------------------------------
    def ca_dir(self, path: str) -> DirScan:
        """A hashed CA directory: every ``<hash>.N``/``<hash>.rN`` entry must lead to a
        parseable certificate/CRL whose name hash is the entry's."""
        cached = self._dirs.get(("ca", path))
        if cached is not None:
            return cached
        scan = self._dirs[("ca", path)] = DirScan()
        entries = _list_dir(path, scan)
        for name in (e.name for e in entries):
            match = HASHED_NAME.match(name)
            full = os.path.join(path, name)
            if not match:
                if os.path.isfile(full):
                    scan.other_files += 1
                continue
            why = self._hashed_entry_problem(full, match.group(1), bool(match.group(2)))
            if why:
                scan.problems.append((name, why))
            else:
                scan.usable.append(name)
        return scan

    def _hashed_entry_problem(self, full: str, digest: str, is_crl: bool) -> str | None:
        if not os.path.exists(full):
            return f"broken link to '{os.readlink(full)}'" if os.path.islink(full) else "unreadable"
        got = self.read(full)
        if got.data is None:
            return f"cannot read ({got.error})"
        if is_pem(got.data):
            certs, crls = read_pem_objects(got.data)
        else:
            certs, crls = self._der_objects(got.data)
        if is_crl:
            if not crls:
                return "not a CRL"
            names = [name_hash(crl.issuer) for crl in crls]
        else:
            if not certs:
                return "not a certificate"
            names = [name_hash(cert.subject) for cert in certs]
        if digest not in names:
            return f"name hash is {names[0]}, not {digest} (stale link: rehash the directory)"
        return None

    @staticmethod
    def _der_objects(data: bytes) -> tuple[list[x509.Certificate], list[x509.CertificateRevocationList]]:
        for loader, is_cert in ((x509.load_der_x509_certificate, True), (x509.load_der_x509_crl, False)):
            try:
                obj = loader(data)
            except ValueError:
                continue
            # the loop pairs each loader with its kind: mypy sees one union type for obj
            return ([obj], []) if is_cert else ([], [obj])  # type: ignore[list-item]
        return [], []

    def crl_dir(self, path: str) -> DirScan:
        """tls_openssl's crl_dir loading: every *regular* file (by d_type, so symlinks are
        skipped) whose content is a PEM CRL."""
        cached = self._dirs.get(("crl", path))
        if cached is not None:
            return cached
        scan = self._dirs[("crl", path)] = DirScan()
        for entry in _list_dir(path, scan):
            if entry.is_symlink():
                scan.problems.append((entry.name, "a symbolic link (only regular files are read)"))
                continue
            if not entry.is_file(follow_symlinks=False):
                continue
            got = self.read(entry.path)
            crls = read_pem_objects(got.data)[1] if got.data else []
            if crls:
                scan.usable.append(entry.name)
                scan.crls.append((entry.name, crls[0]))
            else:
                scan.problems.append((entry.name, "not a PEM CRL" if got.data is not None
                                      else f"cannot read ({got.error})"))
        return scan


def _list_dir(path: str, scan: DirScan) -> list[os.DirEntry[str]]:
    """The entries of ``path`` by name; an unreadable or missing directory is recorded on
    ``scan`` (and gives no entries)."""
    try:
        return sorted(os.scandir(path), key=lambda e: e.name)
    except FileNotFoundError:
        scan.error, scan.missing = "No such file or directory", True
    except OSError as err:
        scan.error = err.strerror or str(err)
    return []
