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
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.middlewares.RetryAfterMiddleware": 550,
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
    "crawler.middlewares.LoopAwareRedirectMiddleware": 600,
    # After robots.txt (100) has refused what is not ours, before the WARC writer.
    "crawler.middlewares.PageBudgetMiddleware": 940,
    "crawler.middlewares.WarcCaptureMiddleware": 950,
}
EXTENSIONS = {
    "crawler.extensions.ArchiveIngest": 500,
    "crawler.extensions.ProgressReport": 510,
}

# Where the archive goes: DATA_DIR/warcs/*.warc.gz and DATA_DIR/archive.db.
STEPPE_DATA_DIR = "data"
# Override one of the two places alone (empty: under STEPPE_DATA_DIR).
STEPPE_WARC_DIR = ""
STEPPE_DB_PATH = ""
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
# fetch again the known articles published less than this many days ago.
STEPPE_REVALIDATE_DAYS = 7.0
# Send at most this many requests in a run (`--max-pages`), so archive at most this
# many responses; 0: no bound. What the run found and did not fetch stays owed.
STEPPE_MAX_PAGES = 0
# A crawl that has run this many seconds reads the listing's first page again before
# it ends, for what was published meanwhile.
STEPPE_RELIST_AFTER = 300.0
# Seconds between progress lines on stderr; 0 turns them off.
STEPPE_PROGRESS_INTERVAL = 0.0

LOG_LEVEL = "INFO"
FEED_EXPORT_ENCODING = "utf-8"
