"""``db export``: each row's PEM BLOBs to files, plus an opensips.cfg snippet of
modparams that defines the same domains in script form.

Files go to ``OUT/<server|client>/<name>/`` (keys mode 0600, every file written
atomically). Nothing is written when any target exists, unless ``force``. Rows that cannot
be written as modparams (no name, bad type, duplicate, a name with ']', an empty filter
value) are left out of the snippet, each with a reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from tlsmgm_cli.core.atomicio import PUBLIC_MODE, SECRET_MODE, atomic_write
from tlsmgm_cli.core.db.rows import TlsRow
from tlsmgm_cli.core.db.schema import BY_NAME, TYPE_CLIENT, TYPE_SERVER
from tlsmgm_cli.core.errors import TlsmgmError

SNIPPET_NAME = "tls_mgm.cfg"
# BLOB column -> (modparam, file name, mode)
BLOB_FILES = {
    "certificate": ("certificate", "cert.pem", PUBLIC_MODE),
    "private_key": ("private_key", "key.pem", SECRET_MODE),
    "ca_list": ("ca_list", "ca_list.pem", PUBLIC_MODE),
    "dh_params": ("dh_params", "dh_params.pem", PUBLIC_MODE),
}
# scalar column -> modparam, in OpenSIPS's parameter order
SCALAR_PARAMS = (("match_ip_address", "match_ip_address"), ("match_sip_domain", "match_sip_domain"),
                 ("method", "tls_method"), ("verify_cert", "verify_cert"),
                 ("require_cert", "require_cert"), ("crl_check_all", "crl_check_all"),
                 ("crl_dir", "crl_dir"), ("ca_dir", "ca_dir"), ("cipher_list", "ciphers_list"),
                 ("ec_curve", "ec_curve"))
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(slots=True)
class ExportResult:
    files: list[Path] = field(default_factory=list)
    snippet: Path | None = None
    skipped: list[str] = field(default_factory=list)  # why a row is not in the snippet


def cfg_string(value: str) -> str:
    """A double-quoted opensips.cfg string (escapes the cfg lexer understands)."""
    escaped = (value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
               .replace("\r", "\\r").replace("\t", "\\t"))
    return f'"{escaped}"'


def _skip_reason(row: TlsRow, seen: set[tuple[str, int]]) -> str | None:
    if not row.domain:
        return f"row id {row.id}: no domain name"
    if row.type not in (TYPE_CLIENT, TYPE_SERVER):
        return f"row id {row.id} ('{row.domain}'): type {row.type} is neither 1 (client) nor 2 (server)"
    if row.key in seen:
        return f"row id {row.id}: {row.side_name} domain '{row.domain}' is a duplicate"
    if "]" in row.domain:
        return f"row id {row.id}: the name '{row.domain}' contains ']', which no [dom] prefix can hold"
    for col in ("match_ip_address", "match_sip_domain"):
        if getattr(row, col) == "":
            return (f"row id {row.id} ('{row.domain}'): {col} is '' which a modparam cannot express "
                    "(\"[dom]\" alone is 'Empty value')")
    return None


def _dir_for(out: Path, row: TlsRow, used: set[Path]) -> Path:
    base = out / row.side_name / (_UNSAFE.sub("_", row.domain or "") or "_")
    path = base if base not in used else base.with_name(f"{base.name}-{row.id}")
    used.add(path)
    return path


def _int_text(value: int | None) -> str | None:
    """NULL and -1 keep OpenSIPS's default; other values as str2int would read them."""
    if value is None or value == -1:
        return None
    return str(value & 0xFFFFFFFF)


def export_rows(rows: list[TlsRow], out: str | Path, *, force: bool = False,
                header: str = "") -> ExportResult:
    """Write the PEM files and the snippet (rows in fetch order = declaration order, which
    keeps OpenSIPS's list order). Raises TlsmgmError before writing anything when a target
    exists and ``force`` is false."""
    out = Path(out).resolve()
    result = ExportResult()
    planned: list[tuple[Path, bytes, int]] = []
    lines = [f"# {line}" for line in header.splitlines()] + [
        "# TLS domains exported by tlsmgm db export. Include this file after",
        '# loadmodule "tls_mgm.so"; the files next to it hold the PEM data.', ""]
    seen: set[tuple[str, int]] = set()
    used: set[Path] = set()
    for row in rows:
        reason = _skip_reason(row, seen)
        if reason:
            result.skipped.append(reason)
            continue
        seen.add(row.key)
        name = row.domain or ""
        directory = _dir_for(out, row, used)
        kind = "server_domain" if row.type == TYPE_SERVER else "client_domain"
        lines.append(f'modparam("tls_mgm", "{kind}", {cfg_string(name)})')
        for column, param in SCALAR_PARAMS:
            value = getattr(row, column)
            text = _int_text(value) if BY_NAME[column].kind == "int" else value
            if text:
                lines.append(f'modparam("tls_mgm", "{param}", {cfg_string(f"[{name}]{text}")})')
        for column, (param, filename, mode) in BLOB_FILES.items():
            data = getattr(row, column)
            if not data:
                continue
            path = directory / filename
            planned.append((path, data, mode))
            lines.append(f'modparam("tls_mgm", "{param}", {cfg_string(f"[{name}]{path}")})')
        lines.append("")
    snippet = out / SNIPPET_NAME
    planned.append((snippet, "\n".join(lines).encode("utf-8", "surrogateescape"), PUBLIC_MODE))
    if not force:
        existing = [str(p) for p, _, _ in planned if p.exists() or p.is_symlink()]
        if existing:
            more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
            raise TlsmgmError(f"{existing[0]} already exists{more}; nothing written "
                              "(use --force to overwrite)")
    for path, data, mode in planned:
        result.files.append(atomic_write(path, data, mode=mode, force=True))
    result.snippet = snippet
    return result
