"""What Linux says of a running process in /proc/PID/stat, for the benchmarks."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class ProcessStat:
    parent: int
    cpu_seconds: float  # user + system, every thread
    rss_bytes: int


def process_stat(pid: int) -> ProcessStat | None:
    """The process's figures now; None once it is gone (or never was)."""
    try:
        # After the last ")": the command name may hold spaces and parentheses.
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return ProcessStat(int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK, int(fields[21]) * _PAGE)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process."""
    return process_stat(pid).cpu_seconds
