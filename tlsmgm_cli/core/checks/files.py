"""File rules: what ``SSL_CTX_use_certificate_chain_file``, ``SSL_CTX_use_PrivateKey_file``,
``SSL_CTX_check_private_key``, ``SSL_CTX_load_verify_locations`` and tls_openssl's crl_dir
loader would do with a domain's files (behaviour §2.8, §6.5, §6.6, §6.7, §6.14)."""

from __future__ import annotations

import datetime as dt
import os
import shlex
from typing import TYPE_CHECKING

from cryptography.exceptions import UnsupportedAlgorithm

from tlsmgm_cli.core.checks.context import CheckContext
from tlsmgm_cli.core.checks.filecache import CertFile, DirScan
from tlsmgm_cli.core.domain import TlsDomain

if TYPE_CHECKING:
    from cryptography import x509

FILE_PARAMS = ("certificate", "private_key", "ca_list", "ca_dir", "crl_dir", "dh_params")
_MAX_LISTED = 5


def check_domain(ctx: CheckContext, dom: TlsDomain) -> None:
    _relative_paths(ctx, dom)
    cert = domain_certificate(ctx, dom)
    _certificate(ctx, dom, cert)
    _private_key(ctx, dom, cert)
    _ca_list(ctx, dom)
    _ca_dir(ctx, dom)
    _crl_dir(ctx, dom)


def q(path: str) -> str:
    return shlex.quote(path)


def domain_certificate(ctx: CheckContext, dom: TlsDomain) -> CertFile | None:
    """The domain's certificate file (or DB blob) as OpenSIPS would load it; None when the
    domain has no certificate (a 3.6.5+ client domain without one)."""
    value = dom.eff_certificate
    if value is None:
        return None
    if dom.file_is_content("certificate"):
        return ctx.files.cert_blob(value, f"certificate of DB row {dom.db_id}")
    return ctx.files.cert_file(ctx.resolve(value))


def _relative_paths(ctx: CheckContext, dom: TlsDomain) -> None:
    for param in FILE_PARAMS:
        value = getattr(dom, param)
        if value and not dom.file_is_content(param) and not os.path.isabs(value):
            ctx.add("TLS212", f"{param} '{value}' is a relative path: OpenSIPS opens '/{value.lstrip('/')}' "
                    "(its working directory is '/' unless started with -w)", dom=dom, param=param)


def _certificate(ctx: CheckContext, dom: TlsDomain, cert: CertFile | None) -> None:
    if cert is None or cert.error is None:
        return
    value = dom.eff_certificate or ""
    if dom.file_is_content("certificate"):
        ctx.add("TLS200", f"Unable to load certificate from buffer: {cert.error}", dom=dom, param="certificate")
    elif dom.certificate_is_default:
        ctx.add("TLS201", f"unable to load certificate file '{value}' (the CFG_DIR default, as 'certificate' "
                f"is not set): {cert.error}", dom=dom)
    else:
        ctx.add("TLS200", f"unable to load certificate file '{value}': {cert.error}", dom=dom,
                param="certificate", openssl=f"openssl x509 -in {q(value)} -noout -subject")


def _private_key(ctx: CheckContext, dom: TlsDomain, cert: CertFile | None) -> None:
    value = dom.eff_private_key
    if value is None:
        return
    blob = dom.file_is_content("private_key")
    if cert is None:
        ctx.add("TLS206", f"private_key '{value if not blob else 'DB blob'}' is set but the domain has no "
                "certificate: SSL_CTX_check_private_key fails", dom=dom, param="private_key")
        return
    key = ctx.files.key_blob(value) if blob else ctx.files.key_file(ctx.resolve(value))
    shown = "(DB blob)" if blob else f"'{value}'"
    if key.problem == "encrypted":
        ctx.add("TLS204", f"private key {shown} is encrypted: OpenSIPS would ask for the passphrase on the "
                "console at startup (3 tries), which a daemon cannot answer", dom=dom, param="private_key",
                openssl=None if blob else f"openssl pkey -in {q(value)} -noout")
    elif key.problem is not None:
        if dom.private_key_is_default:
            ctx.add("TLS201", f"unable to load private key file '{value}' (the CFG_DIR default, as "
                    f"'private_key' is not set): {key.detail}", dom=dom)
        else:
            ctx.add("TLS202", f"unable to load private key file {shown}: {key.detail}", dom=dom,
                    param="private_key", openssl=None if blob else f"openssl pkey -in {q(value)} -noout")
    if key.mode is not None and key.mode & 0o044:
        readers = " and ".join(who for who, bit in (("group", 0o040), ("others", 0o004)) if key.mode & bit)
        ctx.add("TLS205", f"private key '{value}' is readable by {readers} (mode {key.mode & 0o777:04o})",
                dom=dom, param="private_key", openssl=f"chmod 600 {q(value)}")
    leaf = cert.leaf
    if key.public_key is None or leaf is None:
        return
    try:
        matches = leaf.public_key() == key.public_key  # EVP_PKEY_eq, as SSL_CTX_check_private_key
    except (ValueError, TypeError, UnsupportedAlgorithm):  # a key algorithm cryptography does not know
        return
    if not matches:
        cert_value = dom.eff_certificate if not dom.file_is_content("certificate") else "DB blob"
        ctx.add("TLS203", f"key {shown} does not match the public key of the certificate '{cert_value}' "
                "(OpenSIPS 3.6.8 logs 'unable to load private key file')", dom=dom, param="private_key",
                openssl=None if blob else
                f"openssl x509 -in {q(dom.eff_certificate or '')} -noout -pubkey | openssl sha256; "
                f"openssl pkey -in {q(value)} -pubout | openssl sha256")


def _ca_list(ctx: CheckContext, dom: TlsDomain) -> None:
    if not dom.ca_list:
        return
    blob = dom.file_is_content("ca_list")
    _, problem = ctx.files.trust_store(None if blob else ctx.resolve(dom.ca_list), dom.ca_list if blob else None,
                                       None)
    if problem and blob:  # the DB reader adds what parses and never fails (behaviour §5.3)
        ctx.add("TLS044", f"ca_list of the DB row: {problem}; OpenSIPS adds no CA from it and loads the domain",
                dom=dom, param="ca_list")
    elif problem:
        ctx.add("TLS207", problem if not ctx.root else problem.replace(ctx.resolve(dom.ca_list), dom.ca_list),
                dom=dom, param="ca_list")


def _listing(problems: list[tuple[str, str]]) -> str:
    shown = "; ".join(f"{name}: {why}" for name, why in problems[:_MAX_LISTED])
    more = len(problems) - _MAX_LISTED
    return shown + (f"; and {more} more" if more > 0 else "")


def _ca_dir(ctx: CheckContext, dom: TlsDomain) -> None:
    if not dom.ca_dir:
        return  # the default /etc/pki/CA/ is the system's business
    scan: DirScan = ctx.files.ca_dir(ctx.resolve(dom.ca_dir))
    where = f"ca_dir '{dom.ca_dir}'"
    cmd = f"openssl rehash -v {q(dom.ca_dir)}"
    if scan.error:
        ctx.add("TLS208", f"{where}: {scan.error} (OpenSSL does not complain; no CA is found there)",
                dom=dom, param="ca_dir", openssl=cmd)
        return
    if scan.problems:
        ctx.add("TLS208", f"{where}: unusable hashed entries: {_listing(scan.problems)}", dom=dom,
                param="ca_dir", openssl=cmd)
    if not scan.usable:
        why = (f"holds {scan.other_files} file(s) but no <hash>.N links" if scan.other_files
               else "holds no <hash>.N certificate links")
        ctx.add("TLS208", f"{where} {why}: OpenSSL finds nothing in it (run c_rehash)", dom=dom,
                param="ca_dir", openssl=cmd)


def _crl_dir(ctx: CheckContext, dom: TlsDomain) -> None:
    if not dom.crl_dir:
        return
    scan = ctx.files.crl_dir(ctx.resolve(dom.crl_dir))
    where = f"crl_dir '{dom.crl_dir}'"
    if scan.error:
        ctx.add("TLS209", f"Unable to open crl directory '{dom.crl_dir}': {scan.error}", dom=dom, param="crl_dir")
        return
    if not scan.crls:
        extra = f" ({_listing(scan.problems)})" if scan.problems else " (empty)"
        ctx.add("TLS210", f"{where}: No suitable CRL files found{extra}: CRL checking stays off", dom=dom,
                param="crl_dir")
    elif scan.problems:
        ctx.add("TLS213", f"{where}: entries not loaded: {_listing(scan.problems)}", dom=dom, param="crl_dir")
    for name, crl in scan.crls:
        _crl_times(ctx, dom, os.path.join(dom.crl_dir, name), crl)


def _crl_times(ctx: CheckContext, dom: TlsDomain, path: str, crl: x509.CertificateRevocationList) -> None:
    now: dt.datetime = ctx.now
    cmd = f"openssl crl -in {q(path)} -noout -lastupdate -nextupdate"
    if crl.next_update_utc is not None and crl.next_update_utc < now:
        ctx.add("TLS211", f"CRL '{path}' expired: nextUpdate {crl.next_update_utc:%Y-%m-%d %H:%M:%S} UTC "
                "is past (verification of peers it covers fails: CRL has expired)", dom=dom,
                param="crl_dir", openssl=cmd)
    elif crl.last_update_utc > now:
        ctx.add("TLS211", f"CRL '{path}' is not yet valid: lastUpdate {crl.last_update_utc:%Y-%m-%d %H:%M:%S} "
                "UTC", dom=dom, param="crl_dir", openssl=cmd)
