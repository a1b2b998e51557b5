"""Extensions: ingest each archived response, keep the crawl's row, show progress."""

from __future__ import annotations

import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from scrapy import signals
from twisted.internet.task import LoopingCall

from archive import __version__
from archive.ingest import ingest_response
from archive.store import Store
from archive.warc import read_response
from crawler.signals import response_archived


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class ArchiveIngest:
    """Feeds every response, once it is in WARC, through ``archive.ingest``.

    The record is read back from its WARC file rather than taken from memory, so the
    crawl stores exactly what a rebuild from the same files would.
    """

    def __init__(self, crawler, db_path: Path):
        self.crawler = crawler
        self.db_path = db_path
        self.store: Store | None = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(self.response_archived, signal=response_archived)

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        return cls(crawler, Path(settings.get("STEPPE_DB_PATH") or Path(settings["STEPPE_DATA_DIR"]) / "archive.db"))

    def spider_opened(self, spider):
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self.store = Store(self.db_path)
        self.store.start_crawl(
            spider.crawl_id, started=_now(), start_url=spider.profile.section_url, site=spider.profile.name,
            steppe_version=__version__, user_agent=self.crawler.settings.get("USER_AGENT"),
        )

    def response_archived(self, request, response, location, warc_dir):
        stats = self.crawler.stats
        record = read_response(warc_dir, location)
        result = ingest_response(self.store, record, self.crawler.spider.profile.layout)
        stats.inc_value(f"steppe/captures/{result.kind}")
        if result.article_new:
            stats.inc_value("steppe/articles_new")
        if result.text_changed:
            stats.inc_value("steppe/articles_changed")
        for problem in result.problems:
            self.crawler.spider.logger.warning("%s: %s", response.url, problem)

    def spider_closed(self, spider, reason):
        stats = self.crawler.stats
        if reason == "finished":
            # A crawl that never read its start page did not crawl anything.
            status = "finished" if stats.get_value("steppe/listing_pages") else "failed"
        elif reason == "shutdown":
            status = "interrupted"
        else:
            status = "failed"
        stats.set_value("steppe/status", status)
        self.store.finish_crawl(
            spider.crawl_id, finished=_now(), status=status,
            requests=stats.get_value("downloader/request_count", 0),
            pages=stats.get_value("steppe/archived", 0),
            articles_new=stats.get_value("steppe/articles_new", 0),
            articles_changed=stats.get_value("steppe/articles_changed", 0),
            errors=stats.get_value("steppe/errors", 0),
        )
        self.store.close()


class ProgressReport:
    """A progress line on stderr every STEPPE_PROGRESS_INTERVAL seconds (0: off)."""

    def __init__(self, crawler, interval: float):
        self.crawler = crawler
        self.interval = interval
        self.started = time.monotonic()
        self.task: LoopingCall | None = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler, crawler.settings.getfloat("STEPPE_PROGRESS_INTERVAL"))

    def spider_opened(self, spider):
        self.started = time.monotonic()
        if self.interval > 0:
            self.task = LoopingCall(self.report)
            self.task.start(self.interval, now=False)

    def spider_closed(self, spider, reason):
        if self.task and self.task.running:
            self.task.stop()
            if sys.stderr.isatty():
                sys.stderr.write("\n")

    def report(self):
        stats = self.crawler.stats
        pages = stats.get_value("steppe/archived", 0)
        elapsed = time.monotonic() - self.started
        line = (f"{pages} pages, {stats.get_value('steppe/articles_new', 0)} new articles, "
                f"{stats.get_value('steppe/errors', 0)} errors, {elapsed:.0f}s ({pages / max(elapsed, 1e-9):.1f} pages/s)")
        if sys.stderr.isatty():
            sys.stderr.write("\r\x1b[K" + line)
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()
