"""One writer per data directory: an advisory lock that dies with its process.

``flock`` is released by the kernel when the holder exits, however it exits
(kill -9 included), so a stale lock never needs cleaning up: the next run simply
gets it. The holder's pid is written in the file for the message a second run prints.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_NAME = "steppe.lock"
_held: dict[Path, int] = {}  # this process's locks: a crawl started by the CLI re-enters


class ArchiveLocked(RuntimeError):
    """Another process is writing to this data directory."""


def hold(data_dir: str | os.PathLike) -> Path:
    """Take the data directory's lock for the rest of this process's life."""
    data_dir = Path(data_dir).resolve()
    path = data_dir / LOCK_NAME
    if path in _held:
        return path
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        raise ArchiveLocked(f"{data_dir} is in use by another steppe process (pid {holder})") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    _held[path] = fd
    return path


def release(data_dir: str | os.PathLike) -> None:
    fd = _held.pop(Path(data_dir).resolve() / LOCK_NAME, None)
    if fd is not None:
        os.close(fd)
