"""Whether an archive database can be trusted: readable, whole, and not behind its WARC files.

The WARC files are the archive and the database is derived from them, so every
answer here ends in the same remedy: ``steppe rebuild`` makes the database again, or
completes it. Nothing here writes: the database is opened read-only.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from .store import SCHEMA, Store
from .warc import read_warcinfo

SQLITE_SIDE_FILES = ("-wal", "-shm")


@dataclass(frozen=True)
class DatabaseProblem:
    what: str  # completes "DB_PATH …", e.g. "is missing"
    unreadable: bool = False  # SQLite cannot read it: set it aside before building anew


def database_problem(db_path: str | os.PathLike) -> DatabaseProblem | None:
    """What is wrong with the database file; None when it reads whole."""
    db_path = Path(db_path)
    if not db_path.is_file():
        return DatabaseProblem("is missing")
    try:
        store = Store(db_path, read_only=True)
        try:
            tables = {name for (name,) in store.db.execute("select name from sqlite_master where type = 'table'")}
            # quick_check reads every page: damage where no query of ours looks shows too.
            verdict = store.db.execute("pragma quick_check(1)").fetchone()[0]
        finally:
            store.close()
    except sqlite3.DatabaseError as exc:
        return DatabaseProblem(f"is damaged ({exc})", unreadable=True)
    if verdict != "ok":
        return DatabaseProblem(f"is damaged ({verdict})", unreadable=True)
    # Some tables missing is an older schema, which the next writer migrates; none
    # at all is no archive.
    if not tables & set(SCHEMA):
        return DatabaseProblem("holds no archive (empty, or cut short)")
    return None


def set_aside(db_path: str | os.PathLike) -> Path:
    """Move a damaged database (and SQLite's files beside it) out of the way; return
    its new name. Never deleted: it may hold something worth a look."""
    db_path = Path(db_path)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    aside = db_path.with_name(f"{db_path.name}.damaged-{stamp}")
    os.replace(db_path, aside)
    for suffix in SQLITE_SIDE_FILES:  # a stale WAL would be replayed into the new database
        side = db_path.with_name(db_path.name + suffix)
        if side.exists():
            os.replace(side, aside.with_name(aside.name + suffix))
    return aside


@dataclass(frozen=True)
class Lag:
    """Closed WARC files holding response records the database lacks."""

    files: list[Path]
    crawls: set[str]  # the crawl ids those files carry ("" for a file that names none)

    def __bool__(self) -> bool:
        return bool(self.files)


def records_missing(warc_dir: str | os.PathLike, store: Store) -> Lag:
    """The closed WARC files whose last response records never reached the database:
    a file copied in from elsewhere, or a database restored from an older backup.

    The database knows where each file's last ingested record ends; only what lies
    after it is read, so a database in step costs one query and no reading.
    """
    ingested_to = dict(store.db.execute(
        "select warc_filename, max(warc_offset + warc_length) from captures group by warc_filename"))
    files, crawls = [], set()
    for path in sorted(Path(warc_dir).glob("*.warc.gz")) + sorted(Path(warc_dir).glob("*.warc")):
        start = ingested_to.get(path.name) or 0
        if start < path.stat().st_size and _has_response_from(path, start):
            files.append(path)
            crawls.add(read_warcinfo(str(path)).get("crawl-id", ""))
    return Lag(files, crawls)


def _has_response_from(path: Path, offset: int) -> bool:
    with open(path, "rb") as stream:
        stream.seek(offset)
        try:
            return any(record.rec_type in ("response", "revisit") for record in ArchiveIterator(stream))
        except Exception:  # garbage or a torn tail: nothing there a rebuild could add
            return False
