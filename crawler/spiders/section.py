"""The section spider: listing pages, their pagination, articles, "Continue Reading"."""

from __future__ import annotations

import secrets
from datetime import datetime, timezone

import scrapy
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.exceptions import IgnoreRequest
from twisted.internet.error import DNSLookupError, TCPTimedOutError, TimeoutError

from crawler.site import MODERN_DIPLOMACY, SiteProfile


def new_crawl_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ-") + secrets.token_hex(3)


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

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        if crawler.settings.getbool("STEPPE_NO_DELAY"):
            if not spider.profile.is_loopback:
                raise ValueError(
                    f"STEPPE_NO_DELAY is for loopback test sites only; {spider.profile.host} is not loopback"
                )
            # Fixtures and benchmarks: full speed, and only against this machine.
            for name, value in {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False,
                                "CONCURRENT_REQUESTS_PER_DOMAIN": crawler.settings.getint("CONCURRENT_REQUESTS")}.items():
                crawler.settings.set(name, value, priority="spider")
        return spider

    async def start(self):
        yield self._request(self.profile.section_url, self.parse_listing)

    def _request(self, url: str, callback) -> scrapy.Request:
        return scrapy.Request(url, callback=callback, errback=self.on_error)

    def parse_listing(self, response):
        self.crawler.stats.inc_value("steppe/listing_pages")
        for href in response.css(self.profile.teaser_links).getall():
            url = self.profile.article_url(response.urljoin(href))
            if url:
                yield self._request(url, self.parse_article)
        for href in response.css(self.profile.pagination_links).getall():
            url = self.profile.listing_url(response.urljoin(href))
            if url:
                yield self._request(url, self.parse_listing)

    def parse_article(self, response):
        self.crawler.stats.inc_value("steppe/article_pages")
        text = self.profile.continue_reading_text
        for href in response.xpath(f'//a[@href][contains(normalize-space(string(.)), "{text}")]/@href').getall():
            url = self.profile.article_url(response.urljoin(href))
            if url:
                yield self._request(url, self.parse_article)

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
