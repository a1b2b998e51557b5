"""The section spider: listing pages, their pagination, articles, "Continue Reading".

On a data directory that already holds articles the crawl is incremental: it walks
the listing from page 1 until it has seen a listing page's worth of known articles
in a row, fetches what is unknown, and fetches again only the known articles that
may have changed (young ones, those the sitemaps say were modified since our last
capture, and those the sitemaps no longer list).

What a run found and could not fetch (it was stopped, killed, bounded, or the site
failed it) is owed to the archive: ``crawler.frontier`` keeps it, and the next runs
fetch it and read the listing at least as deep as the unfinished walk would have.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import urljoin, urlsplit

import scrapy
from scrapy import signals
from scrapy.exceptions import (CannotResolveHostError, DontCloseSpider, DownloadTimeoutError, IgnoreRequest,
                               UnsupportedURLSchemeError)
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots
from twisted.internet.error import DNSLookupError, TCPTimedOutError, TimeoutError

from archive.membership import says_in_section
from archive.store import TRANSIENT_STATUSES, Store
from crawler.frontier import Frontier, now_stamp
from crawler.listing import adjacent_articles, read_listing
from crawler.middlewares import FOUND_VIA, PageBudgetReached
from crawler.settings import archive_paths
from crawler.site import SiteProfile, profile_for


def new_crawl_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ-") + secrets.token_hex(3)


_URL_DAY = re.compile(r"/((?:19|20)\d\d)/(0[1-9]|1[0-2])/(0[1-9]|[12]\d|3[01])/")


LISTING_PRIORITY = 10


def url_day(url: str) -> str | None:
    """The day an article's URL names (/YYYY/MM/DD/, as WordPress permalinks and many
    news sites give it), as YYYY-MM-DD; None where it names none."""
    match = _URL_DAY.search(url)
    return "-".join(match.groups()) if match else None


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
                 crawl_id: str | None = None, profile: SiteProfile | None = None, **kwargs):
        super().__init__(**kwargs)
        self.profile = profile or profile_for(start_url, section)
        # Where a site's listing pages put their teasers (crawler.listing), once found.
        self.listing_shape: tuple[str, ...] | None = None
        self.crawl_id = crawl_id or new_crawl_id()
        self.allowed_domains = [self.profile.host]
        self.failures: list[tuple[str, str]] = []  # (url, reason), for the closing summary
        self.articles: dict[str, str | None] = {}  # live article url → its own latest date
        self.known: set[str] = set()  # every article URL already answered
        self.store: Store | None = None  # read side of the archive, for incremental crawls
        self.frontier: Frontier | None = None
        # Articles known when the listing walk began: pagination stops at a page of them.
        self.settled: set[str] = set()
        self.walking = 0  # listing requests of the walk not answered yet
        self.walk_cut = False  # a listing page of the walk failed for now: the walk stays owed
        self.listed: set[str] = set()  # listing pages requested by the walk
        self.walk_seen: set[str] = set()  # articles its pages listed
        self.walk_reached: str | None = None  # oldest day (from article URLs) the walk read
        self.walk_next: list[str] = []  # where the walk would have gone on when it stopped
        # The walk could not read the whole listing (its pages offer more than it can
        # follow, or it hit its bound): articles' read-next links must reach the rest.
        self.walk_short = False
        self.adjacent: dict[str, str] = {}  # read-next links not followed (yet) → the page they were on
        self.sitemap_unknown: dict[str, str] = {}  # article URLs the sitemaps list, not archived → day
        self.looking_for: dict[str, str] = {}  # of those, the ones the walk goes on to look for
        self.given_up: set[str] = set()  # article URLs the frontier gave up: not looked for again
        self.sitemaps_pending = 0
        self.sitemap_urls: set[str] = set()
        self.sitemaps_complete = True
        self.started = time.monotonic()
        self.relisted = False
        self.resume_at: set[str] = set()  # listing pages where an unfinished walk would have gone on
        self.robots = None  # the site's robots.txt rules, once Scrapy has read them

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
        crawler.signals.connect(spider.robots_parsed, signal=signals.robots_parsed)
        spider.margin = settings.getint("STEPPE_KNOWN_MARGIN")
        spider.max_listing_pages = settings.getint("STEPPE_MAX_LISTING_PAGES")
        spider.revalidate_after = datetime.now(timezone.utc) - timedelta(days=settings.getfloat("STEPPE_REVALIDATE_DAYS"))
        return spider

    def _open_archive(self) -> dict[str, str | None]:
        """Read what the archive knows and owes; returns the owed articles due now (each
        with the page whose read-next link found it, if that is how)."""
        # At start, not at init: the archive extension has by then recovered what an
        # interrupted crawl left, so the crawl knows every record already archived.
        _, db_path = archive_paths(self.crawler.settings)
        self.store = Store(db_path)
        self.frontier = Frontier(self.store, self.profile.section_url, self.crawl_id)
        site = self.profile.base_url + "/"
        due = self.frontier.due()
        opened = now_stamp()
        walk_began, self.resume_at = self.frontier.begin_walk()
        if not self.full:
            answered = self.store.seen_article_urls(site)
            self.articles = self.store.article_index(site)
            self.known = answered | self.frontier.articles("owed")
            self.given_up = self.frontier.articles("given_up", "elsewhere")
            # A walk of this run's own stops at what is known now; one resumed, at what
            # was known when it began.
            self.settled = ((answered if walk_began >= opened else self.store.seen_article_urls(site, walk_began))
                            | self.frontier.found_before(walk_began))
            self.sitemap_unknown = {url: url_day(url) for url in self.frontier.articles("sought") - self.known}
        self.known.update(due)
        return due

    def closed(self, reason):
        if self.store is not None:
            self.store.close()

    async def start(self):
        try:
            due = self._open_archive()
        except sqlite3.OperationalError as exc:  # a full disk, a damaged file: nothing to crawl into
            _, db_path = archive_paths(self.crawler.settings)
            self.failures.append((str(db_path), f"cannot be written ({exc}); not crawling"))
            self.logger.error("%s cannot be written (%s); not crawling", db_path, exc)
            return
        if not self.crawler.settings.getbool("ROBOTSTXT_OBEY"):
            # Scrapy reads no robots.txt then: read it for its Sitemap lines.
            yield self._request(self.profile.robots_url, self.parse_robots, meta={"handle_httpstatus_all": True})
        for url in [self.profile.section_url, *sorted(self.resume_at)]:
            yield self._listing_request(url)
        for url, via in due.items():
            self.crawler.stats.inc_value("steppe/owed_fetched")
            yield self._article_request(url, via)
        for url, dated in self.articles.items():
            if (_parse_time(dated) or datetime.min.replace(tzinfo=timezone.utc)) >= self.revalidate_after:
                self.crawler.stats.inc_value("steppe/revalidated/young")
                yield self._revalidate(url)

    def _robots_allow(self, url: str) -> bool:
        """Whether the site's robots.txt lets the crawl fetch ``url`` (yes until it is read):
        a disallowed request would only be dropped by Scrapy's middleware, as a failure."""
        return self.robots is None or self.robots.allowed(url, self.robots_agent)

    def _request(self, url: str, callback, **kwargs) -> scrapy.Request:
        return scrapy.Request(url, callback=callback, errback=self.on_error, **kwargs)

    def _article_request(self, url: str, via: str | None = None) -> scrapy.Request:
        """A request for an article the archive lacks: owed until it is answered.
        ``via``: the page whose read-next link found it, said in its WARC record."""
        return self._request(url, self.parse_article, meta={"owed": url, **({FOUND_VIA: via} if via else {})})

    def _new_articles(self, urls, via: dict[str, str] | None = None) -> list[scrapy.Request]:
        """Requests for the articles among ``urls`` not known yet, written to the
        frontier before any is sent."""
        new = [url for url in dict.fromkeys(urls) if url not in self.known]
        self.known.update(new)
        self.frontier.found(new, via)
        return [self._article_request(url, (via or {}).get(url)) for url in new]

    def _listing_request(self, url: str, known_in_a_row: int = 0, relist: bool = False,
                         looking: bool = False) -> scrapy.Request:
        if not relist:
            self.walking += 1
            self.listed.add(url)
        # The walk keeps its own count of which pages it asked for: the duplicate filter
        # would drop a page silently, and the walk would never know it ended. Listing
        # pages go first: a bounded run reads the listing before the articles it owes.
        return self._request(url, self.parse_listing, dont_filter=True, priority=LISTING_PRIORITY,
                             meta={"known_in_a_row": known_in_a_row, "relist": relist, "looking": looking})

    def _listing_answered(self, relist: bool, cut: bool = False) -> None:
        """One listing request of the walk is over; the walk ends with the last one."""
        if relist:
            return
        self.walking -= 1
        self.walk_cut |= cut
        if self.walking == 0 and not self.walk_cut:
            self.frontier.end_walk()

    def _revalidate(self, url: str) -> scrapy.Request:
        # Conditional when an earlier capture gave validators. A known article that
        # answers 404/410 is gone: archived and marked, not an error.
        return self._request(url, self.parse_article, headers=self.store.validators(url),
                             meta={"handle_httpstatus_list": [304, 404, 410]})

    # Listing pages ----------------------------------------------------------------

    def parse_listing(self, response):
        self.crawler.stats.inc_value("steppe/listing_pages")
        relist = response.meta.get("relist", False)
        teasers, next_pages, more_unread = self._read_listing(response)
        teasers = [url for url in teasers if self._robots_allow(url)]
        # Articles are listed newest first: a listing page's worth of settled ones in a
        # row means the rest is known too. Settled: known before the walk began (one
        # that an unfinished run began, if any), not merely fetched since: a run cut
        # short may have reached deep articles through "Continue Reading" and never
        # the listing pages between. A first crawl settles nothing and reads every page.
        settled = self.known if relist else self.settled
        known_in_a_row = response.meta.get("known_in_a_row", 0)
        for url in teasers:
            known_in_a_row = known_in_a_row + 1 if url in settled else 0
        # A page that lists nothing the walk has not read on its earlier pages (empty,
        # or a filter that repeats the first page whatever its number) ends it too.
        brings_nothing = not relist and self.walk_seen.issuperset(teasers)
        if not relist:
            self.walk_seen.update(teasers)
        yield from self._new_articles(teasers)
        next_pages = [url for url in next_pages if relist or url not in self.listed]
        if not relist:
            # How far back the walk has read: the day of the page's last dated teaser
            # (an old sticky post at the top of page 1 says nothing of that).
            days = [day for day in map(url_day, teasers) if day]
            self.walk_reached = min(filter(None, [self.walk_reached, days[-1] if days else None]), default=None)
        if response.meta.get("looking"):
            stop = not self._still_looking(end_of_listing=not next_pages)
        else:
            stop = known_in_a_row >= (self.margin or len(teasers) or 1) or brings_nothing
        if next_pages and not relist and len(self.listed) >= self.max_listing_pages > 0:
            self.logger.warning("%s: the listing goes on past %d pages; the walk stops here (raise"
                                " STEPPE_MAX_LISTING_PAGES to read further)", response.url, self.max_listing_pages)
            stop = True
            self.walk_short = True
        if not relist and not next_pages and more_unread and not self.walk_short:
            self.logger.info("%s: the listing offers more than its links lead to; following the articles'"
                             " read-next links", response.url)
            self.walk_short = True
        if self.walk_short:
            yield from self._read_next(self.adjacent)
            self.adjacent = {}
        if stop:
            self.crawler.stats.set_value("steppe/listing_stopped_at", response.url)
            if not relist:
                self.walk_next = next_pages
            next_pages = []
        if next_pages and not relist:
            self.frontier.walk_goes_on(next_pages)
        for url in next_pages:
            yield self._listing_request(url, known_in_a_row, relist, looking=response.meta.get("looking", False))
        self._listing_answered(relist)
        yield from self._look_for_sitemap_articles()

    def _read_listing(self, response) -> tuple[list[str], list[str], bool]:
        """The section's articles a listing page lists, its next pages, and whether it
        offers more than those: by the platform's selectors where the site runs one
        steppe knows, else from the page."""
        if not self.profile.knows_its_listing:
            self.profile = self.profile.for_page(response.text)
        if self.profile.knows_its_listing:
            teasers = response.css(self.profile.teaser_links).getall()
            next_pages = response.css(self.profile.next_page_link).getall()
            more_unread = False
        else:
            listing = read_listing(response.text, response.url, self.listing_shape)
            self.listing_shape = self.listing_shape or listing.shape
            teasers, next_pages = listing.teasers, [listing.next_page] if listing.next_page else []
            more_unread = listing.more_unread
        return ([url for url in (self.profile.article_url(response.urljoin(href)) for href in teasers) if url],
                [url for url in (self.profile.listing_url(response.urljoin(href)) for href in next_pages) if url],
                more_unread)

    def spider_idle(self):
        """Read the listing once more before closing when the crawl took long enough
        for the site to publish meanwhile: what appeared at the top is not missed."""
        if self.relisted or time.monotonic() - self.started < self.relist_after:
            return
        self.relisted = True
        self.crawler.stats.set_value("steppe/relisted", True)
        self.crawler.engine.crawl(self._listing_request(self.profile.section_url, relist=True))
        raise DontCloseSpider

    # Article pages ------------------------------------------------------------------

    def parse_article(self, response):
        self.crawler.stats.inc_value("steppe/article_pages")
        text = self.profile.continue_reading_text
        if not text:
            yield from self._read_next_of(response)
            return
        hrefs = response.xpath(f'//a[@href][contains(normalize-space(string(.)), "{text}")]/@href').getall()
        # Its own frontier row goes once the archive holds it (``Frontier.due``): a
        # record that never reaches the database is fetched again.
        yield from self._new_articles(url for url in (self.profile.article_url(response.urljoin(href))
                                                      for href in hrefs) if url)

    def _read_next_of(self, response):
        """Where no theme says which links stay in the section: a page's read-next and
        previous/next links are followed when the walk cannot read the whole listing,
        and from the section's own articles only: a page reached so that does not say
        it belongs to the section ends its chain (and is no article of it: ingest asks
        the page the same question)."""
        if response.status != 200 or not isinstance(response, scrapy.http.TextResponse):
            return
        if self.walking == 0 and not self.walk_short:
            return   # the walk read the whole listing: nothing to reach from here (and no page to parse)
        if response.meta.get(FOUND_VIA) and not says_in_section(response.text, response.url, self.profile.section_url):
            return
        found = {url: response.url for url in (self.profile.article_url(u)
                                               for u in adjacent_articles(response.text, response.url))
                 if url and url not in self.known}
        if self.walk_short:
            yield from self._read_next(found)
        else:
            self.adjacent.update(found)

    def _read_next(self, found: dict[str, str]) -> list[scrapy.Request]:
        """Requests for read-next targets (``found``: URL → the page it was on)."""
        requests = self._new_articles((url for url in found if self._robots_allow(url)), found)
        self.crawler.stats.inc_value("steppe/read_next_followed", len(requests))
        return requests

    # Sitemaps: which known articles changed or went away -------------------------------

    def robots_parsed(self, robotparser, request):
        """Scrapy's robots.txt middleware has read the site's robots.txt (archived like
        any response), before the first request to the site goes out: its rules tell
        which teasers are not ours to fetch (and so must not count as new), its Sitemap
        lines where the sitemaps are. A first crawl reads the sitemaps too: its walk
        reads the whole listing, so the articles they name that it does not find are
        other sections', given up once and for all."""
        if urlsplit(request.url).netloc != urlsplit(self.profile.base_url).netloc:
            return
        self.robots = robotparser
        sitemaps = getattr(getattr(robotparser, "rp", None), "sitemaps", ())  # Protego's, the default parser
        for url in sitemaps:
            for sitemap_request in self._sitemap_request(urljoin(self.profile.robots_url, url)):
                self.crawler.engine.crawl(sitemap_request)

    def parse_robots(self, response):
        """robots.txt read by the spider itself, for its Sitemap lines: only where Scrapy
        does not read it (ROBOTSTXT_OBEY off)."""
        if response.status == 200:
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
            sitemap, sought = Sitemap(response.body), []
            for entry in sitemap:
                loc = entry.get("loc", "")
                if sitemap.type == "sitemapindex":
                    if self.profile.follows_sitemap(loc):
                        yield from self._sitemap_request(loc)
                    continue
                url = self.profile.article_url(loc)
                if not url:
                    continue
                self.sitemap_urls.add(url)
                if url not in self.known and url not in self.given_up and (day := url_day(url)):
                    sought.append(url)
                    self.sitemap_unknown[url] = day
                # Against the article's own date, not our capture time: the site's
                # clock and ours need not agree.
                lastmod, dated = _parse_time(entry.get("lastmod")), _parse_time(self.articles.get(url))
                if lastmod and dated and lastmod > dated:
                    self.crawler.stats.inc_value("steppe/revalidated/sitemap_lastmod")
                    yield self._revalidate(url)
            self.frontier.sought(sought)  # looked for by the next runs too, until found or placed
        if self.sitemaps_pending == 0 and self.sitemaps_complete and self.sitemap_urls:
            # Known articles the site no longer lists: renamed (301) or removed (404/410).
            for url in self.articles:
                if url not in self.sitemap_urls:
                    self.crawler.stats.inc_value("steppe/revalidated/unlisted")
                    yield self._revalidate(url)
        yield from self._look_for_sitemap_articles()

    def _look_for_sitemap_articles(self):
        """Articles the sitemaps list and the archive lacks are a sign to look: the
        sitemaps name the whole site, not the section, so the section's listing says
        which are its own. Once both the walk and the sitemaps are done, those dated
        (by their URL) after the oldest day the walk read are not in the section, the
        walk having read those days whole; for older ones the walk goes on from where
        it stopped until it has read past their day. What is not found is placed
        ``elsewhere``, so that it is not looked for again."""
        if (self.sitemaps_pending or self.walking or self.walk_cut or self.walk_reached is None
                or not self.sitemap_unknown):
            return  # a walk cut short proves nothing: what it sought stays sought
        missing = {url: day for url, day in self.sitemap_unknown.items()
                   if url not in self.known and self._robots_allow(url)}
        self.sitemap_unknown = {}  # looked at once per run
        self.looking_for = {url: day for url, day in missing.items() if day <= self.walk_reached}
        self._not_in_the_listing({url for url in missing if url not in self.looking_for})
        if not self.looking_for:
            return
        if not self.walk_next:  # the walk read the listing to its end
            self._still_looking(end_of_listing=True)
            return
        self.crawler.stats.set_value("steppe/looking_for_sitemap_articles", len(self.looking_for))
        for url in self.walk_next:
            yield self._listing_request(url, looking=True)

    def _not_in_the_listing(self, urls) -> None:
        self.crawler.stats.inc_value("steppe/sitemap_articles_elsewhere", len(urls))
        self.frontier.elsewhere(sorted(urls))

    def _still_looking(self, end_of_listing: bool) -> bool:
        """After a listing page read while looking: is there anything left to look for?"""
        remaining = {url: day for url, day in self.looking_for.items() if url not in self.known}
        self.looking_for = {url: day for url, day in remaining.items()
                            if day <= self.walk_reached and not end_of_listing}
        if not self.walk_cut:
            self._not_in_the_listing(remaining.keys() - self.looking_for.keys())
        return bool(self.looking_for)

    # Failures ------------------------------------------------------------------------

    def on_error(self, failure):
        """A fetch that failed for this run: say what and where, count it, go on; what
        the archive lacks stays owed to the next runs, unless the answer was final."""
        request = failure.request
        looking = []
        if request.callback == self.parse_sitemap:  # the look-up goes on with the others
            self.sitemaps_pending -= 1
            self.sitemaps_complete = False
            looking = list(self._look_for_sitemap_articles())
        if failure.check(PageBudgetReached):  # not a failure: the run was bounded
            if "relist" in request.meta:
                self._listing_answered(request.meta["relist"], cut=True)
            return looking
        reason, transient = _failure_reason(failure)
        if "owed" in request.meta:
            self.frontier.failed(request.meta["owed"], reason, transient)
        if "relist" in request.meta:
            self._listing_answered(request.meta["relist"], cut=transient)
        if failure.check(IgnoreRequest) and "robots.txt" in str(failure.value):
            self.crawler.stats.inc_value("steppe/robots_forbidden")
            return looking
        self.crawler.stats.inc_value("steppe/errors")
        self.failures.append((request.url, reason))
        self.logger.error("Could not fetch %s: %s", request.url, reason)
        return looking


def _failure_reason(failure) -> tuple[str, bool]:
    """(what went wrong, whether a later run may do better)."""
    if failure.check(HttpError):
        status = failure.value.response.status
        return f"HTTP {status}", status in TRANSIENT_STATUSES
    if failure.check(IgnoreRequest, UnsupportedURLSchemeError):  # robots.txt, a redirect loop: the site's own answer
        return str(failure.value), False
    if failure.check(DownloadTimeoutError, TimeoutError, TCPTimedOutError):
        return f"timed out ({failure.value})", True
    if failure.check(CannotResolveHostError, DNSLookupError):
        return "host not found", True
    # Connection refused, reset or lost, a response cut short: the network's, not the site's.
    return f"{failure.type.__name__}: {failure.value}", True
