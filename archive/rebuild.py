"""The database from WARC files alone: ``steppe rebuild PATH... --db OUT.db``.

Every response record goes through the same ingest path as in a live crawl
(``read_record`` in worker processes, ``store_capture`` here), so a rebuild of a
crawl's files gives the crawl's database. Revisit records come in a second pass,
once every record they may refer to is in. Files are read as streams and at most a
few records per worker are in flight: memory stays flat however many records.
A bad record or file is reported with its file and offset and skipped.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from .ingest import RecordReaders, store_capture
from .layouts import PageLayout
from .problems import ProblemKind
from .store import Store
from .warc import OPEN_SUFFIX, RecordLocation, gzip_member_is_whole

WARC_SUFFIXES = (".warc", ".warc.gz", ".warc.open", ".warc.gz.open")
_CHUNK = 1 << 16
COMMIT_EVERY = 500  # captures per transaction: commits cost more than rows


@dataclass(frozen=True)
class BadInput:
    path: str
    offset: int
    problem: str

    def __str__(self) -> str:
        return f"{self.path} at offset {self.offset}: {self.problem}"


@dataclass
class RebuildReport:
    files: int = 0
    records: int = 0      # response and revisit records read
    ingested: int = 0     # new captures
    bad: list[BadInput] = field(default_factory=list)
    notes: list[BadInput] = field(default_factory=list)
    crawls: set[str] = field(default_factory=set)


def warc_files(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """WARC files named, or found in the folders named (a leftover ``.open`` included)."""
    found = []
    for path in map(Path, paths):
        if path.is_dir():
            found += [p for p in path.rglob("*") if p.is_file() and p.name.endswith(WARC_SUFFIXES)]
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    return sorted(set(found))


@dataclass(frozen=True)
class _Record:
    path: Path
    location: RecordLocation
    record_id: str
    revisit: bool
    refers_to: str | None
    target_uri: str | None
    digest: str | None


def scan(path: Path, bad: list[BadInput], progress: Callable[[int], None]) -> Iterator[_Record]:
    """The response and revisit records of a file that are whole and whose digests
    hold, in file order."""
    filename = path.name.removesuffix(OPEN_SUFFIX)
    done, last = 0, None  # a record is handed on once the next one shows it was whole
    tail = None  # (offset, length) of the file's last record so far, of any type
    unreadable = False
    with open(path, "rb") as stream:
        records = ArchiveIterator(stream, check_digests=True)
        try:
            for record in records:
                kind, headers = record.rec_type, record.rec_headers
                while record.raw_stream.read(_CHUNK):  # to the end: that checks the digests
                    pass
                records.read_to_end(record)
                offset, length = records.get_record_offset(), records.get_record_length()
                progress(offset + length - done)
                done, tail = offset + length, (offset, length)
                if last is not None:
                    yield last
                    last = None
                if kind not in ("response", "revisit"):
                    continue
                if record.digest_checker.passed is False:
                    bad.append(BadInput(str(path), offset, "; ".join(record.digest_checker.problems)))
                    continue
                last = _Record(path, RecordLocation(filename, offset, length), headers.get_header("WARC-Record-ID"),
                               kind == "revisit", headers.get_header("WARC-Refers-To"),
                               headers.get_header("WARC-Refers-To-Target-URI") or headers.get_header("WARC-Target-URI"),
                               headers.get_header("WARC-Payload-Digest"))
        except Exception as exc:  # warcio fails on garbage in many ways (ArchiveLoadFailed, AttributeError…)
            bad.append(BadInput(str(path), done, f"unreadable from here on, rest of file skipped ({exc!r})"))
            unreadable = True
        # Only the last record can be torn: a response (then not ingested) or any other
        # (a request, a metadata record), which says the file was cut all the same;
        # warcio passes over a tail too short to show a record header without a word.
        stream.seek(done)
        left_over = not unreadable and stream.read(_CHUNK).strip()
        if tail is not None and not gzip_member_is_whole(stream, *tail):
            bad.append(BadInput(str(path), tail[0], "truncated record (the file ends inside it)"))
        else:
            if left_over:
                bad.append(BadInput(str(path), done, "truncated record (the file ends inside it)"))
            if last is not None:
                yield last
    progress(path.stat().st_size - done)


class Rebuild:
    """One rebuild into ``store``; ``run`` it over files in any order, as often as wished."""

    def __init__(self, store: Store, layout: PageLayout, jobs: int = os.cpu_count() or 1,
                 progress: Callable[[int], None] = lambda n: None):
        self.store, self.layout, self.progress = store, layout, progress
        self.readers = RecordReaders(jobs)
        self.in_flight = max(4, 4 * jobs)  # enough to keep every worker busy, no more
        self.report = RebuildReport()
        self.directories: dict[str, Path] = {}  # filename → folder, to find referred records

    def run(self, paths: Iterable[str | os.PathLike]) -> RebuildReport:
        files = warc_files(paths)
        self.report.files = len(files)
        for path in files:
            self.directories[path.name.removesuffix(OPEN_SUFFIX)] = path.parent
        try:
            with self.store.bulk_load():
                # Responses first: a revisit needs the record it refers to stored before it.
                self._ingest(record for path in files for record in scan(path, self.report.bad, self.progress)
                             if not record.revisit)
                self._ingest(record for path in files for record in scan(path, [], lambda n: None)
                             if record.revisit)
        finally:
            self.readers.close()
        for crawl_id in sorted(self.report.crawls):
            self.store.finish_crawl(crawl_id, **self.store.crawl_counts(crawl_id))
        return self.report

    def _ingest(self, records: Iterator[_Record]) -> None:
        pending: deque = deque()
        with self.store.transaction():
            for record in records:
                self.report.records += 1
                if self.store.has_capture(record.record_id):
                    continue
                original = self._original(record) if record.revisit else None
                future = self.readers.submit(record.path.parent, record.location, self.layout,
                                             original[1] if original else None,
                                             original_dir=original[0] if original else None)
                pending.append((record, future))
                while len(pending) >= self.in_flight or (pending and pending[0][1].done()):
                    self._store(*pending.popleft())
            while pending:
                self._store(*pending.popleft())

    def _store(self, record: _Record, future) -> None:
        try:
            response, reading = future.result()
        except Exception as exc:
            self.report.bad.append(BadInput(str(record.path), record.location.offset, f"unreadable: {exc!r}"))
            return
        result = store_capture(self.store, response, reading)
        if result.capture_id is not None:
            self.report.ingested += 1
            if self.report.ingested % COMMIT_EVERY == 0:
                self.store.commit_and_go_on()
        if crawl_id := response.warcinfo.get("crawl-id"):
            self.report.crawls.add(crawl_id)
        for problem in reading.problems:
            entry = BadInput(str(record.path), record.location.offset, problem)
            (self.report.bad if problem.kind is ProblemKind.DAMAGE else self.report.notes).append(entry)

    def _original(self, record: _Record) -> tuple[Path, RecordLocation] | None:
        """The response a revisit stands for, and the folder of its file."""
        location = self.store.revisited_location(record.refers_to, record.target_uri, record.digest)
        if location is None or location.filename not in self.directories:
            return None
        return self.directories[location.filename], location

