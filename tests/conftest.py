"""Shared fixtures: real WARC files, a real demo site on loopback, a real crawl."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlite_utils

from archive.warc import HttpExchange, WarcWriter, iter_responses

WARCIO = Path(sys.executable).with_name("warcio")


def warcio(*args: str) -> subprocess.CompletedProcess:
    """The real warcio command line, as a user would run it."""
    return subprocess.run([str(WARCIO), *args], capture_output=True, text=True, timeout=120)


def steppe(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """The real `steppe` command, in its own process (Twisted's reactor runs once per process)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "crawler.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=env)


def html_exchange(url: str, html: str, *, at: datetime | None = None, status: int = 200,
                  headers: list[tuple[str, str]] | None = None) -> HttpExchange:
    body = html.encode("utf-8")
    return HttpExchange(
        url=url, sent_at=at or datetime.now(timezone.utc), method="GET", request_headers=[("User-Agent", "test")],
        status=status, body=body,
        response_headers=headers or [("Content-Type", "text/html; charset=UTF-8"), ("Content-Length", str(len(body)))],
    )


@pytest.fixture
def write_warc(tmp_path):
    """Write exchanges to a real WARC file; get back the records as read from it."""
    counter = iter(range(10**6))

    def write(exchanges: list[HttpExchange], crawl_id: str = "test-crawl"):
        directory = tmp_path / "warcs"
        with WarcWriter(directory, f"steppe-{crawl_id}-{next(counter)}", info={"crawl-id": crawl_id}) as writer:
            for exchange in exchanges:
                writer.write_exchange(exchange)
        return [record for path in writer.closed_files for record in iter_responses(path)]

    return write


def minutes_ago(n: int) -> datetime:
    return datetime.now(timezone.utc) - timedelta(minutes=n)


@dataclass
class FixtureCrawl:
    """One real crawl of the demo site, and everything the tests look at afterwards."""

    site: object             # crawler.demo_site.DemoSite
    base: str
    requests: list           # the demo server's request log
    result: subprocess.CompletedProcess
    data_dir: Path

    @property
    def db(self) -> sqlite_utils.Database:
        return sqlite_utils.Database(self.data_dir / "archive.db")

    @property
    def warc_files(self) -> list[Path]:
        return sorted((self.data_dir / "warcs").glob("*.warc.gz"))

    def article_row(self, article) -> dict | None:
        return next(self.db["articles"].rows_where("url = ?", [self.base + article.path]), None)

    def requested(self, path: str) -> list:
        return [entry for entry in self.requests if entry.path.split("?")[0] == path]


@pytest.fixture(scope="session")
def fixture_crawl(tmp_path_factory) -> FixtureCrawl:
    """`steppe crawl --no-delay` of a 40-article demo site, as a user runs it."""
    from crawler.demo_site import DemoSite, serve_site

    site = DemoSite.build(n_articles=40, seed=1)
    data_dir = tmp_path_factory.mktemp("crawl") / "data"
    with serve_site(site, hang_seconds=4) as server:
        result = steppe("crawl", "--no-delay", "--start-url", server.section_url, "--data-dir", str(data_dir),
                        "-s", "DOWNLOAD_TIMEOUT=2", "-s", "RETRY_TIMES=1")
        requests = server.requests
    return FixtureCrawl(site, server.url, requests, result, data_dir)


# Crawl options of tests that crawl a data directory more than once.
RECRAWL_OPTIONS = ["--no-delay", "-s", "DOWNLOAD_TIMEOUT=2", "-s", "RETRY_TIMES=1", "-s", "STEPPE_REVALIDATE_DAYS=0"]


@dataclass
class CrawlHistory:
    data_dir: Path
    site: object  # the demo site as it stands after the last crawl


@pytest.fixture(scope="session")
def four_crawls(tmp_path_factory) -> CrawlHistory:
    """One data directory crawled four times: a first crawl; everything fetched again
    (robots.txt becomes an identical-payload revisit); the site's next epoch (new,
    edited, renamed, removed articles); unchanged (the sitemap index answers 304)."""
    from crawler.demo_site import DemoSite, serve_site

    site = DemoSite.build(n_articles=24, seed=11)
    data_dir = tmp_path_factory.mktemp("four-crawls") / "data"
    with serve_site(site, hang_seconds=0.5) as server:
        def crawl(*extra):
            result = steppe("crawl", "--start-url", server.section_url, "--data-dir", str(data_dir),
                            *RECRAWL_OPTIONS, *extra)
            assert result.returncode == 0, result.stdout + result.stderr

        crawl()
        crawl("-s", "STEPPE_REVALIDATE_DAYS=100000")
        server.site = site.next_epoch(new=2, edit=1, rename=1, remove=1)
        crawl()
        crawl()
        return CrawlHistory(data_dir, server.site)


def readable(site) -> set[str]:
    """Paths of the demo site's articles a crawl can store when nothing times out."""
    return {a.path for a in site.articles if a.behaviour not in ("empty_body", "redirect_loop")}


def start_crawl(server, data_dir: Path, *extra: str) -> subprocess.Popen:
    """`steppe crawl` of a demo site, in the background: to be stopped by the test."""
    return subprocess.Popen([sys.executable, "-m", "crawler.cli", "crawl", "--start-url", server.section_url,
                             "--data-dir", str(data_dir), *RECRAWL_OPTIONS, *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
