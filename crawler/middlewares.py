"""Downloader middlewares: WARC capture, Retry-After, redirect loops."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path

from scrapy import Request, signals
from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.utils.asyncio import sleep
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.response import response_status_message

from archive import __version__
from archive.urls import canonical_url
from archive.store import Store
from archive.warc import HttpExchange, ResponseRef, WarcWriter, payload_digest
from crawler.settings import archive_paths
from crawler.signals import response_archived


def _header_pairs(headers) -> list[tuple[str, str]]:
    return [(name.decode("latin-1"), value.decode("latin-1"))
            for name, values in headers.items() for value in values]


class WarcCaptureMiddleware:
    """Writes every exchange to WARC as it came off the wire.

    It sits next to the downloader (priority 950, above HttpCompressionMiddleware's
    590, RedirectMiddleware's 600 and RetryMiddleware's 550), so it sees bodies still
    Content-Encoded, and the 301s and 503s that those middlewares then consume.
    """

    def __init__(self, crawler, warc_dir: Path, db_path: Path, max_file_size: int):
        self.crawler = crawler
        self.warc_dir = warc_dir
        self.db_path = db_path
        self.max_file_size = max_file_size
        self.writer: WarcWriter | None = None
        self.store: Store | None = None  # read side: what earlier crawls archived
        self.written: dict[tuple[str, str], ResponseRef] = {}  # this crawl's full records
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        warc_dir, db_path = archive_paths(crawler.settings)
        return cls(crawler, warc_dir, db_path, crawler.settings.getint("STEPPE_WARC_MAX_SIZE"))

    def spider_opened(self, spider):
        settings = self.crawler.settings
        self.writer = WarcWriter(self.warc_dir, f"steppe-{spider.crawl_id}", max_file_size=self.max_file_size, info={
            "software": f"steppe/{__version__} (Scrapy, warcio)",
            "format": "WARC File Format 1.1",
            "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
            "crawl-id": spider.crawl_id,
            "start-url": spider.profile.section_url,
            "http-header-user-agent": settings.get("USER_AGENT"),
            "robots": "obey" if settings.getbool("ROBOTSTXT_OBEY") else "ignore",
        })

        if self.db_path.exists():
            self.store = Store(self.db_path)

    def spider_closed(self, spider):
        if self.writer:
            self.writer.close()
        if self.store:
            self.store.close()

    def _earlier(self, url: str, status: int, body: bytes) -> ResponseRef | None:
        """What this response may be written as a revisit of, if anything."""
        if status == 304:
            return self.written.get((url, "")) or (self.store and self.store.earlier_capture(url))
        if status != 200:
            return None
        digest = payload_digest(body)
        return self.written.get((url, digest)) or (self.store and self.store.earlier_capture(url, digest))

    def process_response(self, request, response, spider=None):
        # download_latency runs from the request being sent to the response arriving.
        sent_at = datetime.now(timezone.utc) - timedelta(seconds=request.meta.get("download_latency", 0))
        exchange = HttpExchange(
            url=request.url,
            sent_at=sent_at,
            method=request.method,
            request_headers=_header_pairs(request.headers),
            request_body=request.body or b"",
            protocol=response.protocol or "HTTP/1.1",
            status=response.status,
            response_headers=_header_pairs(response.headers),
            body=response.body,
            ip_address=str(response.ip_address) if response.ip_address else None,
        )
        earlier = self._earlier(request.url, response.status, response.body)
        written = self.writer.write_exchange(exchange, revisit_of=earlier)
        self.crawler.stats.inc_value("steppe/archived")
        if earlier:
            self.crawler.stats.inc_value("steppe/revisits")
        elif response.status == 200:
            self.written[(request.url, written.payload_digest)] = self.written[(request.url, "")] = written
        self.crawler.signals.send_catch_log(
            response_archived, request=request, response=response, location=written.location,
            warc_dir=self.warc_dir, original=earlier.location if earlier else None,
        )
        return response


def retry_after_seconds(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """Seconds asked for by a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.decode("latin-1") if isinstance(value, bytes) else value
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


class RetryAfterMiddleware(RetryMiddleware):
    """Scrapy's RetryMiddleware, but a 429/503 waits what Retry-After asks (bounded)."""

    def __init__(self, settings):
        super().__init__(settings)
        self.max_wait = settings.getfloat("STEPPE_RETRY_AFTER_MAX")

    async def process_response(self, request, response, spider=None):
        if request.meta.get("dont_retry") or response.status not in self.retry_http_codes:
            return response
        retry = self._retry(request, response_status_message(response.status))
        if retry is None:
            return response
        wait = retry_after_seconds(response.headers.get("Retry-After"))
        if wait:
            self.crawler.stats.inc_value("steppe/retry_after_waits")
            if not await self._waited(min(wait, self.max_wait)):
                return response  # the crawl is stopping: a failure for now, owed to the next run
        return retry

    async def _waited(self, seconds: float) -> bool:
        """Sleep, in steps, as long as the engine runs: Ctrl-C must not wait out a
        two-minute Retry-After, as the engine waits for every request in progress."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if not self.crawler.engine.running:
                return False
            await sleep(min(left, 0.25))
        return True


class LoopAwareRedirectMiddleware(RedirectMiddleware):
    """Scrapy's RedirectMiddleware, but a redirect back to a URL of the same chain is
    a loop, reported as such (the duplicate filter would drop it without a word)."""

    def process_response(self, request, response, spider=None):
        result = super().process_response(request, response)
        if isinstance(result, Request):
            chain = [*request.meta.get("redirect_urls", []), request.url]
            if canonical_url(result.url) in {canonical_url(url) for url in chain}:
                raise IgnoreRequest(f"redirect loop: {' → '.join([*chain, result.url])}")
        return result


class PageBudgetReached(IgnoreRequest):
    """The run's page budget is spent: what was not fetched stays owed to the next run."""


class PageBudgetMiddleware:
    """STEPPE_MAX_PAGES (``--max-pages``): at most N requests leave for the network, so
    at most N responses are archived. Scrapy's CLOSESPIDER_PAGECOUNT counts responses as
    they come back, when the requests in flight have been sent already."""

    def __init__(self, crawler, budget: int):
        self.crawler = crawler
        self.budget = budget
        self.sent = 0

    @classmethod
    def from_crawler(cls, crawler):
        budget = crawler.settings.getint("STEPPE_MAX_PAGES")
        if budget <= 0:
            raise NotConfigured
        return cls(crawler, budget)

    def process_request(self, request, spider=None):
        if self.sent >= self.budget:
            if self.sent == self.budget:  # once: the engine closes, dropping what is queued
                self.sent += 1
                deferred_from_coro(self.crawler.engine.close_spider_async(reason="closespider_pagecount"))
            raise PageBudgetReached(f"page budget of {self.budget} spent")
        self.sent += 1
