"""``db export``: each row's PEM BLOBs to files, plus an opensips.cfg snippet of
modparams that defines the same domains in script form.

Files go to ``OUT/<server|client>/<slug>/`` (keys mode 0600). The slug is the domain
name made safe for a file name: only ``A-Za-z0-9._-`` are kept (others become ``_``), and
leading dots become ``_`` (so ``..`` is ``__``, never the parent directory). Two domains of
one side whose slugs are equal make the export refuse before anything is written.

An export writes everything or nothing: the files are staged in a temporary directory
next to OUT and renamed into place once all of them are written; on any failure (a full
disk...) the staging directory is removed. Nothing is written when any target exists,
unless ``force``. Rows that cannot be written as modparams (no name, bad type, duplicate,
a name with ']', an empty filter value) are left out of the snippet, each with a reason.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tlsmgm_cli import exitcodes
from tlsmgm_cli.core.cfg.parse import holds_private_key
from tlsmgm_cli.core.db.rows import TlsRow
from tlsmgm_cli.core.db.schema import BY_NAME, TYPE_CLIENT, TYPE_SERVER
from tlsmgm_cli.core.errors import TlsmgmError, UsageError
from tlsmgm_cli.core.util.atomicio import PUBLIC_MODE, SECRET_MODE, fsync_dir, write_synced

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
_LEADING_DOTS = re.compile(r"^\.+")
SLUG_MAX = 100  # characters of a domain name kept in its directory name


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


def _skip_reason(row: TlsRow, seen: set[tuple[str | None, int | None]]) -> str | None:
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


def slug(name: str) -> str:
    """``name`` as one safe path component: no '/', NUL, control or non-ASCII characters
    (each becomes '_'), no leading dot (``..`` -> ``__``), never empty, at most SLUG_MAX
    characters."""
    text = _UNSAFE.sub("_", name)
    text = _LEADING_DOTS.sub(lambda m: "_" * len(m.group()), text)
    return text[:SLUG_MAX] or "_"


def _dir_for(out: Path, row: TlsRow, used: dict[Path, TlsRow]) -> Path:
    path = out / row.side_name / slug(row.domain or "")
    other = used.get(path)
    if other is not None:
        raise TlsmgmError(
            f"{row.side_name} domains {other.domain!r} (row id {other.id}) and {row.domain!r} "
            f"(row id {row.id}) would both be exported to {path}; nothing written (file names "
            "keep only A-Z a-z 0-9 . _ -; rename one of the domains)", exit_code=exitcodes.PROBLEMS)
    used[path] = row
    return path


def _int_text(value: int | None) -> str | None:
    """NULL and -1 keep OpenSIPS's default; other values as str2int would read them."""
    if value is None or value == -1:
        return None
    return str(value & 0xFFFFFFFF)


def export_rows(rows: list[TlsRow], out: str | Path, *, force: bool = False,
                header: str = "") -> ExportResult:
    """Write the PEM files and the snippet (rows in fetch order = declaration order, which
    keeps OpenSIPS's list order; client domains before server domains, so that a client
    domain named like a server domain gets its own modparams). Raises TlsmgmError before writing anything when a target
    exists and ``force`` is false, or when two domains would write the same files; all
    files or none are written."""
    out = Path(out).resolve()
    result = ExportResult()
    planned: list[tuple[Path, bytes, int]] = []
    lines = [f"# {line}" for line in header.splitlines()] + [
        "# TLS domains exported by tlsmgm db export. Include this file after",
        '# loadmodule "tls_mgm.so"; the files next to it hold the PEM data.',
        "# Client domains come first: a \"[name]\" modparam goes to the server domain of that",
        "# name when one is already declared, so a client domain sharing its name with a",
        "# server domain can be configured only before that server domain is declared.", ""]
    seen: set[tuple[str | None, int | None]] = set()
    used: dict[Path, TlsRow] = {}
    # the server and the client lists keep their own order: only their interleaving changes
    ordered = [r for r in rows if r.type == TYPE_CLIENT] + [r for r in rows if r.type != TYPE_CLIENT]
    for row in ordered:
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
            if mode != SECRET_MODE and holds_private_key(data):
                mode = SECRET_MODE  # a key stored in another column stays private on disk
            planned.append((path, data, mode))
            lines.append(f'modparam("tls_mgm", "{param}", {cfg_string(f"[{name}]{path}")})')
        lines.append("")
    snippet = out / SNIPPET_NAME
    planned.append((snippet, "\n".join(lines).encode("utf-8", "surrogateescape"), PUBLIC_MODE))
    if len({p for p, _, _ in planned}) != len(planned):  # cannot happen: slugs are checked above
        raise TlsmgmError("two files of the export would have the same path; nothing written",
                          exit_code=exitcodes.PROBLEMS)
    if not force:
        existing = [str(p) for p, _, _ in planned if p.exists() or p.is_symlink()]
        if existing:
            more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
            raise UsageError(f"{existing[0]} already exists{more}; nothing written "
                             "(use --force to overwrite)")
    result.files = _write_all(out, planned)
    result.snippet = snippet
    return result


def _write_all(out: Path, planned: list[tuple[Path, bytes, int]]) -> list[Path]:
    """Write every planned file, or none: stage them in a directory next to ``out``, then
    rename them into place (the snippet last). The staging directory is always removed."""
    blocker = _non_directory_ancestor(out)
    if blocker is not None:
        raise TlsmgmError(f"cannot write into {out}: {blocker} is not a directory; nothing written",
                          exit_code=exitcodes.PROBLEMS)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.tlsmgm-export-", dir=out.parent))
    except OSError as err:
        if not out.is_dir():
            blocker = _non_directory_ancestor(out)
            why = f"{blocker} is not a directory" if blocker else (err.strerror or str(err))
            raise TlsmgmError(f"cannot write into {out}: {why}; nothing written",
                              exit_code=exitcodes.PROBLEMS) from None
        try:  # an existing OUT whose parent is read-only: stage inside OUT itself
            staging = Path(tempfile.mkdtemp(prefix=".tlsmgm-export-", dir=out))
        except OSError as err2:
            raise TlsmgmError(f"cannot write into {out}: {err2.strerror or err2}; nothing written",
                              exit_code=exitcodes.PROBLEMS) from None
    try:
        for path, data, mode in planned:
            try:
                _write_file(staging / path.relative_to(out), data, mode)
            except OSError as err:
                raise TlsmgmError(f"cannot write {path}: {err.strerror or err}; nothing written",
                                  exit_code=exitcodes.PROBLEMS) from None
        _fsync_tree(staging)
        try:
            _move_into_place(staging, out)
        except OSError as err:
            raise TlsmgmError(f"cannot move the export into {out}: {err.strerror or err}",
                              exit_code=exitcodes.PROBLEMS) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [path for path, _, _ in planned]


def _non_directory_ancestor(path: Path) -> Path | None:
    """The nearest existing ancestor of ``path`` (or ``path`` itself) when it is not a
    directory (``--out /dev/full/x``: mkdir says "File exists", which misleads)."""
    for candidate in (path, *path.parents):
        if candidate.exists() or candidate.is_symlink():
            return None if candidate.is_dir() else candidate
    return None


def _write_file(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), mode & 0o600)
    write_synced(fd, data, mode)


def _fsync_tree(root: Path) -> None:
    for directory, _, _ in os.walk(root):
        fsync_dir(directory)


def _move_into_place(staging: Path, out: Path) -> None:
    """A new ``out`` is the staging directory renamed (one step); into an existing one,
    each subtree that is new is renamed whole and existing files are replaced one by one,
    the snippet (which points at the others) last."""
    if not out.exists() and not out.is_symlink():
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(staging, 0o777 & ~umask)  # as mkdir would have made it, not mkdtemp's 0700
        os.rename(staging, out)
        return
    _merge(staging, out)


def _merge(src: Path, dst: Path) -> None:
    entries = sorted(src.iterdir(), key=lambda p: p.name == SNIPPET_NAME)
    for entry in entries:
        target = dst / entry.name
        if entry.is_dir() and (target.is_dir() and not target.is_symlink()):
            _merge(entry, target)
        else:
            os.replace(entry, target)
