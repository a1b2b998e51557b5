"""One writer per data directory: an advisory lock that dies with its process.

``flock`` is released by the kernel when the holder exits, however it exits
(kill -9 included), so a stale lock never needs cleaning up: the next run simply
gets it. The holder's pid is written in the file for the message a second run prints.
A process that exits normally (Ctrl-C included) removes the lock file, and the data
directory too when it made it and left it empty: nothing a user did not ask for stays.
"""

from __future__ import annotations

import atexit
import errno
import fcntl
import os
from pathlib import Path

LOCK_NAME = "steppe.lock"


class ArchiveLocked(RuntimeError):
    """Another process is writing to this data directory."""


class ArchiveNotWritable(RuntimeError):
    """The data directory cannot be written to (read-only file system, permissions)."""


class _Lock:
    def __init__(self, path: Path, fd: int, made_directory: bool):
        self.path, self.fd, self.made_directory = path, fd, made_directory


_held: dict[Path, _Lock] = {}  # this process's locks: a crawl started by the CLI re-enters


def hold(data_dir: str | os.PathLike) -> Path:
    """Take the data directory's lock for the rest of this process's life.

    Raises ``ArchiveLocked`` while another process holds it, ``ArchiveNotWritable``
    when the directory cannot be made or written to.
    """
    data_dir = Path(data_dir).resolve()
    path = data_dir / LOCK_NAME
    if path in _held:
        return path
    made_directory = not data_dir.exists()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = _locked(data_dir, path, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    except OSError as exc:
        if exc.errno not in (errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.ENOTDIR, errno.EEXIST):
            raise
        raise ArchiveNotWritable(f"cannot write to {data_dir} ({exc.strerror})") from None
    _held[path] = _Lock(path, fd, made_directory)
    return path


def share(data_dir: str | os.PathLike) -> None:
    """Take the data directory's lock shared, for the rest of this process's life: the
    workers of a distributed crawl write into one data directory together, while a
    single-process crawl (which takes it alone, see ``hold``) must wait for all of them,
    and they for it. Raises ``ArchiveLocked`` while a single-process crawl holds it."""
    data_dir = Path(data_dir).resolve()
    path = data_dir / LOCK_NAME
    data_dir.mkdir(parents=True, exist_ok=True)
    _shared.append(_locked(data_dir, path, fcntl.LOCK_SH))  # kept open: the lock lasts as long as the process


_shared: list[int] = []


def _locked(data_dir: Path, path: Path, mode: int) -> int:
    """The lock file, open and locked in ``mode`` (LOCK_EX or LOCK_SH), or ArchiveLocked."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise ArchiveLocked(f"{data_dir} is in use by another steppe process (pid {holder})") from None
        # The holder we waited on may have removed the file as it let go: our lock on
        # the old file would then guard nothing. Lock the file that is there.
        if _same_file(fd, path):
            return fd
        os.close(fd)


def _same_file(fd: int, path: Path) -> bool:
    try:
        here = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (here.st_dev, here.st_ino) == (held.st_dev, held.st_ino)


def is_held(data_dir: str | os.PathLike) -> bool:
    """Whether some process holds the data directory's lock; writes nothing."""
    path = Path(data_dir).resolve() / LOCK_NAME
    if path in _held:
        return True
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False  # no lock file: nobody holds it
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def release(data_dir: str | os.PathLike) -> None:
    lock = _held.pop(Path(data_dir).resolve() / LOCK_NAME, None)
    if lock is None:
        return
    # Removed while still held: a process that opened the file meanwhile finds it
    # gone once it gets the lock, and starts again on a new file (see ``hold``).
    lock.path.unlink(missing_ok=True)
    os.close(lock.fd)
    if lock.made_directory:
        try:
            lock.path.parent.rmdir()  # only when empty: whatever was archived stays
        except OSError:
            pass


@atexit.register
def _release_all() -> None:
    for path in list(_held):
        release(path.parent)
