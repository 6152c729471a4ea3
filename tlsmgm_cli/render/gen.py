"""Output of ``tlsmgm gen``: what was written, and the facts an operator checks next."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tlsmgm_cli.render import emit_json
from tlsmgm_cli.render.safe import visible

if TYPE_CHECKING:
    from cryptography import x509

    from tlsmgm_cli.core.x509.certgen import CrlUpdate

_LABELS = (("subject", "subject"), ("issuer", "issuer"), ("key", "key"), ("serial", "serial"),
           ("not_after", "notAfter"), ("sans", "SANs"), ("subject_hash", "hash"))


def render_issued(cert: x509.Certificate, cert_path: Path, key_path: Path, fmt: str) -> None:
    """Report a written certificate and key (the key's content is never shown)."""
    from tlsmgm_cli.core.x509.facts import cert_summary

    facts = cert_summary(cert)
    if fmt == "json":
        emit_json({"certificate": str(cert_path), "private_key": str(key_path), **facts})
        return
    click.echo(f"wrote {visible(cert_path)}")
    click.echo(f"wrote {visible(key_path)} (private key, mode 0600)")
    _echo_facts(facts)


def render_crl(update: CrlUpdate, fmt: str) -> None:
    """Report a written CRL and its hashed directory."""
    crl = update.crl
    facts: dict[str, Any] = {
        "crl": str(update.crl_path),
        "hashed": [str(p) for p in update.hashed],
        "crl_dir": str(update.hashed[0].parent) if update.hashed else None,
        "issuer": crl.issuer.rfc4514_string(),
        "last_update": crl.last_update_utc.isoformat(),
        "next_update": crl.next_update_utc.isoformat() if crl.next_update_utc else None,
        "revoked": [f"0x{s:x}" for s in update.revoked],
        "added": [f"0x{s:x}" for s in update.added],
    }
    if fmt == "json":
        emit_json(facts)
        return
    click.echo(f"wrote {visible(update.crl_path)}")
    for path in update.hashed:
        click.echo(f"wrote {visible(path)} (usable as tls_mgm crl_dir {visible(path.parent)})")
    click.echo(f"  issuer      {visible(facts['issuer'])}")
    click.echo(f"  nextUpdate  {facts['next_update']}")
    revoked = ", ".join(facts["revoked"]) or "(none)"
    click.echo(f"  revoked     {revoked}")


def _echo_facts(facts: dict[str, Any]) -> None:
    for key, label in _LABELS:
        value = facts[key]
        if isinstance(value, list):
            value = ", ".join(value) or "(none)"
        click.echo(f"  {label:<9} {visible(value)}")
