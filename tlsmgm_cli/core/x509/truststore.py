"""The one place that decides what a TLS domain trusts: its ``ca_list``, its ``ca_dir``
and its ``crl_dir`` (behaviour §2.8, §6.6, §6.7, §8.7), for every command.

``inspect --domain``, ``check`` (TLS300), ``handshake`` and ``serve`` all take a domain's
trust sources from :func:`domain_sources`, and fill either a ``core.x509.verify.TrustStore``
(:func:`fill_store`, :func:`build_trust_store`) or an ``ssl.SSLContext``
(:func:`load_context_cas`) from them. The rules live here only:

* ``ca_list`` is a PEM file (or PEM text from a DB row); one that cannot be read or holds
  no certificate is an error, as ``SSL_CTX_load_verify_locations`` fails on it;
* ``ca_dir`` (default ``/etc/pki/CA/``) is only a lookup path for OpenSSL: a directory
  that does not exist is **not an error** (OpenSSL records the path and finds nothing
  there), so it is left out, never reported;
* ``crl_dir`` is read as OpenSIPS reads it (the first PEM CRL of every regular file);
  CRL checking is on only when one was found.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ssl

    from tlsmgm_cli.core.domain import TlsDomain
    from tlsmgm_cli.core.x509.verify import TrustStore

DB_CA_LIST = "ca_list (PEM content from the DB)"


@dataclass(frozen=True, slots=True)
class TrustSources:
    """Where a store's CAs and CRLs come from. ``ca_dirs`` holds only directories that
    exist (a missing ``ca_dir`` is dropped, see the module docstring); ``skipped_ca_dirs``
    names those dropped, for messages that say what was used."""

    ca_files: tuple[str, ...] = ()
    ca_pem: bytes | None = None
    ca_dirs: tuple[str, ...] = ()
    crls: tuple[str, ...] = ()
    crl_check_all: bool = False
    skipped_ca_dirs: tuple[str, ...] = field(default=(), compare=False)

    def described(self) -> str:
        """The CA sources in words, for ``-v`` output and messages."""
        parts = ([DB_CA_LIST] if self.ca_pem else []) + list(self.ca_files) + list(self.ca_dirs)
        parts += [f"{d} (does not exist: skipped, as OpenSSL does)" for d in self.skipped_ca_dirs]
        return ", ".join(parts) or "nothing"


def usable_ca_dir(path: str | None) -> bool:
    """Whether a ``ca_dir`` takes part in verification (it exists as a directory)."""
    return bool(path and os.path.isdir(path))


def domain_sources(domain: TlsDomain, *, resolve: Callable[[str], str] | None = None,
                   crls: bool = True) -> TrustSources:
    """The trust sources of ``domain``; ``resolve`` maps its file paths (``check --root``)."""
    res = resolve or (lambda path: path)
    ca_files: tuple[str, ...] = ()
    ca_pem = None
    if domain.ca_list:
        if domain.file_is_content("ca_list"):
            ca_pem = domain.ca_list.encode("utf-8", "replace")
        else:
            ca_files = (res(domain.ca_list),)
    ca_dir = res(domain.eff_ca_dir)
    usable = usable_ca_dir(ca_dir)
    return TrustSources(ca_files=ca_files, ca_pem=ca_pem, ca_dirs=(ca_dir,) if usable else (),
                        crls=(res(domain.crl_dir),) if crls and domain.crl_dir else (),
                        crl_check_all=bool(domain.eff_crl_check_all),
                        skipped_ca_dirs=() if usable else (ca_dir,))


def option_sources(ca: Sequence[str] = (), crl: Sequence[str] = (), crl_check_all: bool = False,
                   base: TrustSources | None = None) -> TrustSources:
    """``--ca FILE|DIR`` / ``--crl FILE|DIR`` added to ``base`` (a domain's sources). A
    directory given as CA is a hashed directory, like ``ca_dir``; a ``--ca`` path that does
    not exist is an error later (the user named it), unlike a configured ``ca_dir``."""
    base = base or TrustSources()
    files = [c for c in ca if not os.path.isdir(c)]
    dirs = [c for c in ca if os.path.isdir(c)]
    return TrustSources(ca_files=base.ca_files + tuple(files), ca_pem=base.ca_pem,
                        ca_dirs=base.ca_dirs + tuple(dirs), crls=base.crls + tuple(crl),
                        crl_check_all=base.crl_check_all or crl_check_all,
                        skipped_ca_dirs=base.skipped_ca_dirs)


def fill_store(store: TrustStore, sources: TrustSources, *,
               read_ca: Callable[[str], bytes] | None = None) -> TrustStore:
    """Load ``sources`` into ``store``. ``read_ca`` reads a ``ca_list`` file (default: the
    size-limited regular-file reader); it raises ``TlsmgmError`` when it cannot."""
    if sources.ca_pem:
        store.add_ca_pem(sources.ca_pem, "ca_list")
    for path in sources.ca_files:
        if read_ca is None:
            store.add_ca_file(path)
        else:
            store.add_ca_pem(read_ca(path), path)
    for directory in sources.ca_dirs:
        if directory not in store.hashed_dirs:
            store.hashed_dirs.append(directory)
    for location in sources.crls:
        store.add_crl_path(location)
    store.crl_check_all = store.crl_check_all or sources.crl_check_all
    return store


def build_trust_store(sources: TrustSources) -> TrustStore:
    """A new ``TrustStore`` holding ``sources``."""
    from tlsmgm_cli.core.x509.verify import TrustStore

    return fill_store(TrustStore(crl_check_all=sources.crl_check_all), sources)


def domain_trust_store(domain: TlsDomain, *, crls: bool = True) -> TrustStore:
    """The ``TrustStore`` of ``domain`` (the verify result OpenSSL stores without
    enforcing it, ``handshake`` with ``verify_cert=0``; ``serve``)."""
    sources = domain_sources(domain, crls=crls)
    if sources.crls and not os.path.isdir(sources.crls[0]):
        sources = TrustSources(sources.ca_files, sources.ca_pem, sources.ca_dirs, (), sources.crl_check_all)
    return build_trust_store(sources)


def verify_as_peer_of(domain: TlsDomain, ca: Sequence[str] = (), crl: Sequence[str] = (),
                      crl_check_all: bool = False) -> tuple[TrustSources, str]:
    """What ``domain`` trusts (plus extra ``--ca``/``--crl``) and the purpose a certificate
    it verifies must have: a server domain verifies clients, a client domain servers."""
    from tlsmgm_cli.core.domain import SERVER
    from tlsmgm_cli.core.x509.verify import PURPOSE_SSL_CLIENT, PURPOSE_SSL_SERVER

    sources = option_sources(ca, crl, crl_check_all, domain_sources(domain))
    return sources, (PURPOSE_SSL_CLIENT if domain.side == SERVER else PURPOSE_SSL_SERVER)


def peer_view(domain: TlsDomain, verify_code: int | None, verify_text: str = "") -> tuple[bool, str | None]:
    """What OpenSIPS shows of a peer certificate on ``domain``'s connections, given the
    verify result of that certificate: (hidden, note). ``hidden``: a server domain with
    verify_cert=0 requests no client certificate, so every ``$tls_peer_*`` is NULL and the
    flags 0; a domain that verifies (verify_cert=1) aborts the handshake on a failed
    verification, so the values are never seen (behaviour §6.4, §10)."""
    from tlsmgm_cli.core.domain import SERVER

    label = f"{domain.side} domain [{domain.name}]"
    if domain.side == SERVER and not domain.eff_verify_cert:
        return True, (f"{label} has verify_cert=0: OpenSIPS requests no client certificate, so on its "
                      "connections every $tls_peer_* is <null> and the flags 0 (run without --domain to see "
                      "the certificate's own values)")
    if domain.eff_verify_cert and verify_code not in (None, 0):
        return False, (f"{label} verifies peers (verify_cert=1): OpenSIPS aborts the handshake on this "
                       f"certificate ({verify_text or f'verify error {verify_code}'}), so these values are never "
                       "seen on its connections")
    return False, None


def load_context_cas(ctx: ssl.SSLContext, sources: TrustSources,
                     fail: Callable[[str, str], Exception]) -> None:
    """Load the CA part of ``sources`` into ``ctx`` as tls_openssl does
    (``SSL_CTX_load_verify_locations`` for ``ca_list``, then for ``ca_dir``).
    ``fail(what, why)`` makes the exception raised for an unusable ``ca_list``."""
    import ssl

    from tlsmgm_cli.core.x509.pem import CERTIFICATE_LABELS, pem_blocks

    if sources.ca_pem:
        # DER, so that TRUSTED CERTIFICATE (X509_AUX) blocks count too, as in OpenSIPS
        ders = []
        for block in pem_blocks(sources.ca_pem):
            if block.label in CERTIFICATE_LABELS:
                try:
                    ders.append(block.certificate_der())
                except ValueError:
                    continue  # a damaged block is left out here; `check` reports it
        if ders:
            try:
                ctx.load_verify_locations(cadata=b"".join(ders))
            except ssl.SSLError as err:
                raise fail(DB_CA_LIST, f"unable to load ca ({err.reason or err})") from None
    for path in sources.ca_files:
        _refuse_special(path, f"ca_list '{path}'", fail)
        try:
            ctx.load_verify_locations(cafile=path)
        except OSError as err:
            raise fail(f"ca_list '{path}'", f"unable to load ca ({err.strerror or err})") from None
        except ssl.SSLError as err:
            raise fail(f"ca_list '{path}'", f"unable to load ca ({err.reason or 'no certificate in it'})") from None
    for directory in sources.ca_dirs:
        ctx.load_verify_locations(capath=directory)



def _refuse_special(path: str, what: str, fail: Callable[[str, str], Exception]) -> None:
    """A FIFO or device as ``ca_list`` would block or never end: refused before OpenSSL
    opens it (a missing file is left to OpenSSL's own message)."""
    import stat

    from tlsmgm_cli.core.limits import PKI_FILE_MAX_BYTES
    from tlsmgm_cli.core.util.safeio import file_kind, limit_text

    try:
        st = os.stat(path)
    except OSError:
        return
    if not stat.S_ISREG(st.st_mode):
        raise fail(what, f"unable to load ca (is {file_kind(st.st_mode)}, not a regular file; refused)")
    if st.st_size > PKI_FILE_MAX_BYTES:
        raise fail(what, f"unable to load ca ({st.st_size} bytes, over the {limit_text(PKI_FILE_MAX_BYTES)} limit)")
