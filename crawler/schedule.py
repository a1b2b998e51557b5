"""Crawls on a schedule, in the foreground: ``steppe schedule --every 6h``.

Each run is a separate ``steppe crawl`` process (Twisted's reactor runs once per
process, and a run that crashes must not take the schedule down with it). The
time of the next run is kept in DATA_DIR/schedule.json for ``steppe status``.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cronsim import CronSim, CronSimError

log = logging.getLogger("steppe.schedule")
STATE_FILE = "schedule.json"
_EVERY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_every(text: str, zero: bool = False) -> timedelta:
    """``90s``, ``30m``, ``6h``, ``1d`` (and ``0`` where ``zero`` is allowed) → a timedelta."""
    if zero and text.strip() in ("0", "0s", "0m", "0h", "0d"):
        return timedelta(0)
    match = _EVERY.match(text)
    if not match or float(match[1]) <= 0:
        raise ValueError(f"{text!r} is not an interval like 90s, 30m, 6h or 1d")
    return timedelta(**{_UNITS[match[2]]: float(match[1])})


def format_interval(interval: timedelta) -> str:
    seconds = interval.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size:.0f}{unit}"
    return f"{seconds:g}s"


@dataclass(frozen=True)
class Schedule:
    every: timedelta | None = None
    cron: str | None = None
    jitter: timedelta = timedelta(0)  # each run starts up to this much later, at random

    def __post_init__(self):
        if (self.every is None) == (self.cron is None):
            raise ValueError("give either an interval or a cron expression")
        if self.cron is not None:
            try:
                CronSim(self.cron, datetime.now())
            except CronSimError as exc:
                raise ValueError(f"{self.cron!r} is not a cron expression: {exc}") from None

    def next_after(self, moment: datetime) -> datetime:
        """The next start after ``moment`` (UTC), jitter included."""
        if self.cron is not None:
            local = moment.astimezone().replace(tzinfo=None)  # cron reads the local clock
            start = next(CronSim(self.cron, local)).astimezone(timezone.utc)
        else:
            start = moment + self.every
        return start + self.jitter * random.random()

    def describe(self) -> str:
        return f"cron {self.cron!r}" if self.cron else f"every {format_interval(self.every)}"


def write_state(data_dir: Path, schedule: Schedule, next_run: datetime, last: dict | None) -> None:
    state = {"schedule": schedule.describe(), "next_run": next_run.isoformat(timespec="seconds"), "last_run": last,
             "pid": os.getpid()}
    path = Path(data_dir) / STATE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(state, indent=2))
    temporary.replace(path)


def read_state(data_dir: Path) -> dict | None:
    """The running schedule's state; None when no ``steppe schedule`` runs any more."""
    try:
        state = json.loads((Path(data_dir) / STATE_FILE).read_text())
        os.kill(state["pid"], 0)  # still there?
    except (FileNotFoundError, ValueError, KeyError, ProcessLookupError):
        return None
    except PermissionError:  # alive, run by another user
        pass
    return state


def run_forever(schedule: Schedule, crawl_args: list[str], data_dir: Path, max_runs: int | None = None) -> None:
    """Run ``steppe crawl crawl_args`` now and then on the schedule, until stopped."""
    runs = 0
    while max_runs is None or runs < max_runs:
        started = datetime.now(timezone.utc)
        log.info("run %d starting", runs + 1)
        result = subprocess.run([sys.executable, "-m", "crawler.cli", "crawl", *crawl_args])
        runs += 1
        outcome = {0: "finished", 3: "skipped: another crawl holds the data directory"}.get(
            result.returncode, f"failed (exit status {result.returncode})")
        log.info("run %d %s after %.0fs", runs, outcome, (datetime.now(timezone.utc) - started).total_seconds())
        if max_runs is not None and runs >= max_runs:
            break
        # From the start of the run just made: runs keep to the schedule however long they take.
        next_run = max(schedule.next_after(started), datetime.now(timezone.utc))
        write_state(data_dir, schedule, next_run,
                    {"started": started.isoformat(timespec="seconds"), "outcome": outcome})
        log.info("next run at %s", next_run.astimezone().isoformat(timespec="seconds"))
        time.sleep(max(0.0, (next_run - datetime.now(timezone.utc)).total_seconds()))
