"""Run a crawl from Python: what ``steppe crawl`` and ``steppe demo`` call."""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.settings import Settings

from archive.lock import hold
from archive.store import Store
from crawler.settings import archive_paths
from crawler.site import SiteProfile
from crawler.sources import Source, check_sources
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
    source: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "finished"

    def lines(self) -> list[str]:
        head = (f"crawl {self.crawl_id}{f' of {self.source}' if self.source else ''} {self.status}: "
                f"{self.pages} pages archived, "
                f"{self.articles_new} new articles, {self.articles_changed} changed, "
                f"{len(self.failures)} errors, {self.seconds:.1f}s")
        lines = [head] + [f"  error: {url}: {reason}" for url, reason in self.failures]
        lines.append(f"  archive: {self.data_dir / 'warcs'}  database: {self.data_dir / 'archive.db'}")
        return lines


def crawl_settings(data_dir: Path, overrides: dict | None = None) -> Settings:
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.set("STEPPE_DATA_DIR", str(data_dir), priority="cmdline")
    for name, value in (overrides or {}).items():
        settings.set(name, value, priority="cmdline")
    return settings


def run_crawls(data_dir: Path, sources: list[Source], settings: dict | None = None) -> list[CrawlSummary]:
    """Crawl sections into ``data_dir``, one crawl (one run row, its own WARC files) per
    source. Hosts are crawled at the same time, each by one crawl at a time, so that
    each keeps its own politeness (robots.txt, delay, one request in flight) and the
    run lasts about as long as its slowest host. Once per process: Twisted's reactor
    does not restart.

    Raises ValueError on sources no crawl can start from, ``archive.lock.ArchiveLocked``
    when another crawl holds ``data_dir``, and ``sqlite3.DatabaseError`` when its
    database is damaged."""
    profiles = check_sources(sources)
    hold(data_dir)  # raises ArchiveLocked while another crawl writes there
    many = len(sources) > 1
    scrapy_settings = crawl_settings(data_dir, settings)
    # Opened (and migrated) here, not first inside Scrapy's signal handlers, where a
    # damaged file would end in a log of tracebacks and a crawl with nowhere to go.
    _, db_path = archive_paths(scrapy_settings)
    if db_path.exists():
        Store(db_path).close()
    process = StoppableProcess(scrapy_settings)
    runs: list[_Run] = []
    hosts: dict[str, list[_Run]] = {}
    for source, profile in zip(sources, profiles):
        # The first crawler installs the reactor, as CrawlerProcess.create_crawler would.
        run = _Run.of(source, profile, data_dir, settings or {}, labelled=many, init_reactor=not runs)
        runs.append(run)
        hosts.setdefault(urlsplit(profile.section_url).netloc, []).append(run)
    # Scrapy sets a crawl up (importing its components) inside a Deferred, where a
    # Ctrl-C would end as an "Unhandled error in Deferred" traceback; its own handler
    # comes with the reactor. Meanwhile a Ctrl-C waits for the set-up to end, then
    # stops the run here, before anything is fetched.
    interrupted = []
    previous = signal.signal(signal.SIGINT, lambda *_: interrupted.append(True))
    try:
        for chain in hosts.values():
            _crawl_one_after_another(process, chain)
    finally:
        signal.signal(signal.SIGINT, previous)
    if interrupted:
        raise KeyboardInterrupt
    process.start()
    return [run.summary(data_dir) for run in runs]


class StoppableProcess(CrawlerProcess):
    """A Ctrl-C (SIGTERM) while a crawl opens stops it too. Scrapy stops only the
    crawls whose engine runs, then the reactor: under a crawl still opening, whose run
    would stay ``running`` and its summary say ``failed``. Here every crawl ends
    first; one that opens after the stop ends itself (``ArchiveIngest.engine_started``)."""

    def stop(self):
        return super().stop().addBoth(lambda _: self.join())


@dataclass
class _Run:
    profile: SiteProfile
    crawler: Crawler
    crawl_id: str | None = None
    started: float = 0.0
    seconds: float = 0.0

    @classmethod
    def of(cls, source: Source, profile: SiteProfile, data_dir: Path, settings: dict, *, labelled: bool,
           init_reactor: bool) -> _Run:
        """The crawl of one source: the run's settings, the source's own over them, and
        its name on the progress line where a run has many."""
        own = {**settings, **source.settings(), **({"STEPPE_PROGRESS_LABEL": profile.name} if labelled else {})}
        return cls(profile, Crawler(SectionSpider, crawl_settings(data_dir, own), init_reactor=init_reactor))

    def start(self, process: CrawlerProcess, worker: str = ""):
        """``worker``: the distributed crawl's worker, named in the crawl id after an @."""
        self.crawl_id, self.started = new_crawl_id() + (f"@{worker}" if worker else ""), time.monotonic()
        done = process.crawl(self.crawler, profile=self.profile, crawl_id=self.crawl_id)
        return done.addBoth(self._ended)

    def _ended(self, result):
        self.seconds = time.monotonic() - self.started
        return result

    def summary(self, data_dir: Path) -> CrawlSummary:
        stats, spider = self.crawler.stats, self.crawler.spider
        # A run never started: the run was stopped while another crawl of its host went on.
        status = stats.get_value("steppe/status", "failed") if self.crawl_id else "interrupted"
        return CrawlSummary(
            crawl_id=self.crawl_id or "-",
            status=status,
            pages=stats.get_value("steppe/archived", 0),
            articles_new=stats.get_value("steppe/articles_new", 0),
            articles_changed=stats.get_value("steppe/articles_changed", 0),
            seconds=self.seconds,
            data_dir=data_dir,
            failures=list(spider.failures) if spider else [],
            source=self.profile.name,
        )


def _crawl_one_after_another(process: CrawlerProcess, runs: list[_Run]):
    """The crawls of one host, each once the one before has ended; none after a
    crawl was interrupted (Ctrl-C, SIGTERM: the whole run stops)."""
    first, *rest = runs

    def next_one(result):
        if rest and first.crawler.stats.get_value("steppe/status") != "interrupted":
            return _crawl_one_after_another(process, rest)
        return result

    return first.start(process).addBoth(next_one)
