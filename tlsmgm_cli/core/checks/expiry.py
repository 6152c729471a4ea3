"""When each domain's certificate expires: the plain data ``check --format prometheus|nagios``
turns into metrics and perfdata.

The certificate of every domain OpenSIPS would load (script domains and the DB rows it
does not skip) is read as ``check`` reads it (``checks.filecache.FileCache``: regular
files only, size-capped, PEM as OpenSIPS reads it; ``root`` looked up as ``check --root``
does). Only the leaf's notAfter counts. A domain whose certificate cannot be read has no
entry (``check`` reports it as a finding).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from typing import Any

from tlsmgm_cli.core.domain import DomainSet, TlsDomain


@dataclass(frozen=True, slots=True)
class CertExpiry:
    """One domain's leaf certificate and its notAfter."""

    domain: str
    side: str
    file: str  # the path OpenSIPS opens, or "db:<row id>" for a certificate held in a DB row
    from_db: bool
    not_after: dt.datetime  # UTC
    seconds_left: float  # negative: expired

    @property
    def days_left(self) -> float:
        return self.seconds_left / 86400.0

    def to_dict(self) -> dict[str, Any]:
        return {"domain": self.domain, "side": self.side, "file": self.file, "from_db": self.from_db,
                "not_after": self.not_after.strftime("%Y-%m-%dT%H:%M:%SZ"), "seconds_left": self.seconds_left}


def _file_label(dom: TlsDomain) -> str:
    if dom.file_is_content("certificate"):
        return f"db:{dom.db_id if dom.db_id is not None else dom.name}"
    return dom.eff_certificate or ""


def _resolve(path: str, root: str | None) -> str:
    """Where OpenSIPS opens ``path`` (relative: against '/'), under ``root`` if given
    (the same rule as ``CheckContext.resolve``)."""
    absolute = path if os.path.isabs(path) else "/" + path
    return os.path.join(root, absolute.lstrip("/")) if root else absolute


def certificate_expiries(domset: DomainSet, now: dt.datetime, *, root: str | None = None) -> list[CertExpiry]:
    """The leaf notAfter of every loaded domain's certificate, in ``domset.all`` order."""
    from tlsmgm_cli.core.checks.filecache import FileCache

    files = FileCache()
    out: list[CertExpiry] = []
    for dom in domset.all:
        if dom.db_skip is not None or dom.eff_certificate is None:
            continue
        if dom.file_is_content("certificate"):
            cert_file = files.cert_blob(dom.eff_certificate, f"certificate of DB row {dom.db_id}")
        else:
            cert_file = files.cert_file(_resolve(dom.eff_certificate, root))
        leaf = cert_file.leaf
        if leaf is None:
            continue
        not_after = leaf.not_valid_after_utc
        out.append(CertExpiry(domain=dom.name, side=dom.side, file=_file_label(dom), from_db=dom.from_db,
                              not_after=not_after, seconds_left=(not_after - now).total_seconds()))
    return out
