"""Reading input files safely: regular files only, never more than a stated limit.

``/dev/zero``, ``/dev/urandom``, a FIFO or a socket given as a config, certificate or
key would hang tlsmgm or grow it without bound; such paths are refused with a one-line
error that says what the file is. A regular file larger than the limit is refused with
the limit named. Directories, missing files and symlink loops each get their own words.
"""

from __future__ import annotations

import errno
import os
import stat

from tlsmgm_cli.core.errors import TlsmgmError

MiB = 1024 * 1024


def _size_text(limit: int) -> str:
    if limit % MiB == 0:
        return f"{limit // MiB} MiB"
    if limit % 1024 == 0:
        return f"{limit // 1024} KiB"
    return f"{limit} bytes"


class UnsafeInput(TlsmgmError):
    """A file that is not a readable regular file within the limit (exit status PROBLEMS,
    as every ``TlsmgmError``). The message is ``WHAT 'PATH': REASON`` (or ``WHAT 'PATH' is
    ...``); ``reason`` holds the part after the path, for callers with their own wording."""

    def __init__(self, what: str, path: str, reason: str, *, sep: str = ": "):
        super().__init__(f"{what} '{path}'{sep}{reason}")
        self.reason = reason


def describe_os_error(err: OSError) -> str:
    """Why a path could not be opened, in plain words (symlink loop, missing, ...)."""
    if err.errno == errno.ELOOP:
        return "is a symbolic link loop"
    if err.errno == errno.ENOENT:
        return "not found"
    if err.errno == errno.EACCES:
        return "permission denied"
    if err.errno == errno.EISDIR:
        return "is a directory"
    if err.errno == errno.ENOTDIR:
        return "a path component is not a directory"
    return err.strerror or str(err)


def file_kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def check_regular(path: str | os.PathLike[str], *, what: str = "file") -> os.stat_result:
    """stat ``path`` (following links) and refuse anything but a regular file."""
    try:
        st = os.stat(path)
    except OSError as err:
        raise UnsafeInput(what, os.fspath(path), describe_os_error(err)) from None
    if not stat.S_ISREG(st.st_mode):
        raise UnsafeInput(what, os.fspath(path), f"is {file_kind(st.st_mode)}, not a regular file; "
                          "refused (tlsmgm reads only regular files)", sep=" ")
    return st


def read_bytes_limited(path: str | os.PathLike[str], *, limit: int, what: str = "file") -> bytes:
    """The content of the regular file ``path``, refused when over ``limit`` bytes.

    The file is opened with O_NONBLOCK so that a path swapped for a FIFO between the
    check and the open cannot block; the size is checked again while reading.
    """
    name = os.fspath(path)
    check_regular(path, what=what)
    try:
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        raise UnsafeInput(what, name, describe_os_error(err)) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafeInput(what, name, f"is {file_kind(st.st_mode)}, not a regular file; refused", sep=" ")
        if st.st_size > limit:
            raise UnsafeInput(what, name, f"is {st.st_size} bytes, over the {_size_text(limit)} "
                              "limit tlsmgm reads", sep=" ")
        chunks = []
        total = 0
        while True:
            chunk = os.read(fd, min(1 * MiB, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise UnsafeInput(what, name, f"is over the {_size_text(limit)} limit tlsmgm reads", sep=" ")
        return b"".join(chunks)
    except OSError as err:
        raise UnsafeInput(what, name, describe_os_error(err)) from None
    finally:
        os.close(fd)


def limit_text(limit: int) -> str:
    return _size_text(limit)
