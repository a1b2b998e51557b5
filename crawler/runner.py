"""Run a crawl from Python: what ``steppe crawl`` and ``steppe demo`` call."""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from archive.lock import hold
from archive.store import Store
from crawler.settings import archive_paths
from crawler.site import MODERN_DIPLOMACY, SiteProfile
from crawler.spiders.section import SectionSpider, new_crawl_id


@dataclass
class CrawlSummary:
    crawl_id: str
    status: str  # finished, failed or interrupted
    pages: int
    articles_new: int
    articles_changed: int
    seconds: float
    data_dir: Path
    failures: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "finished"

    def lines(self) -> list[str]:
        head = (f"crawl {self.crawl_id} {self.status}: {self.pages} pages archived, "
                f"{self.articles_new} new articles, {self.articles_changed} changed, "
                f"{len(self.failures)} errors, {self.seconds:.1f}s")
        lines = [head] + [f"  error: {url}: {reason}" for url, reason in self.failures]
        lines.append(f"  archive: {self.data_dir / 'warcs'}  database: {self.data_dir / 'archive.db'}")
        return lines


def resolve_profile(start_url: str | None = None, section: str | None = None,
                    profile: SiteProfile = MODERN_DIPLOMACY) -> SiteProfile:
    """The profile a crawl will use; raises ValueError on a start URL it cannot use."""
    if section:
        profile = profile.with_section(section)
    if start_url:
        profile = profile.with_start_url(start_url)
    return profile


def crawl_settings(data_dir: Path, overrides: dict | None = None) -> Settings:
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.set("STEPPE_DATA_DIR", str(data_dir), priority="cmdline")
    for name, value in (overrides or {}).items():
        settings.set(name, value, priority="cmdline")
    return settings


def run_crawl(data_dir: Path, *, start_url: str | None = None, section: str | None = None,
              settings: dict | None = None) -> CrawlSummary:
    """Crawl a section into ``data_dir``. Once per process: Twisted's reactor does not restart.

    Raises ``archive.lock.ArchiveLocked`` when another crawl holds ``data_dir``, and
    ``sqlite3.DatabaseError`` when its database is damaged."""
    profile = resolve_profile(start_url, section)
    hold(data_dir)  # raises ArchiveLocked while another crawl writes there
    crawl_id = new_crawl_id()
    scrapy_settings = crawl_settings(data_dir, settings)
    # Opened (and migrated) here, not first inside Scrapy's signal handlers, where a
    # damaged file would end in a log of tracebacks and a crawl with nowhere to go.
    _, db_path = archive_paths(scrapy_settings)
    if db_path.exists():
        Store(db_path).close()
    process = CrawlerProcess(scrapy_settings)
    crawler = process.create_crawler(SectionSpider)
    started = time.monotonic()
    # Scrapy sets the crawl up (importing its components) inside a Deferred, where a
    # Ctrl-C would end as an "Unhandled error in Deferred" traceback; its own handler
    # comes with the reactor. Meanwhile a Ctrl-C waits for the set-up to end, then
    # stops the run here, before anything is fetched.
    interrupted = []
    previous = signal.signal(signal.SIGINT, lambda *_: interrupted.append(True))
    try:
        process.crawl(crawler, profile=profile, crawl_id=crawl_id)
    finally:
        signal.signal(signal.SIGINT, previous)
    if interrupted:
        raise KeyboardInterrupt
    process.start()
    stats = crawler.stats
    spider = crawler.spider
    return CrawlSummary(
        crawl_id=crawl_id,
        status=stats.get_value("steppe/status", "failed"),
        pages=stats.get_value("steppe/archived", 0),
        articles_new=stats.get_value("steppe/articles_new", 0),
        articles_changed=stats.get_value("steppe/articles_changed", 0),
        seconds=time.monotonic() - started,
        data_dir=data_dir,
        failures=list(spider.failures) if spider else [],
    )
