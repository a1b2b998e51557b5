"""Extensions: ingest each archived response, keep the crawl's row, show progress."""

from __future__ import annotations

import sqlite3
import sys
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from twisted.internet.defer import Deferred
from twisted.internet.task import LoopingCall

from archive import __version__
from archive.ingest import RecordReaders, store_capture
from archive.layouts import AUTO
from archive.learn import learn_host
from archive.lock import hold
from archive.recover import recover
from archive.store import Store
from crawler.frontier import Frontier
from crawler.settings import archive_paths
from crawler.signals import response_archived


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# WARC folders this process has recovered (see ArchiveIngest.spider_opened).
_recovered: set[Path] = set()
# The crawls of one process share their worker processes: workers count → [pool, users].
_pools: dict[int, list] = {}


def _shared_readers(workers: int) -> RecordReaders:
    if workers not in _pools:
        _pools[workers] = [RecordReaders(workers), 0]
    _pools[workers][1] += 1
    return _pools[workers][0]


def _release_readers(workers: int) -> None:
    pool = _pools[workers]
    pool[1] -= 1
    if pool[1] == 0:
        pool[0].close()
        del _pools[workers]


class ArchiveIngest:
    """Feeds every response, once it is in WARC, through ``archive.ingest``.

    The record is read back from its WARC file rather than taken from memory, so the
    crawl stores exactly what a rebuild from the same files would. Reading and
    extraction run in STEPPE_INGEST_WORKERS processes, off the crawl's own thread;
    their results are stored here, a batch per transaction.
    """

    def __init__(self, crawler, warc_dir: Path, db_path: Path, workers: int, batch_interval: float = 0.1):
        self.crawler = crawler
        self.warc_dir = warc_dir
        self.db_path = db_path
        self.workers = workers
        self.batch_interval = batch_interval
        self.store: Store | None = None
        self.readers: RecordReaders | None = None
        self.pending = 0
        self.ready: deque[tuple[Future, str]] = deque()  # appended to by worker threads
        self.drained: Deferred | None = None
        self.database_error: str | None = None
        self.task = LoopingCall(self.store_ready)
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.engine_started, signal=signals.engine_started)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(self.response_archived, signal=response_archived)

    @classmethod
    def from_crawler(cls, crawler):
        # One crawl per data directory: a second one stops here, before it opens any file.
        # The workers of a distributed crawl share theirs (crawler.worker holds it shared).
        if not crawler.settings.getbool("STEPPE_SHARED_DATA_DIR"):
            hold(crawler.settings["STEPPE_DATA_DIR"])
        warc_dir, db_path = archive_paths(crawler.settings)
        ingest = cls(crawler, warc_dir, db_path, crawler.settings.getint("STEPPE_INGEST_WORKERS"))
        if crawler.settings.getbool("STEPPE_SHARED_DATA_DIR"):
            _recovered.add(warc_dir)  # other workers' .open files are being written: the worker recovers the dead ones'
        return ingest

    def spider_opened(self, spider):
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self.store = Store(self.db_path)
        # Once per process, before its first crawl starts: the crawls of a run with many
        # sources are not interrupted crawls of each other.
        recovery = None if self.warc_dir in _recovered else recover(self.warc_dir, self.store, spider.profile.layout)
        _recovered.add(self.warc_dir)
        if recovery:
            spider.logger.warning(
                "recovered from an interrupted crawl: %d WARC file(s) closed, %d record(s) ingested, runs %s",
                len(recovery.files_closed), recovery.records_ingested, ", ".join(recovery.crawls_interrupted) or "-")
        self._learn_layout(spider)
        self.store.start_crawl(
            spider.crawl_id, started=_now(), start_url=spider.profile.section_url, site=spider.profile.host,
            source=spider.profile.name,
            steppe_version=__version__, user_agent=self.crawler.settings.get("USER_AGENT"),
        )
        self.readers = _shared_readers(self.workers)
        self.task.start(self.batch_interval, now=False)

    def _learn_layout(self, spider) -> None:
        """A host with no platform layout is read with one learned from its archived
        pages, once there are enough. Here, before WarcCaptureMiddleware.spider_opened
        (extensions connect their signals before the downloader's middlewares exist):
        the crawl's warcinfo records the layout its pages are read with."""
        if spider.profile.layout.name != AUTO.name:
            return
        layout = learn_host(self.store.db, self.warc_dir, urlsplit(spider.profile.section_url).netloc)
        if layout is not None:
            spider.profile = replace(spider.profile, layout=layout)
            spider.logger.info("pages of %s read with the layout learned from its archived pages (title %s,"
                               " text %s)", spider.profile.host, layout.title, layout.body)

    async def engine_started(self):
        # Stopped while it opened, which stops no engine (not running yet): it stops now,
        # so that its run is closed as interrupted (runner.StoppableProcess).
        if not self.crawler.crawling:
            await self.crawler.engine.stop_async()

    def response_archived(self, request, response, location, warc_dir, original=None):
        self.pending += 1
        future = self.readers.submit(warc_dir, location, self.crawler.spider.profile.layout, original)
        url = response.url  # not the response: a backlog of futures must not hold page bodies
        future.add_done_callback(lambda done: self.ready.append((done, url)))

    def store_ready(self):
        """Store what the workers have read so far, in one transaction."""
        batch = [self.ready.popleft() for _ in range(len(self.ready))]
        if batch:
            try:
                with self.store.transaction():
                    for future, url in batch:
                        self._store_one(future, url)
            except sqlite3.OperationalError as exc:  # the database itself: a full disk, a lost file
                self._database_failed(exc)
            self.pending -= len(batch)
        if self.drained is not None and self.pending == 0:
            self.drained, drained = None, self.drained
            drained.callback(None)

    def _store_one(self, future: Future, url: str) -> None:
        stats, logger = self.crawler.stats, self.crawler.spider.logger
        try:
            response, reading = future.result()
            result = store_capture(self.store, response, reading)
        except sqlite3.OperationalError:
            raise
        except Exception as exc:
            # The record is safe in its WARC file; a rebuild will read it again.
            stats.inc_value("steppe/ingest_errors")
            logger.error("%s: archived, but could not be read into the database: %r", url, exc)
            return
        stats.inc_value(f"steppe/captures/{result.kind}")
        if result.article_new:  # for the progress line; the crawl's counts come from the store at the end
            stats.inc_value("steppe/articles_new")
        for problem in result.problems:
            logger.warning("%s: %s", url, problem)

    def _database_failed(self, exc: Exception) -> None:
        """Stop the crawl, once: what it fetches now would reach the WARC files only.
        Its run stays ``running``, so that the next crawl's recovery ingests them."""
        if self.database_error is None:
            self.database_error = f"{self.db_path} could not be written ({exc})"
            self.crawler.spider.failures.append((str(self.db_path), f"not written ({exc}); crawl stopped"))
            self.crawler.spider.logger.error("%s: crawl stopped; the WARC files hold every record fetched, and the"
                                             " next crawl adds them to the database", self.database_error)
            deferred_from_coro(self.crawler.engine.close_spider_async(reason="database_error"))

    async def spider_closed(self, spider, reason):
        """Wait for the records still being read, then close the crawl's row."""
        self.drained = Deferred()
        drained = self.drained
        self.store_ready()
        await maybe_deferred_to_future(drained)
        self._finish(spider, reason)

    def _finish(self, spider, reason):
        if self.task.running:
            self.task.stop()
        # Taken last in spider_opened: a crawl whose opening failed before has no share
        # of the pool, and must not give back a share of its siblings'.
        if self.readers is not None:
            _release_readers(self.workers)
            self.readers = None
        stats = self.crawler.stats
        if self.database_error:
            status = "failed"
        elif reason in ("finished", "closespider_pagecount"):  # --max-pages bounds a run on purpose
            # A crawl that never read its start page did not crawl anything.
            status = "finished" if stats.get_value("steppe/listing_pages") else "failed"
        elif reason == "shutdown":
            status = "interrupted"
        else:
            status = "failed"
        stats.set_value("steppe/status", status)
        try:
            self._close_run(spider, status)
        except sqlite3.OperationalError as exc:
            self._database_failed(exc)  # the run stays ``running``: the next crawl recovers it
            stats.set_value("steppe/status", "failed")
        finally:
            self.store.close()

    def _close_run(self, spider, status: str) -> None:
        stats = self.crawler.stats
        # Every record of the run is in the database now: what it owed and fetched is paid.
        Frontier(self.store, spider.profile.section_url, spider.crawl_id).drop_archived()
        counts = self.store.crawl_counts(spider.crawl_id)
        for name, value in counts.items():  # the summary reports what the archive says
            stats.set_value(f"steppe/{name}", value)
        self.store.finish_crawl(
            spider.crawl_id, finished=_now(), status=status,
            requests=stats.get_value("downloader/request_count", 0),
            pages=stats.get_value("steppe/archived", 0),
            **counts,
            errors=stats.get_value("steppe/errors", 0) + stats.get_value("steppe/ingest_errors", 0),
        )


class ProgressReport:
    """A progress line on stderr every STEPPE_PROGRESS_INTERVAL seconds (0: off)."""

    def __init__(self, crawler, interval: float, label: str | None = None):
        self.crawler = crawler
        self.interval = interval
        self.label = label  # the source's name, when a run crawls several
        self.started = time.monotonic()
        self.task: LoopingCall | None = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler, crawler.settings.getfloat("STEPPE_PROGRESS_INTERVAL"),
                   crawler.settings.get("STEPPE_PROGRESS_LABEL"))

    def spider_opened(self, spider):
        self.started = time.monotonic()
        if self.interval > 0:
            self.task = LoopingCall(self.report)
            self.task.start(self.interval, now=False)

    def spider_closed(self, spider, reason):
        if self.task and self.task.running:
            self.task.stop()
            if sys.stderr.isatty() and not self.label:
                sys.stderr.write("\n")

    def report(self):
        stats = self.crawler.stats
        pages = stats.get_value("steppe/archived", 0)
        elapsed = time.monotonic() - self.started
        line = (f"{pages} pages, {stats.get_value('steppe/articles_new', 0)} new articles, "
                f"{stats.get_value('steppe/errors', 0)} errors, {elapsed:.0f}s ({pages / max(elapsed, 1e-9):.1f} pages/s)")
        if self.label:  # several crawls report: a line each, not one overwritten
            sys.stderr.write(f"{self.label}: {line}\n")
        elif sys.stderr.isatty():
            sys.stderr.write("\r\x1b[K" + line)
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()
