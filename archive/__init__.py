"""The archive side of steppe: WARC files are the source of truth, SQLite is derived.

Nothing in this package imports Scrapy or ``crawler``: a rebuild from WARC files needs
no crawler.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("steppe")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
