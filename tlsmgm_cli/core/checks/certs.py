"""Certificate rules: chain to the domain's CA store, validity window, key strength,
signature hash, EKU vs side, and SAN coverage of ``match_sip_domain`` (RFC 6125)."""

from __future__ import annotations

import hashlib
import shlex
from concurrent.futures import Executor
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from tlsmgm_cli.core.checks.context import CheckContext
from tlsmgm_cli.core.checks.files import domain_certificate
from tlsmgm_cli.core.domain import SERVER, TlsDomain
from tlsmgm_cli.core.x509.facts import extended_key_usages
from tlsmgm_cli.core.x509.keys import key_description
from tlsmgm_cli.core.x509.truststore import domain_sources
from tlsmgm_cli.core.x509.verify import ERR_CERT_HAS_EXPIRED, ERR_CERT_NOT_YET_VALID, TrustStore

_EKU_FOR_SIDE = {SERVER: "serverAuth", "client": "clientAuth"}
_WEAK_HASHES = (hashes.SHA1, hashes.MD5)
_GLOB_CHARS = "*?[\\"


def check_domain(ctx: CheckContext, dom: TlsDomain) -> None:
    cert_file = domain_certificate(ctx, dom)
    if cert_file is None or not cert_file.certs:
        return
    leaf = cert_file.certs[0]
    blob = dom.file_is_content("certificate")
    label = "the DB certificate" if blob else f"'{dom.eff_certificate}'"
    source = None if blob else shlex.quote(dom.eff_certificate or "")
    _validity(ctx, dom, leaf, label, source)
    _strength(ctx, dom, cert_file.certs, label, source)
    _eku(ctx, dom, leaf, label, source)
    _chain(ctx, dom, cert_file.certs, label, source)
    if dom.side == SERVER:
        _san_coverage(ctx, dom, leaf, label, source)


def _cmd(source: str | None, text: str) -> str | None:
    return f"openssl x509 -in {source} {text}" if source else None


def _validity(ctx: CheckContext, dom: TlsDomain, leaf: x509.Certificate, label: str, source: str | None) -> None:
    not_before, not_after = leaf.not_valid_before_utc, leaf.not_valid_after_utc
    if not_before > ctx.now:
        ctx.add("TLS303", f"certificate {label} is not yet valid: notBefore {not_before:%Y-%m-%d %H:%M:%S} UTC",
                dom=dom, param="certificate", openssl=_cmd(source, "-noout -startdate"))
    elif not_after <= ctx.now:
        ctx.add("TLS301", f"certificate {label} expired on {not_after:%Y-%m-%d %H:%M:%S} UTC", dom=dom,
                param="certificate", openssl=_cmd(source, "-noout -enddate"))
    else:
        left = not_after - ctx.now
        if left.days < ctx.warn_days:
            ctx.add("TLS302", f"certificate {label} expires in {left.days} day(s), on "
                    f"{not_after:%Y-%m-%d %H:%M:%S} UTC (--warn-days {ctx.warn_days})", dom=dom,
                    param="certificate",
                    openssl=_cmd(source, f"-noout -enddate -checkend {ctx.warn_days * 86400}"))


def _strength(ctx: CheckContext, dom: TlsDomain, certs: tuple[x509.Certificate, ...], label: str,
              source: str | None) -> None:
    kind, bits = key_description(certs[0])
    if kind == "RSA" and bits is not None and bits < 2048:
        ctx.add("TLS304", f"certificate {label} has an RSA key of {bits} bits", dom=dom, param="certificate",
                openssl=_cmd(source, "-noout -text"))
    for index, cert in enumerate(certs):
        if index and cert.issuer == cert.subject:
            continue  # a root's self-signature is never checked
        try:
            algorithm = cert.signature_hash_algorithm
        except Exception:  # noqa: BLE001 - unsupported algorithms: nothing to say here
            continue
        if isinstance(algorithm, _WEAK_HASHES):
            which = "" if index == 0 else f" (certificate #{index + 1} of the file)"
            ctx.add("TLS305", f"certificate {label}{which} is signed with {algorithm.name.upper()}", dom=dom,
                    param="certificate", openssl=_cmd(source, "-noout -text"))


def _eku(ctx: CheckContext, dom: TlsDomain, leaf: x509.Certificate, label: str, source: str | None) -> None:
    usages = extended_key_usages(leaf)
    wanted = _EKU_FOR_SIDE[dom.side]
    if usages is None or wanted in usages or "anyExtendedKeyUsage" in usages:
        return
    peer = "clients" if dom.side == SERVER else "servers"
    ctx.add("TLS306", f"certificate {label} of a {dom.side} domain has extendedKeyUsage "
            f"{', '.join(usages) or '(empty)'} without {wanted}: {peer} that verify it reject it "
            "(unsuitable certificate purpose)", dom=dom, param="certificate",
            openssl=_cmd(source, "-noout -ext extendedKeyUsage"))


@dataclass(frozen=True, slots=True)
class ChainJob:
    """A domain's chain verification: its certificates against its trust store, with the
    FileCache keys that let domains sharing both share the result."""

    cert_key: tuple[str, str]
    certs: tuple[x509.Certificate, ...]
    store_key: tuple[str | None, str | None, str | None]
    store: TrustStore


def chain_job(ctx: CheckContext, dom: TlsDomain, certs: tuple[x509.Certificate, ...]) -> ChainJob | None:
    """What TLS300 verifies for ``dom`` (whose certificate file holds ``certs``); None
    when the rule is off or there is no CA to verify against."""
    if not ctx.wanted("TLS300"):
        return None  # verification is the costly part: skip it when the rule is not selected
    sources = domain_sources(dom, resolve=ctx.resolve, crls=False)  # the one trust-store rule set
    ca_path = sources.ca_files[0] if sources.ca_files else None
    ca_blob = dom.ca_list if sources.ca_pem else None
    ca_dir = sources.ca_dirs[0] if sources.ca_dirs else None  # a missing ca_dir is not an error
    store, _ = ctx.files.trust_store(ca_path, ca_blob, ca_dir)
    if store is None:
        return None  # no CA configured or present here: nothing to verify against
    cert_key = ("blob", hashlib.sha256((dom.eff_certificate or "").encode()).hexdigest()) \
        if dom.file_is_content("certificate") else ("file", ctx.resolve(dom.eff_certificate or ""))
    return ChainJob(cert_key, certs, (ca_path, ca_blob, ca_dir), store)


def start_chain(ctx: CheckContext, dom: TlsDomain, executor: Executor) -> None:
    """Start ``dom``'s chain verification on ``executor`` (``_chain`` collects it)."""
    cert_file = domain_certificate(ctx, dom)
    job = chain_job(ctx, dom, cert_file.certs) if cert_file is not None and cert_file.certs else None
    if job is not None:
        ctx.files.verify_on(executor, job.cert_key, job.certs, job.store_key, job.store, ctx.now)


def _chain(ctx: CheckContext, dom: TlsDomain, certs: tuple[x509.Certificate, ...], label: str,
           source: str | None) -> None:
    job = chain_job(ctx, dom, certs)
    if job is None:
        return
    result = ctx.files.verify(job.cert_key, certs, job.store_key, job.store, ctx.now)
    store = job.store
    blob_ca = dom.file_is_content("ca_list")
    if result.ok or (result.depth == 0 and result.code in (ERR_CERT_HAS_EXPIRED, ERR_CERT_NOT_YET_VALID)):
        return
    against = " and ".join(x for x in (f"ca_list '{dom.ca_list}'" if dom.ca_list and not blob_ca else
                                       "the DB ca_list" if blob_ca else "",
                                       f"ca_dir '{dom.eff_ca_dir}'" if store.hashed_dirs else "") if x)
    cmd = None
    if source:
        ca_opt = f"-CAfile {shlex.quote(dom.ca_list)}" if dom.ca_list and not blob_ca else \
            f"-CApath {shlex.quote(dom.eff_ca_dir)}"
        cmd = f"openssl verify {ca_opt} -untrusted {source} {source}"
    ctx.add("TLS300", f"certificate {label} does not verify against {against}: {result.text} "
            f"(X509_V_ERR {result.code} at depth {result.depth})", dom=dom, param="certificate", openssl=cmd)


# ---- SAN coverage (RFC 6125) ---------------------------------------------------------------
def dns_names(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return []
    return [name.lower() for name in san.get_values_for_type(x509.DNSName)]


def san_covers(san: str, host: str) -> bool:
    """RFC 6125 §6.4: exact (case-insensitive) match, or a wildcard that is the whole
    leftmost label and stands for exactly one non-empty label (never the registered
    domain alone)."""
    san, host = san.lower().rstrip("."), host.lower().rstrip(".")
    if san == host:
        return True
    if not san.startswith("*.") or "*" in san[2:] or "." not in san[2:]:
        return False
    first, _, rest = host.partition(".")
    return bool(first) and rest == san[2:]


def _san_coverage(ctx: CheckContext, dom: TlsDomain, leaf: x509.Certificate, label: str,
                  source: str | None) -> None:
    names = dns_names(leaf)
    shown = ", ".join(names) if names else "no DNS subjectAltName"
    cmd = _cmd(source, "-noout -ext subjectAltName")
    for pattern in dom.eff_sip_domains:
        if pattern in ("*", "none", ""):
            continue
        body = pattern[2:] if pattern.startswith("*.") else None
        if not any(c in pattern for c in _GLOB_CHARS):
            if not any(san_covers(n, pattern) for n in names):
                ctx.add("TLS307", f"certificate {label} ({shown}) does not cover match_sip_domain "
                        f"'{pattern}'", dom=dom, param="match_sip_domain", openssl=cmd)
        elif body is not None and not any(c in body for c in _GLOB_CHARS):
            ctx.add("TLS308", f"match_sip_domain '{pattern}' also matches names like 'a.b.{body}' (fnmatch "
                    f"'*' spans dots); a certificate wildcard '*.{body}' covers one label only",
                    dom=dom, param="match_sip_domain")
            if f"*.{body.lower()}" not in names:
                ctx.add("TLS307", f"certificate {label} ({shown}) does not cover match_sip_domain "
                        f"'{pattern}' (needs SAN '*.{body}')", dom=dom, param="match_sip_domain", openssl=cmd)
        else:
            ctx.add("TLS308", f"match_sip_domain '{pattern}': no certificate wildcard can cover it "
                    "('*' mid-label or spanning labels, '?' or '[...]')", dom=dom, param="match_sip_domain")
