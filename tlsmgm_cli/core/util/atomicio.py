"""Atomic file writes: a reader sees either the old file or the complete new one.

The data goes to a temporary file in the target's own directory (so that ``os.replace``
never crosses a file system), is flushed and fsync'ed, gets its final mode, and then
replaces the target in one step; the directory is fsync'ed afterwards so that the rename
survives a crash. Private keys are written with mode 0600 from the start (the temporary
file is created 0600 and never widened).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from tlsmgm_cli.core.errors import TlsmgmError, UsageError

PUBLIC_MODE = 0o644
SECRET_MODE = 0o600


def atomic_write(path: str | os.PathLike[str], data: bytes, *, mode: int = PUBLIC_MODE,
                 force: bool = False, make_dirs: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically with permission bits ``mode``.

    Only a regular file is ever replaced: a device, FIFO, socket or directory at ``path``
    (``-o /dev/null`` as root would otherwise replace the system's device node) is refused;
    a symbolic link to a regular file has that file replaced and stays a link. Without
    ``make_dirs`` the directory must exist. Raises ``UsageError`` when ``path`` exists
    and ``force`` is false or is not a regular file, ``TlsmgmError`` when the directory
    cannot be written. Returns the path written.
    """
    target = Path(path)
    if not force and (target.exists() or target.is_symlink()):
        raise UsageError(f"{target} already exists (use --force to overwrite it)")
    target = _regular_target(target)
    directory = target.parent
    try:
        if make_dirs:
            directory.mkdir(parents=True, exist_ok=True)
        elif not directory.is_dir():
            raise UsageError(f"cannot write {path}: {directory} is not an existing directory")
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as err:
        raise TlsmgmError(f"cannot write into {directory}: {err.strerror or err}") from err
    try:
        write_synced(fd, data, mode)
        os.replace(tmp_name, target)
    except OSError as err:
        _unlink_quietly(tmp_name)
        raise TlsmgmError(f"cannot write {target}: {err.strerror or err}") from err
    except BaseException:
        _unlink_quietly(tmp_name)
        raise
    fsync_dir(directory)
    return target


def _regular_target(target: Path) -> Path:
    """The file to replace for ``target``: itself, or the regular file a link points to;
    UsageError for anything else that exists there."""
    import stat

    try:
        info = target.lstat()
    except (FileNotFoundError, NotADirectoryError):
        return target  # nothing there yet (a missing or blocked directory is reported when written)
    except OSError as err:
        raise UsageError(f"cannot write {target}: {err.strerror or err}") from None
    if stat.S_ISREG(info.st_mode):
        return target
    if stat.S_ISLNK(info.st_mode):
        try:
            real = target.resolve(strict=True)
        except (OSError, RuntimeError):
            raise UsageError(f"cannot write {target}: it is a symbolic link to nothing usable "
                             "(dangling or a loop); refused") from None
        info = real.stat()
        if stat.S_ISREG(info.st_mode):
            return real
    from tlsmgm_cli.core.util.safeio import file_kind

    kind = file_kind(info.st_mode)
    raise UsageError(f"cannot write {target}: it is {kind}, not a regular file; refused (only regular "
                     "files are replaced; leave out -o to write to standard output)")


def _unlink_quietly(name: str) -> None:
    try:
        os.unlink(name)
    except OSError:
        pass


def write_synced(fd: int, data: bytes, mode: int) -> None:
    """Write ``data`` to the open file ``fd`` (closed after), set its permission bits to
    ``mode`` and flush it to the disk."""
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fchmod(fh.fileno(), mode)
        os.fsync(fh.fileno())


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    """Flush a directory's entries to the disk (quietly nothing where that is refused)."""
    try:
        dfd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:  # some file systems refuse fsync on directories
        pass
    finally:
        os.close(dfd)
