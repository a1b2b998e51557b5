"""After a crash: close what a killed crawl left open, so the archive agrees with itself.

A crawl killed with SIGKILL leaves its last WARC file with the ``.open`` suffix,
possibly ending in a torn record (the WARC writer flushes after each whole
exchange, so at most the record being written is torn), and a database that may be
behind the WARC files (records written but not yet ingested) and a ``crawls`` row
still ``running``. ``recover`` cuts the torn tail, renames the file, ingests the
records the database lacks through the one ingest path, and marks the run
interrupted.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from .ingest import ingest_response
from .layouts import PageLayout
from .store import Store
from .warc import OPEN_SUFFIX, gzip_member_is_whole, iter_responses

log = logging.getLogger(__name__)


@dataclass
class Recovery:
    files_closed: list[str] = field(default_factory=list)
    bytes_cut: int = 0
    records_ingested: int = 0
    crawls_interrupted: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.files_closed or self.records_ingested or self.crawls_interrupted)


def whole_records_end(path: Path) -> int:
    """Offset just past the last record that is whole."""
    spans = []
    with open(path, "rb") as fh:
        records = ArchiveIterator(fh)
        try:
            for record in records:
                records.read_to_end(record)
                spans.append((records.get_record_offset(), records.get_record_length()))
        except Exception:  # warcio raises several kinds on a torn gzip member or header
            pass
        # The writer flushes whole exchanges, so only the last record can be torn.
        while spans and not gzip_member_is_whole(fh, *spans[-1]):
            spans.pop()
    return sum(spans[-1]) if spans else 0


def close_open_file(path: Path) -> tuple[Path, int]:
    """Cut a torn last record off a ``.open`` file and give it its final name."""
    end = whole_records_end(path)
    size = path.stat().st_size
    if end < size:
        with open(path, "r+b") as fh:
            fh.truncate(end)
    final = path.with_name(path.name.removesuffix(OPEN_SUFFIX))
    os.replace(path, final)
    return final, size - end


def recover(warc_dir: Path, store: Store, layout: PageLayout, crawls: list[str] | None = None) -> Recovery:
    """Bring a data directory back to a consistent state. Call it holding the lock.

    ``crawls``: only these runs, where other runs still write to the same directory
    (the workers of a distributed crawl, see ``crawler.worker``)."""
    recovery = Recovery()
    patterns = [f"steppe-{crawl_id}-*{OPEN_SUFFIX}" for crawl_id in crawls] if crawls is not None else [f"*{OPEN_SUFFIX}"]
    for path in sorted(path for pattern in patterns for path in Path(warc_dir).glob(pattern)):
        final, cut = close_open_file(path)
        recovery.files_closed.append(final.name)
        recovery.bytes_cut += cut
        log.warning("closed %s left open by an interrupted crawl (%d bytes of a torn record cut)", final.name, cut)
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    running = [crawl_id for (crawl_id,) in store.db.execute("select id from crawls where status = 'running'")]
    for crawl_id in running if crawls is None else set(running) & set(crawls):
        # Its records may have reached the WARC files and not yet the database.
        for path in sorted(Path(warc_dir).glob(f"steppe-{crawl_id}-*.warc.gz")):
            for response in iter_responses(path):
                if ingest_response(store, response, layout, warc_dir).capture_id is not None:
                    recovery.records_ingested += 1
        store.finish_crawl(crawl_id, status="interrupted", finished=now)
        recovery.crawls_interrupted.append(crawl_id)
    return recovery
