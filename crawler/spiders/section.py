"""The section spider: listing pages, their pagination, articles, "Continue Reading".

On a data directory that already holds articles the crawl is incremental: it walks
the listing from page 1 until it has seen a listing page's worth of known articles
in a row, fetches what is unknown, and fetches again only the known articles that
may have changed (young ones, those the sitemaps say were modified since our last
capture, and those the sitemaps no longer list).
"""

from __future__ import annotations

import re
import secrets
import time
from datetime import datetime, timedelta, timezone

import scrapy
from scrapy import signals
from scrapy.exceptions import DontCloseSpider, IgnoreRequest
from scrapy.robotstxt import ProtegoRobotParser
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots
from twisted.internet.error import DNSLookupError, TCPTimedOutError, TimeoutError

from archive.store import Store
from crawler.settings import archive_paths
from crawler.site import MODERN_DIPLOMACY, SiteProfile


def new_crawl_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ-") + secrets.token_hex(3)


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


class SectionSpider(scrapy.Spider):
    """Crawl one section of a site: ``-a start_url=…`` or ``-a section=…`` to change it."""

    name = "central_asia"

    def __init__(self, start_url: str | None = None, section: str | None = None,
                 crawl_id: str | None = None, profile: SiteProfile = MODERN_DIPLOMACY, **kwargs):
        super().__init__(**kwargs)
        if section:
            profile = profile.with_section(section)
        if start_url:
            profile = profile.with_start_url(start_url)
        self.profile = profile
        self.crawl_id = crawl_id or new_crawl_id()
        self.allowed_domains = [profile.host]
        self.failures: list[tuple[str, str]] = []  # (url, reason), for the closing summary
        self.articles: dict[str, str | None] = {}  # live article url → its own latest date
        self.known: set[str] = set()  # every article URL already answered
        self.store: Store | None = None  # read side of the archive, for incremental crawls
        self.known_in_a_row = 0
        self.sitemaps_pending = 0
        self.sitemap_urls: set[str] = set()
        self.sitemaps_complete = True
        self.started = time.monotonic()
        self.relisted = False
        self.incremental = False
        self.robots: ProtegoRobotParser | None = None

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        if settings.getbool("STEPPE_NO_DELAY"):
            if not spider.profile.is_loopback:
                raise ValueError(
                    f"STEPPE_NO_DELAY is for loopback test sites only; {spider.profile.host} is not loopback"
                )
            # Fixtures and benchmarks: full speed, and only against this machine.
            for name, value in {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False,
                                "CONCURRENT_REQUESTS_PER_DOMAIN": settings.getint("CONCURRENT_REQUESTS")}.items():
                settings.set(name, value, priority="spider")
        spider.full = settings.getbool("STEPPE_FULL")
        spider.robots_agent = settings.get("USER_AGENT")
        spider.relist_after = settings.getfloat("STEPPE_RELIST_AFTER")
        crawler.signals.connect(spider.spider_idle, signal=signals.spider_idle)
        spider.margin = settings.getint("STEPPE_KNOWN_MARGIN")
        spider.revalidate_after = datetime.now(timezone.utc) - timedelta(days=settings.getfloat("STEPPE_REVALIDATE_DAYS"))
        return spider

    def _open_archive(self) -> None:
        # At start, not at init: the archive extension has by then recovered what an
        # interrupted crawl left, so the crawl knows every record already archived.
        _, db_path = archive_paths(self.crawler.settings)
        self.store = Store(db_path)
        if not self.full:
            self.articles = self.store.article_index()
            self.known = self.store.seen_article_urls()
        self.incremental = bool(self.known)

    def closed(self, reason):
        if self.store is not None:
            self.store.close()

    async def start(self):
        self._open_archive()
        if not self.incremental:
            yield self._request(self.profile.section_url, self.parse_listing)
            return
        # robots.txt first: its rules tell which teasers are not ours to fetch (and so
        # must not count as new), its Sitemap lines where the sitemaps are.
        yield self._request(self.profile.robots_url, self.parse_robots)
        for url, dated in self.articles.items():
            if (_parse_time(dated) or datetime.min.replace(tzinfo=timezone.utc)) >= self.revalidate_after:
                self.crawler.stats.inc_value("steppe/revalidated/young")
                yield self._revalidate(url)

    def _request(self, url: str, callback, **kwargs) -> scrapy.Request:
        return scrapy.Request(url, callback=callback, errback=self.on_error, **kwargs)

    def _revalidate(self, url: str) -> scrapy.Request:
        # Conditional when an earlier capture gave validators. A known article that
        # answers 404/410 is gone: archived and marked, not an error.
        return self._request(url, self.parse_article, headers=self.store.validators(url),
                             meta={"handle_httpstatus_list": [304, 404, 410]})

    # Listing pages ----------------------------------------------------------------

    def parse_listing(self, response):
        self.crawler.stats.inc_value("steppe/listing_pages")
        teasers = [url for url in (self.profile.article_url(response.urljoin(href))
                                   for href in response.css(self.profile.teaser_links).getall())
                   if url and (self.robots is None or self.robots.allowed(url, self.robots_agent))]
        for url in teasers:
            if url in self.known:
                self.known_in_a_row += 1
                continue
            self.known_in_a_row = 0
            self.known.add(url)
            yield self._request(url, self.parse_article)
        # Articles are listed newest first: a listing page's worth of known ones in a
        # row means the rest is known too. A first crawl reads every page.
        if self.incremental and self.known_in_a_row >= (self.margin or len(teasers) or 1):
            self.crawler.stats.set_value("steppe/listing_stopped_at", response.url)
            return
        for href in response.css(self.profile.next_page_link).getall():
            url = self.profile.listing_url(response.urljoin(href))
            if url:
                yield self._request(url, self.parse_listing)

    def spider_idle(self):
        """Read the listing once more before closing when the crawl took long enough
        for the site to publish meanwhile: what appeared at the top is not missed."""
        if self.relisted or time.monotonic() - self.started < self.relist_after:
            return
        self.relisted, self.incremental, self.known_in_a_row = True, True, 0
        self.crawler.stats.set_value("steppe/relisted", True)
        self.crawler.engine.crawl(self._request(self.profile.section_url, self.parse_listing, dont_filter=True))
        raise DontCloseSpider

    # Article pages ------------------------------------------------------------------

    def parse_article(self, response):
        self.crawler.stats.inc_value("steppe/article_pages")
        text = self.profile.continue_reading_text
        for href in response.xpath(f'//a[@href][contains(normalize-space(string(.)), "{text}")]/@href').getall():
            url = self.profile.article_url(response.urljoin(href))
            if url and url not in self.known:
                self.known.add(url)
                yield self._request(url, self.parse_article)

    # Sitemaps: which known articles changed or went away -------------------------------

    def parse_robots(self, response):
        self.robots = ProtegoRobotParser.from_crawler(self.crawler, response.body)
        yield self._request(self.profile.section_url, self.parse_listing)
        for url in sitemap_urls_from_robots(response.body, base_url=response.url):
            yield from self._sitemap_request(url)

    def _sitemap_request(self, url: str):
        self.sitemaps_pending += 1
        yield self._request(url, self.parse_sitemap, headers=self.store.validators(url),
                            meta={"handle_httpstatus_list": [304]}, dont_filter=True)

    def parse_sitemap(self, response):
        self.sitemaps_pending -= 1
        if response.status == 304:
            # Unchanged since we last read it: nothing in it moved.
            self.sitemaps_complete = False
        else:
            sitemap = Sitemap(response.body)
            for entry in sitemap:
                loc = entry.get("loc", "")
                if sitemap.type == "sitemapindex":
                    if re.search(self.profile.sitemap_follow, loc):
                        yield from self._sitemap_request(loc)
                    continue
                url = self.profile.article_url(loc)
                if not url:
                    continue
                self.sitemap_urls.add(url)
                # Against the article's own date, not our capture time: the site's
                # clock and ours need not agree.
                lastmod, dated = _parse_time(entry.get("lastmod")), _parse_time(self.articles.get(url))
                if lastmod and dated and lastmod > dated:
                    self.crawler.stats.inc_value("steppe/revalidated/sitemap_lastmod")
                    yield self._revalidate(url)
        if self.sitemaps_pending == 0 and self.sitemaps_complete and self.sitemap_urls:
            # Known articles the site no longer lists: renamed (301) or removed (404/410).
            for url in self.articles:
                if url not in self.sitemap_urls:
                    self.crawler.stats.inc_value("steppe/revalidated/unlisted")
                    yield self._revalidate(url)

    # Failures ------------------------------------------------------------------------

    def on_error(self, failure):
        """A fetch that failed for good: say what and where, count it, go on."""
        request = failure.request
        if failure.check(IgnoreRequest) and "robots.txt" in str(failure.value):
            self.crawler.stats.inc_value("steppe/robots_forbidden")
            return
        if failure.check(HttpError):
            reason = f"HTTP {failure.value.response.status}"
        elif failure.check(TimeoutError, TCPTimedOutError):
            reason = "timed out"
        elif failure.check(DNSLookupError):
            reason = "host not found"
        else:
            reason = f"{failure.type.__name__}: {failure.value}"
        self.crawler.stats.inc_value("steppe/errors")
        self.failures.append((request.url, reason))
        self.logger.error("Could not fetch %s: %s", request.url, reason)
