"""Any news section from its URL alone: real crawls of the fixture platforms (WordPress
block theme, Drupal 10, Ghost), with no code or selectors for any of them.

Each platform serves the section beside other sections and the traps real sites have
(date archives, calendars, facets, tag and author archives, related posts, AMP twins,
print views, comment and share links, a robots-disallowed path)."""
from __future__ import annotations

import json
import re
from collections import Counter
from urllib.parse import urlsplit

import pytest
import sqlite_utils

from archive.urls import canonical_url
from crawler.demo_site.platforms import PLATFORMS, serve_platform

from conftest import steppe


def words(text: str) -> Counter:
    return Counter(re.findall(r"\w+", text.casefold()))


def f1(got: str, expected: str) -> float:
    a, b = words(got), words(expected)
    common = sum((a & b).values())
    return 2 * common / (sum(a.values()) + sum(b.values())) if common else 0.0


def crawl(server, data_dir):
    result = steppe("crawl", "--start-url", server.section_url, "--data-dir", str(data_dir), "--no-delay")
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module", params=sorted(PLATFORMS))
def crawled(request, tmp_path_factory):
    platform = PLATFORMS[request.param]()
    data_dir = tmp_path_factory.mktemp(request.param)
    with serve_platform(platform) as server:
        crawl(server, data_dir)
        first = [e.path for e in server.requests]
        server.clear_requests()
        crawl(server, data_dir)
        again = [e.path for e in server.requests]
        yield platform, server, data_dir, first, again


def test_the_section_and_nothing_else_is_archived_exactly(crawled):
    platform, server, data_dir, _, _ = crawled
    truth = {canonical_url(t.url): t for t in platform.truth(server.url)}
    db = sqlite_utils.Database(data_dir / "archive.db")
    rows = {row["url"]: row for row in db["articles"].rows}
    assert set(rows) == set(truth)  # recall 1.0, and no row of another section
    for url, expected in truth.items():
        row = rows[url]
        assert (row["title"], json.loads(row["authors"]), row["published"], row["modified"]) == (
            expected.title, list(expected.authors), expected.published.isoformat(), expected.modified.isoformat()), url
        assert f1(row["text"], expected.text) >= 0.98, url
    # Listing pages are captures of kind listing, never articles.
    listings = {row["url"] for row in db.query("select url from captures where kind = 'listing'")}
    assert listings == {canonical_url(u) for u in platform.listing_urls(server.url)}


def test_no_trap_no_variant_no_disallowed_path_and_few_requests(crawled):
    platform, server, _, first, _ = crawled
    truth = [canonical_url(t.url) for t in platform.truth(server.url)]
    pages = [canonical_url(u) for u in platform.listing_urls(server.url)]

    def path(url: str) -> str:
        parts = urlsplit(url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    sitemaps = [p for p in first if "sitemap" in p]
    allowed = {"/robots.txt", *sitemaps, *map(path, pages), *map(path, truth)}
    if not platform.walkable:
        # Read from article to article: a "read next" of another section is fetched to be
        # told so, then kept as a capture only (no row: the test above).
        allowed |= set(map(path, platform.off_section_urls(server.url)))
    assert set(first) <= allowed, set(first) - allowed
    assert len(first) <= 1.1 * (len(pages) + len(truth) + 1 + len(sitemaps))


def test_a_recrawl_of_an_unchanged_section_reads_one_listing_page(crawled):
    platform, server, _, _, again = crawled
    listing = {urlsplit(canonical_url(u)).path for u in platform.listing_urls(server.url)}
    assert [p for p in again if urlsplit(p).path in listing] == [urlsplit(server.section_url).path]
    assert len([p for p in again if "sitemap" not in p and p != "/robots.txt"]) <= 1 + 5  # + young articles revalidated


def test_a_rebuild_reads_the_pages_as_the_crawl_did(crawled, tmp_path):
    _, _, data_dir, _, _ = crawled
    rebuilt = tmp_path / "rebuilt.db"
    result = steppe("rebuild", str(data_dir / "warcs"), "--db", str(rebuilt))
    assert result.returncode == 0, result.stderr
    query = "select url, title, authors, published, modified, text_hash from articles order by url"
    assert (list(sqlite_utils.Database(rebuilt).query(query))
            == list(sqlite_utils.Database(data_dir / "archive.db").query(query)))
    sources = "select source, count(*) from article_sources group by source"
    assert list(sqlite_utils.Database(rebuilt).query(sources)) == list(
        sqlite_utils.Database(data_dir / "archive.db").query(sources))
