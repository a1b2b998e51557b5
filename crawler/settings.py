"""Scrapy settings of steppe: polite by default. Every STEPPE_* setting is documented here.

``steppe crawl`` and ``scrapy crawl central_asia`` both load this module.
"""

import os
from pathlib import Path

from archive import __version__

BOT_NAME = "steppe"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"



def user_agent(contact: str | None = None) -> str:
    """Who we are: site operators should be able to tell, and to reach whoever crawls."""
    return f"steppe/{__version__} (+{contact})" if contact else f"steppe/{__version__} (web archiving crawler)"


def archive_paths(settings) -> tuple[Path, Path]:
    """(WARC folder, database file) that these settings name."""
    data_dir = Path(settings["STEPPE_DATA_DIR"])
    return (Path(settings.get("STEPPE_WARC_DIR") or data_dir / "warcs"),
            Path(settings.get("STEPPE_DB_PATH") or data_dir / "archive.db"))


# `steppe crawl --contact URL-or-email` sets it with your contact in it.
USER_AGENT = user_agent()

# Politeness.
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 1
DOWNLOAD_DELAY = 1.0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
DOWNLOAD_TIMEOUT = 30
RETRY_TIMES = 3
REDIRECT_MAX_TIMES = 5
# Callbacks yield a few requests and no items: Scrapy's default of 100 parallel
# slots per response costs more to set up than the work it schedules.
CONCURRENT_ITEMS = 8
COOKIES_ENABLED = False  # an archive of what anyone sees, not of a session
TELNETCONSOLE_ENABLED = False

DOWNLOADER_MIDDLEWARES = {
    # First: no request reaches a private address, nor the robots.txt middleware's fetch.
    "crawler.middlewares.PrivateAddressGuard": 40,
    "crawler.middlewares.RepeatGuard": 45,
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.middlewares.RobotsTxtRfc9309Middleware": 100,
    "crawler.middlewares.CutConnectionReport": 540,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.middlewares.RetryAfterMiddleware": 550,
    "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware": None,
    "crawler.middlewares.BoundedHttpCompressionMiddleware": 590,
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
    "crawler.middlewares.XmlReport": 580,  # below 590: sees bodies decoded
    "crawler.middlewares.LoopAwareRedirectMiddleware": 600,
    # After robots.txt (100) has refused what is not ours, before the WARC writer.
    "crawler.middlewares.PageBudgetMiddleware": 940,
    "crawler.middlewares.WarcCaptureMiddleware": 950,
    "crawler.middlewares.BodySizeLimit": 960,
}
# Every host name is resolved through this: it never gives a connection a private,
# link-local or (unless the start URL is loopback) loopback address.
TWISTED_DNS_RESOLVER = "crawler.middlewares.GuardedResolver"
EXTENSIONS = {
    "crawler.extensions.ArchiveIngest": 500,
    "crawler.extensions.ProgressReport": 510,
}

# Where the archive goes: DATA_DIR/warcs/*.warc.gz and DATA_DIR/archive.db.
STEPPE_DATA_DIR = "data"
# Override one of the two places alone (empty: under STEPPE_DATA_DIR).
STEPPE_WARC_DIR = ""
STEPPE_DB_PATH = ""
# Set by `steppe worker`: several processes write into the data directory at once,
# each WARC files of its own; none takes it alone or recovers another's open file.
STEPPE_SHARED_DATA_DIR = False
# A WARC file is closed and a new one started past this size (bytes).
STEPPE_WARC_MAX_SIZE = 10**9
# Longest wait a Retry-After header may ask of us (seconds); longer asks wait this long.
STEPPE_RETRY_AFTER_MAX = 120.0
# No delays and full concurrency, refused unless the target is on 127.0.0.0/8.
STEPPE_NO_DELAY = False
# Processes that read archived pages back and extract articles while the crawl goes
# on; 0 reads them in the crawl's own process. Default: one per CPU core but the one
# the crawl itself keeps busy.
STEPPE_INGEST_WORKERS = max(1, (os.cpu_count() or 1) - 1)
# Incremental crawls (a data directory that already holds articles):
# fetch every listing page and every article again, as on a first crawl;
STEPPE_FULL = False
# stop paginating after this many known articles in a row (0: one listing page's worth);
STEPPE_KNOWN_MARGIN = 0
# Read at most this many pages of a section's listing in a run (0: no bound): pagination
# that never ends (a calendar, a filter that keeps adding parameters) stops there.
STEPPE_MAX_LISTING_PAGES = 2000
# fetch again the known articles published less than this many days ago.
STEPPE_REVALIDATE_DAYS = 7.0
# Send at most this many requests in a run (`--max-pages`), so archive at most this
# many responses; 0: no bound. What the run found and did not fetch stays owed.
STEPPE_MAX_PAGES = 0
# A crawl that has run this many seconds reads the listing's first page again before
# it ends, for what was published meanwhile.
STEPPE_RELIST_AFTER = 300.0
# Hostile servers. A crawl of a public site never connects to a private (10/8,
# 172.16/12, 192.168/16, fc00::/7), link-local (169.254/16, fe80::/10) or other
# non-public address, whether a link, a redirect, a sitemap or a DNS answer leads
# there; loopback is open only when the start URL is itself loopback.
# Host names opened anyway, whatever they resolve to (e.g. ["mirror.intranet"]).
STEPPE_PRIVATE_HOSTS: list[str] = []
# Names answered without DNS, as curl --resolve does: {"name": "address"}.
STEPPE_RESOLVE: dict[str, str] = {}
# Bodies are cut at these sizes (bytes) and archived truncated, with WARC-Truncated:
# length: robots.txt (RFC 9309 asks to read at least 500 KiB), XML (sitemaps: Yoast
# splits them at 1,000 entries, about 200 KB) and anything else (an article page
# weighs about 200 KB). Each is parsed whole, in memory, so these bound memory. Scrapy's DOWNLOAD_MAXSIZE, which drops a response whole, is off.
STEPPE_ROBOTS_MAX_SIZE = 500 * 1024
STEPPE_SITEMAP_MAX_SIZE = 10 * 2**20
STEPPE_MAX_BODY_SIZE = 8 * 2**20
DOWNLOAD_MAXSIZE = 0
DOWNLOAD_WARNSIZE = 0
# A Content-Encoded body that inflates past this (bytes) is a compression bomb: it
# is archived as sent and not read further.
STEPPE_MAX_DECODED_SIZE = 16 * 2**20
# A URL asked for more often than this in one crawl (retries and redirects aside) is
# a loop, e.g. a sitemap index that lists itself; 0: no limit.
STEPPE_MAX_FETCHES_PER_URL = 3
# Parse depth needs no setting: libxml2, under Scrapy's selectors, trafilatura and
# the sitemap reader, stops nesting at 256 levels (2048 with huge_tree), and the
# sitemap reader never expands XML entities.

# Seconds between progress lines on stderr; 0 turns them off.
STEPPE_PROGRESS_INTERVAL = 0.0
# What a progress line starts with: the source's name when a run crawls several.
STEPPE_PROGRESS_LABEL = ""

LOG_LEVEL = "INFO"
FEED_EXPORT_ENCODING = "utf-8"
