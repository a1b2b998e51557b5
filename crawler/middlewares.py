"""Downloader middlewares: WARC capture, Retry-After, redirect loops, and the guards
that keep a crawl safe whatever a server sends: private addresses, body sizes,
compression bombs, robots.txt as RFC 9309 reads it, connections cut short."""

from __future__ import annotations

import ipaddress
import logging
import time
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from lxml import etree
from scrapy import Request, signals
from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import DownloadFailedError, IgnoreRequest, NotConfigured, ResponseDataLossError, StopDownload
from scrapy.http.request import NO_CALLBACK
from scrapy.resolver import CachingThreadedResolver
from scrapy.utils._compression import _DecompressionMaxSizeExceeded  # what its decoders raise
from scrapy.utils.asyncio import sleep
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.response import response_status_message
from twisted.internet import defer
from twisted.internet.error import ConnectionClosed
from twisted.web._newclient import ResponseFailed, _DataLoss
from w3lib.url import safe_url_string

from archive import __version__
from archive.layouts import warcinfo_fields
from archive.urls import canonical_url
from archive.store import Store
from archive.recover import close_open_file
from archive.warc import OPEN_SUFFIX, HttpExchange, ResponseRef, WarcWriter, payload_digest
from crawler.settings import archive_paths
from crawler.signals import response_archived

logger = logging.getLogger(__name__)


# request.meta key: why the response body was cut short ("length"), for WARC-Truncated.
TRUNCATED = "steppe_truncated"
# request.meta key: the page whose read-next link led to this request (archive.warc.FOUND_VIA).
FOUND_VIA = "steppe_found_via"


class FaultLog:
    """One warning per kind of fault and crawl, naming the URL; the rest are counted
    (stats ``steppe/faults/<kind>``), so that a storm of one fault stays one line."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.seen: set[str] = set()

    def __call__(self, kind: str, url: str, message: str, level: int = logging.WARNING) -> None:
        self.crawler.stats.inc_value(f"steppe/faults/{kind}")
        if kind in self.seen:
            return
        self.seen.add(kind)
        logger.log(level, "%s: %s", url, message)

    @classmethod
    def of(cls, crawler) -> FaultLog:
        """The crawl's one log, shared by every middleware."""
        if not hasattr(crawler, "_steppe_fault_log"):
            crawler._steppe_fault_log = cls(crawler)
        return crawler._steppe_fault_log


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
        self.write_error: OSError | None = None  # the disk is full: nothing more is written
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
            "source": spider.profile.name,
            # How the crawl reads pages: a rebuild of its files reads them the same way.
            # A layout learned at the crawl's start (ArchiveIngest, an extension: its
            # spider_opened runs before this middleware's) is already the profile's.
            **warcinfo_fields(spider.profile.layout),
            "http-header-user-agent": settings.get("USER_AGENT"),
            "robots": "obey" if settings.getbool("ROBOTSTXT_OBEY") else "ignore",
        })

        if self.db_path.exists():
            self.store = Store(self.db_path)

    def spider_closed(self, spider):
        if self.writer and self.write_error is None:
            self.writer.close()
        elif self.writer:
            self._close_after_write_error(spider)
        if self.store:
            self.store.close()

    def _close_after_write_error(self, spider) -> None:
        """The file being written may end in a torn record: cut it off, as the recovery
        of a killed crawl would, so that the file is closed whole."""
        try:
            self.writer.close()
        except OSError:
            pass  # flushing the torn record's bytes failed again; the file is closed all the same
        files = sorted(self.warc_dir.glob(f"steppe-{spider.crawl_id}-*.warc.gz*"))
        if files:
            last = files[-1]  # the one being written; the earlier ones were closed whole
            if not last.name.endswith(OPEN_SUFFIX):
                last = last.rename(last.with_name(last.name + OPEN_SUFFIX))
            final, cut = close_open_file(last)
            logger.warning("closed %s: %d bytes of a record the disk could not take cut off", final.name, cut)

    def _write_failed(self, url: str, error: OSError) -> None:
        """Out of space (ENOSPC, EFBIG, EDQUOT): stop the crawl, keep what is archived."""
        self.write_error = error
        self.crawler.stats.set_value("steppe/write_error", str(error))
        logger.error("%s: could not be written to the WARC file (%s): the disk is full; the crawl stops, "
                     "what is archived is kept, and the next crawl resumes once there is space",
                     url, error.strerror or error)
        deferred_from_coro(self.crawler.engine.close_spider_async(reason="disk_full"))

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
            # A body cut at a size limit (BodySizeLimit) says so in its record.
            truncated=request.meta.get(TRUNCATED),
            found_via=request.meta.get(FOUND_VIA),
        )
        if self.write_error is not None:
            raise IgnoreRequest(f"not archived: {self.write_error.strerror or self.write_error}")
        earlier = None if exchange.truncated else self._earlier(request.url, response.status, response.body)
        try:
            written = self.writer.write_exchange(exchange, revisit_of=earlier)
        except OSError as error:
            self._write_failed(request.url, error)
            raise IgnoreRequest(f"not archived: {error.strerror or error}") from error
        self.crawler.stats.inc_value("steppe/archived")
        if earlier:
            self.crawler.stats.inc_value("steppe/revisits")
        elif response.status == 200 and not exchange.truncated:
            self.written[(request.url, written.payload_digest)] = self.written[(request.url, "")] = written
        self.crawler.signals.send_catch_log(
            response_archived, request=request, response=response, location=written.location,
            warc_dir=self.warc_dir, original=earlier.location if earlier else None,
        )
        return response


def retry_after_seconds(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """Seconds asked for by a Retry-After header (delta-seconds or an HTTP date);
    None when there is none or it is neither (garbage)."""
    if not value:
        return None
    value = value.decode("latin-1") if isinstance(value, bytes) else value
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # RFC 9110: an HTTP date is GMT
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def _duration(seconds: float) -> str:
    return f"{seconds / 86400:.1f} days" if seconds >= 86400 else f"{seconds:.0f} s"


class RetryAfterMiddleware(RetryMiddleware):
    """Scrapy's RetryMiddleware, but a 429/503 waits what Retry-After asks (bounded).

    A wait longer than STEPPE_RETRY_AFTER_MAX (a server asking for a day, or a year)
    is not waited out: the page is given up for this crawl at once and reported, and
    the next crawl asks again. An unreadable Retry-After is reported once and the
    retry goes ahead as Scrapy's would.
    """

    def __init__(self, settings):
        super().__init__(settings)
        self.max_wait = settings.getfloat("STEPPE_RETRY_AFTER_MAX")

    @classmethod
    def from_crawler(cls, crawler):
        middleware = super().from_crawler(crawler)
        middleware.faults = FaultLog.of(crawler)
        return middleware

    async def process_response(self, request, response, spider=None):
        if request.meta.get("dont_retry") or response.status not in self.retry_http_codes:
            return response
        header = response.headers.get("Retry-After")
        wait = retry_after_seconds(header)
        if header and wait is None:
            self.faults("retry_after_unreadable", request.url,
                        f"HTTP {response.status} with an unreadable Retry-After {header.decode('latin-1')!r}: "
                        "retried without waiting")
        if wait is not None and wait > self.max_wait:
            self.faults("retry_after_too_long", request.url,
                        f"HTTP {response.status} asks to come back in {_duration(wait)}, more than "
                        f"STEPPE_RETRY_AFTER_MAX ({self.max_wait:g} s): given up for this crawl")
            return response
        retry = self._retry(request, response_status_message(response.status))
        if retry is None:
            return response
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
    a loop, reported as such (the duplicate filter would drop it without a word); and
    a redirect is refused, with a reason, when it leads off http(s) (``file:``,
    ``ftp:``, ``javascript:``: Scrapy would hand back the 3xx unexplained) or off the
    site (the offsite filter would drop it without a word). robots.txt may redirect
    across hosts, as RFC 9309 allows."""

    def process_response(self, request, response, spider=None):
        location = response.headers.get("Location")
        if location and 300 <= response.status < 400:
            target = urljoin(request.url, safe_url_string(location))
            chain = " → ".join([*request.meta.get("redirect_urls", []), request.url, target])
            scheme = urlsplit(target).scheme.lower()
            if scheme not in ("http", "https"):
                raise IgnoreRequest(f"redirect to a {scheme}: URL refused: {chain}")
            host = urlsplit(target).hostname or ""
            refusal = _literal_address_refusal(host)
            if refusal:
                raise IgnoreRequest(f"redirect refused before connecting: {refusal}: {chain}")
            domains = getattr(self.crawler.spider, "allowed_domains", None) or []
            if (domains and not request.meta.get("dont_obey_robotstxt")
                    and not any(host == domain or host.endswith("." + domain) for domain in domains)):
                raise IgnoreRequest(f"redirect to another host refused ({host} is not {', '.join(domains)}): {chain}")
        result = super().process_response(request, response)
        if isinstance(result, Request):
            chain = [*request.meta.get("redirect_urls", []), request.url]
            if canonical_url(result.url) in {canonical_url(url) for url in chain}:
                raise IgnoreRequest(f"redirect loop: {' → '.join([*chain, result.url])}")
        return result


# Private addresses ----------------------------------------------------------------------

def address_refusal(address: str, *, loopback_ok: bool) -> str | None:
    """Why a crawl must not connect to ``address``, or None when it may.

    Public (globally routable) addresses are open. Loopback is open only to a crawl
    whose start URL is itself loopback (the demo site, the tests). Everything else
    (10/8, 172.16/12, 192.168/16, 169.254/16 link-local, fc00::/7, fe80::/10,
    the other reserved ranges) is closed: a page on the web must not make the crawler
    reach into the network it runs in."""
    ip = ipaddress.ip_address(address.strip("[]").split("%", 1)[0])
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return None if loopback_ok else f"{address} is a loopback address and the crawl's start URL is not"
    if ip.is_global:
        return None
    kind = "link-local" if ip.is_link_local else "private" if ip.is_private else "non-public"
    return f"{address} is a {kind} address"


def _literal_address_refusal(host: str) -> str | None:
    """For a host that is an IP address: why this crawl must not reach it, if so."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None
    return GuardedResolver.policy.refusal(host, host)


class PrivateAddressRefused(Exception):
    """A host name that resolves to an address the crawl must not reach."""


class AddressPolicy:
    """Which addresses this crawl may connect to (see ``address_refusal``), plus the
    host names STEPPE_PRIVATE_HOSTS opens whatever they resolve to (an intranet mirror)."""

    def __init__(self, loopback_ok: bool = False, open_hosts: frozenset[str] = frozenset()):
        self.loopback_ok = loopback_ok
        self.open_hosts = open_hosts

    def refusal(self, host: str, address: str) -> str | None:
        if host.lower() in self.open_hosts:
            return None
        return address_refusal(address, loopback_ok=self.loopback_ok)


class GuardedResolver(CachingThreadedResolver):
    """Scrapy's caching resolver that never hands a forbidden address to a connection.

    Set as TWISTED_DNS_RESOLVER. ``PrivateAddressGuard`` refuses such requests
    before they are sent, with a message; this is the backstop under it, for a name
    whose answer changes between the check and the connection (DNS rebinding).
    STEPPE_RESOLVE answers chosen names without DNS, like ``curl --resolve``.
    """

    policy = AddressPolicy()  # the strictest, until the crawl's spider opens

    fixed: dict[str, str] = {}

    @classmethod
    def from_crawler(cls, crawler, reactor):
        resolver = super().from_crawler(crawler, reactor)
        resolver.fixed = {name.lower(): address for name, address in
                          crawler.settings.getdict("STEPPE_RESOLVE").items()}
        return resolver

    def getHostByName(self, name, timeout=()):
        fixed = self.fixed.get(name.lower())
        answer = defer.succeed(fixed) if fixed else super().getHostByName(name, timeout)
        return answer.addCallback(self._checked, name)

    def _checked(self, address: str, name: str) -> str:
        refusal = GuardedResolver.policy.refusal(name, address)
        if refusal:
            raise PrivateAddressRefused(f"{name} resolves to {address}; {refusal}")
        return address


class PrivateAddressGuard:
    """Refuses, before any connection, a request whose host is or resolves to an
    address the crawl must not reach (``address_refusal``), and any URL that is not
    http(s). Whatever led to the request (a link, a redirect, a sitemap, robots.txt's
    Sitemap lines) it passes here: this sits first in the downloader chain, ahead of
    the robots.txt middleware, which would otherwise fetch the host's robots.txt.

    A host name is resolved here, through the crawl's resolver (GuardedResolver,
    whose cache the connection then uses), and its answer checked: so a DNS answer
    is refused with a message naming the URL, and GuardedResolver refuses it again
    should the connection resolve anew. The policy is the crawl's: it opens loopback
    when the spider's start URL is loopback. Tests reach "a public host" on loopback
    by naming it in STEPPE_RESOLVE (a made-up name answered with 127.0.0.1), which
    then must be, and is, refused."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.open_hosts = frozenset(host.lower() for host in crawler.settings.getlist("STEPPE_PRIVATE_HOSTS"))
        self.policy = AddressPolicy(open_hosts=self.open_hosts)
        self.faults = FaultLog.of(crawler)
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def spider_opened(self, spider):
        profile = getattr(spider, "profile", None)
        self.policy = AddressPolicy(bool(profile and profile.is_loopback), self.open_hosts)
        GuardedResolver.policy = self.policy

    async def refusal(self, request) -> str | None:
        parts = urlparse_cached(request)
        if parts.scheme not in ("http", "https"):
            return "not an http(s) URL"
        host = parts.hostname or ""
        if host.lower() in self.open_hosts:
            return None
        try:
            ipaddress.ip_address(host)
            address = host
        except ValueError:
            from twisted.internet import reactor
            try:
                address = await maybe_deferred_to_future(reactor.resolve(host))
            except PrivateAddressRefused as refused:
                return str(refused)
            except Exception:
                return None  # not resolvable: the download reports it ("host not found")
        refusal = self.policy.refusal(host, address)
        if refusal and address != host:
            refusal = f"{host} resolves to {address}; {refusal}"
        return refusal

    async def process_request(self, request, spider=None):
        refusal = await self.refusal(request)
        if refusal:
            self.faults("private_address", request.url, f"refused before connecting: {refusal}")
            raise IgnoreRequest(f"refused before connecting: {refusal}")
        return None


# Bounded memory --------------------------------------------------------------------------

class BodySizeLimit:
    """Cuts a body at a size limit (give or take the last chunk read) and lets the
    response go on, marked truncated. Only signal handlers: its place in the
    downloader chain does not matter.

    Scrapy's own DOWNLOAD_MAXSIZE drops an oversized response whole; this keeps the
    first bytes, which WarcCaptureMiddleware archives with ``WARC-Truncated: length``
    (a page's article is at its start). The limit is STEPPE_ROBOTS_MAX_SIZE for
    robots.txt (RFC 9309: at least 500 KiB), STEPPE_SITEMAP_MAX_SIZE for XML
    (sitemaps) and STEPPE_MAX_BODY_SIZE for anything else. Uses Scrapy's
    headers_received/bytes_received signals and StopDownload(fail=False)."""

    def __init__(self, crawler):
        settings = crawler.settings
        self.body_max = settings.getint("STEPPE_MAX_BODY_SIZE")
        self.xml_max = settings.getint("STEPPE_SITEMAP_MAX_SIZE")
        self.robots_max = settings.getint("STEPPE_ROBOTS_MAX_SIZE")
        self.faults = FaultLog.of(crawler)
        crawler.signals.connect(self.headers_received, signal=signals.headers_received)
        crawler.signals.connect(self.bytes_received, signal=signals.bytes_received)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def limit(self, request, headers) -> tuple[int, str]:
        if request.meta.get("dont_obey_robotstxt") and urlparse_cached(request).path == "/robots.txt":
            return self.robots_max, "STEPPE_ROBOTS_MAX_SIZE"
        content_type = (headers.get(b"Content-Type") or b"").split(b";")[0].strip().lower()
        if content_type.endswith(b"xml") or urlparse_cached(request).path.endswith(".xml"):
            return self.xml_max, "STEPPE_SITEMAP_MAX_SIZE"
        return self.body_max, "STEPPE_MAX_BODY_SIZE"

    def headers_received(self, headers, body_length, request, spider=None):
        request.meta["steppe_body_limit"] = self.limit(request, headers)
        request.meta["steppe_body_bytes"] = 0

    def bytes_received(self, data, request, spider=None):
        received = request.meta["steppe_body_bytes"] = request.meta.get("steppe_body_bytes", 0) + len(data)
        limit, setting = request.meta.get("steppe_body_limit", (self.body_max, "STEPPE_MAX_BODY_SIZE"))
        if limit and received > limit:
            request.meta[TRUNCATED] = "length"
            self.faults(f"truncated_{setting}", request.url,
                        f"body larger than {setting} ({limit} bytes): archived truncated (WARC-Truncated: length)")
            raise StopDownload(fail=False)


class UndecodableBody(Exception):
    """A body that is not in the Content-Encoding its headers claim."""


class CompressionBomb(Exception):
    """A body that inflates past STEPPE_MAX_DECODED_SIZE."""


class BoundedHttpCompressionMiddleware(HttpCompressionMiddleware):
    """Scrapy's HttpCompressionMiddleware, bounded by STEPPE_MAX_DECODED_SIZE rather than
    DOWNLOAD_MAXSIZE (which the wire no longer needs, see BodySizeLimit), and clear
    about bodies that do not decode: a compression bomb stops at the limit, a corrupt
    or falsely labelled body is reported. Either way the body is archived as sent."""

    # Not br or zstd, which Scrapy would ask for: warcio (1.8, the reader of `warcio
    # check`, cdxj-indexer and pywb) cannot decode br with Google's brotli module
    # (webrecorder/warcio#73), and an archive is only as good as its readers.
    ACCEPT_ENCODING = b"gzip, deflate"

    def __init__(self, stats=None, *, crawler=None):
        super().__init__(stats, crawler=crawler)
        self.setting_max = crawler.settings.getint("STEPPE_MAX_DECODED_SIZE")
        self._max_size = self.setting_max

    def process_request(self, request, spider=None):
        request.headers.setdefault("Accept-Encoding", self.ACCEPT_ENCODING)

    def open_spider(self, spider=None):
        self._max_size = self.setting_max

    def _decode(self, body, encoding, max_size):
        try:
            return super()._decode(body, encoding, max_size)
        except _DecompressionMaxSizeExceeded as exc:
            # Not Scrapy's own handling, whose warning names DOWNLOAD_MAXSIZE.
            raise CompressionBomb(exc.decompressed_size) from exc
        except Exception as exc:  # zlib, gzip, brotli and zstd errors alike
            raise UndecodableBody(f"{encoding.decode()}: {exc}") from exc

    def process_response(self, request, response, spider=None):
        try:
            return super().process_response(request, response)
        except UndecodableBody as exc:
            raise IgnoreRequest(f"body does not decode as its Content-Encoding says ({exc}); "
                                "archived as sent") from exc
        except CompressionBomb as exc:
            raise IgnoreRequest(f"body inflates past STEPPE_MAX_DECODED_SIZE ({self._max_size} bytes), "
                                "a compression bomb: archived as sent, not read") from exc


# Faults of the wire ------------------------------------------------------------------------

class ConnectionCut(Exception):
    """The server closed or reset the connection before the response was complete."""


class CutConnectionReport:
    """Puts a connection cut before the end of a response into words, once the retries
    are spent (Twisted's failures say little).

    Scrapy raises ResponseDataLossError for a body cut short. A cut before the end of
    the headers reaches here as Twisted's ResponseFailed in Scrapy's DownloadFailedError,
    which wraps other failures too (a refused TLS handshake): only a closed connection
    is put so."""

    def process_exception(self, request, exception, spider=None):
        cause = exception.__cause__ if isinstance(exception, DownloadFailedError) else exception
        closed = isinstance(cause, (ResponseDataLossError, ConnectionClosed)) or (
            isinstance(cause, ResponseFailed) and all(r.check(ConnectionClosed, _DataLoss) for r in cause.reasons))
        if closed:
            raise ConnectionCut("the connection was closed or reset before the response was complete "
                                "(nothing archived)") from exception
        return None


class RobotsTxtRfc9309Middleware(RobotsTxtMiddleware):
    """Scrapy's RobotsTxtMiddleware, read the way RFC 9309 (section 2.3.1) says:

    - 2xx: the rules, of which the first STEPPE_ROBOTS_MAX_SIZE bytes are read
      (BodySizeLimit cuts the rest; the RFC asks for at least 500 KiB);
    - 4xx ("unavailable"): no rules, everything allowed;
    - 5xx, or no answer at all ("unreachable"): everything disallowed, for this crawl;
      the next crawl asks again.

    Scrapy itself parses the body of any answer, a 503's error page included, and
    allows everything when robots.txt cannot be fetched. Also: one clear line per
    host instead of a traceback."""

    DISALLOW_ALL = b"User-agent: *\nDisallow: /\n"

    def __init__(self, crawler):
        super().__init__(crawler)
        self.faults = FaultLog.of(crawler)
        self.unreachable: dict[str, str] = {}  # netloc → what its robots.txt did

    def process_request_2(self, rp, request):
        netloc = urlparse_cached(request).netloc
        if netloc in self.unreachable:
            # Worded without "robots.txt", which the spider counts silently as a rule
            # of the site: this is a failure, to be listed as one.
            raise IgnoreRequest(f"not fetched: the robots rules of {netloc} {self.unreachable[netloc]}, "
                                "which RFC 9309 reads as disallowing everything")
        super().process_request_2(rp, request)

    async def robot_parser(self, request):
        netloc = urlparse_cached(request).netloc
        if netloc not in self._parsers:
            self._parsers[netloc] = defer.Deferred()
            parts = urlparse_cached(request)
            robots = Request(f"{parts.scheme}://{netloc}/robots.txt", priority=self.DOWNLOAD_PRIORITY,
                             meta={"dont_obey_robotstxt": True}, callback=NO_CALLBACK)
            try:
                response = await self.crawler.engine.download_async(robots)
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                self._settle(netloc, robots.url, f"could not be fetched ({reason})")
            else:
                await self._parse_robots(response, netloc, request)
            self._stats.inc_value("robotstxt/request_count")
        parser = self._parsers[netloc]
        if isinstance(parser, defer.Deferred):
            return await maybe_deferred_to_future(parser)
        return parser

    async def _parse_robots(self, response, netloc, request):
        self._stats.inc_value("robotstxt/response_count")
        self._stats.inc_value(f"robotstxt/response_status_count/{response.status}")
        if response.status >= 500:
            self._settle(netloc, response.url, f"answered HTTP {response.status}")
            return
        body = b"" if 400 <= response.status < 500 else response.body
        parser = build_from_crawler(self._parserimpl, self.crawler, body)
        await self.crawler.signals.send_catch_log_async(signal=signals.robots_parsed, robotparser=parser,
                                                        request=request)
        self._resolve(netloc, parser)

    def _settle(self, netloc: str, url: str, what: str) -> None:
        """robots.txt unreachable: disallow the whole host for this crawl, and say so."""
        self.unreachable[netloc] = what
        self.faults(f"robots_unreachable_{netloc}", url,
                    f"robots.txt {what}: RFC 9309 reads that as \"disallow everything\"; "
                    f"nothing is fetched from {netloc} in this crawl", logging.ERROR)
        self._resolve(netloc, build_from_crawler(self._parserimpl, self.crawler, self.DISALLOW_ALL))

    def _resolve(self, netloc, parser):
        waiting = self._parsers[netloc]
        self._parsers[netloc] = parser
        if isinstance(waiting, defer.Deferred):
            waiting.callback(parser)


class XmlReport:
    """Says what is wrong with an XML body (a sitemap) that the sitemap reader, lenient
    by design (lxml's recover mode, entities never expanded), would read without a
    word: malformed XML, and entity declarations (the "billion laughs" bomb)."""

    def __init__(self, crawler):
        self.faults = FaultLog.of(crawler)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_response(self, request, response, spider=None):
        content_type = (response.headers.get(b"Content-Type") or b"").split(b";")[0].strip().lower()
        if response.status != 200 or not content_type.endswith(b"xml") or request.meta.get(TRUNCATED):
            return response
        if b"<!ENTITY" in response.body[:65536]:
            self.faults("xml_entities", request.url, "XML that declares entities (an entity bomb?): "
                        "read without expanding them")
            return response
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
        try:
            etree.fromstring(response.body, parser)
        except etree.XMLSyntaxError as exc:
            self.faults("xml_malformed", request.url, f"malformed XML ({exc}): read what could be read")
        return response


class RepeatGuard:
    """Refuses a URL asked for more than STEPPE_MAX_FETCHES_PER_URL times in one crawl
    (retries and redirects not counted). Requests that bypass Scrapy's duplicate
    filter (sitemaps, re-reads of the listing) could otherwise loop forever, e.g. on
    a sitemap index that lists itself."""

    def __init__(self, crawler):
        self.max_fetches = crawler.settings.getint("STEPPE_MAX_FETCHES_PER_URL")
        self.fetches: dict[str, int] = {}

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_request(self, request, spider=None):
        if request.meta.get("retry_times") or request.meta.get("redirect_urls"):
            return None
        url = canonical_url(request.url)
        self.fetches[url] = count = self.fetches.get(url, 0) + 1
        if self.max_fetches and count > self.max_fetches:
            raise IgnoreRequest(f"asked for the {count}th time in this crawl (STEPPE_MAX_FETCHES_PER_URL is "
                                f"{self.max_fetches}): a loop, e.g. a sitemap index that lists itself")
        return None


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
