"""A host's layout learned from its archived pages, in real crawls of the fixture
platforms: the first crawl reads generically, the next one learns from what the first
archived, records the layout, reads its new pages with it, and a rebuild from the WARC
files alone reads them the same way."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlite_utils

from archive.extract import read_page
from archive.layouts import GENERIC, PageLayout
from archive.learn import MIN_PAGES
from archive.urls import canonical_url
from archive.warc import read_warcinfo
from crawler.demo_site.platforms import PLATFORMS, PlatformServer
from crawler.demo_site.platforms.newsroom import body_html

from conftest import steppe
from test_any_site import f1


APPEAL = "Support independent reporting on Central Asia: become a member of our newsroom today."


class HostServer(PlatformServer):
    """A platform whose articles end with the same membership appeal, inside their text
    as on many real sites (the host's template, which a generic reading keeps), and
    whose one page ``redesigned`` has a new theme: every class and id renamed, as a
    site's redesign would, so that no learned selector finds anything."""

    redesigned: str | None = None

    def __init__(self, platform):
        super().__init__(platform)
        self.stories = {platform.article_path(story): story for story in platform.news.stories}

    def respond(self, method, raw_path, headers):
        response = super().respond(method, raw_path, headers)
        story = self.stories.get(raw_path)
        if story is None or response.status != 200:
            return response
        body = response.body.decode("utf-8").replace(body_html(story), f"{body_html(story)}<p>{APPEAL}</p>\n")
        if raw_path == self.redesigned:
            body = re.sub(r'\b(class|id)="([^"]*)"', lambda m: f'{m[1]}="{" ".join("v2-" + n for n in m[2].split())}"',
                          body)
        return replace(response, body=body.encode("utf-8"))


def crawl(server, data_dir, *options):
    result = steppe("crawl", "--start-url", server.section_url, "--data-dir", str(data_dir), "--no-delay", *options)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def versions(db) -> dict[str, int]:
    return dict(db.execute("select a.url, count(*) from article_versions v join articles a on a.id = v.article_id"
                           " group by a.url").fetchall())


@dataclass
class Crawls:
    """Three crawls of one platform into one data directory."""

    platform: object
    server: HostServer
    data_dir: Path
    first: dict[str, int]   # versions of each article after the first crawl (generic)
    second: dict[str, int]  # after the second (learned)
    redesigned: object      # the TruthArticle of the page that does not fit
    again: list[str]        # paths the third crawl requested


@pytest.fixture(scope="module", params=sorted(PLATFORMS))
def learned(request, tmp_path_factory):
    platform = PLATFORMS[request.param]()
    data_dir = tmp_path_factory.mktemp(request.param)
    server = HostServer(platform).start()
    try:
        # The first crawl reads a few articles (after robots.txt, sitemaps, the listing): the newest.
        crawl(server, data_dir, "--max-pages", "12")
        db = sqlite_utils.Database(data_dir / "archive.db")
        first = versions(db)
        truth = platform.truth(server.url)
        redesigned = truth[-1]  # the oldest: not among the first crawl's
        server.redesigned = redesigned.url.removeprefix(server.url)
        crawl(server, data_dir)
        second = versions(db)
        server.clear_requests()
        crawl(server, data_dir, "-s", "STEPPE_REVALIDATE_DAYS=100000")  # every article fetched again
        yield Crawls(platform, server, data_dir, first, second, redesigned, [e.path for e in server.requests])
    finally:
        server.stop()


def test_the_second_crawl_learns_the_layout_records_it_and_status_shows_it(learned):
    server, data_dir, first = learned.server, learned.data_dir, learned.first
    assert len(first) >= MIN_PAGES
    db = sqlite_utils.Database(data_dir / "archive.db")
    rows = list(db["layouts"].rows)
    host = server.url.removeprefix("http://")
    assert [row["host"] for row in rows] == [host]  # the third crawl learned the same again: no new row
    layout = PageLayout.from_json(rows[0]["layout"])
    assert layout.title and layout.body and rows[0]["pages"] >= MIN_PAGES
    # The first crawl's files say it read generically; the later ones carry the layout whole.
    infos = [read_warcinfo(str(p)) for p in sorted((data_dir / "warcs").glob("*.warc.gz"))]
    assert [info["layout"] for info in infos] == ["auto", layout.name, layout.name]
    assert [PageLayout.from_json(info["layout-json"]) for info in infos[1:]] == [layout, layout]
    status = steppe("status", "--data-dir", str(data_dir))
    assert status.returncode == 0, status.stdout + status.stderr
    assert f"{host}: learned {rows[0]['learned_at']} from {rows[0]['pages']} pages; title {layout.title}," \
           f" text {layout.body}" in status.stdout


def test_pages_read_with_the_learned_layout_are_exact(learned):
    platform, server, data_dir, first, redesigned = (learned.platform, learned.server, learned.data_dir,
                                                     learned.first, learned.redesigned)
    db = sqlite_utils.Database(data_dir / "archive.db")
    rows = {row["url"]: row for row in db["articles"].rows}
    truth = {canonical_url(t.url): t for t in platform.truth(server.url) if t.url != redesigned.url}
    learned_urls = set(truth) - set(first)
    assert learned_urls  # read by the second crawl, with the learned layout
    assert set(rows) == set(truth) | {canonical_url(redesigned.url)}
    for url, expected in truth.items():
        row = rows[url]
        assert (row["title"], json.loads(row["authors"]), row["published"], row["modified"]) == (
            expected.title, list(expected.authors), expected.published.isoformat(), expected.modified.isoformat()), url
        # Read generically, the appeal is the article's own; the learned layout knows it is the host's.
        assert (APPEAL in row["text"]) == (url in first), url
        if url in learned_urls:
            assert f1(row["text"], expected.text) >= 0.98, url


def test_a_page_that_does_not_fit_the_learned_layout_is_read_generically(learned):
    server, data_dir, redesigned = learned.server, learned.data_dir, learned.redesigned
    db = sqlite_utils.Database(data_dir / "archive.db")
    layout = PageLayout.from_json(next(db["layouts"].rows)["layout"])
    html = server.respond("GET", server.redesigned, {}).body.decode("utf-8")
    assert read_page(html, redesigned.url, layout).article is None  # the learned layout finds nothing
    generic = read_page(html, redesigned.url, GENERIC).article
    row = next(db["articles"].rows_where("url = ?", [canonical_url(redesigned.url)]))
    assert (row["title"], row["text_hash"]) == (generic.title, generic.text_hash)
    assert row["title"] == redesigned.title and f1(row["text"], redesigned.text) >= 0.98


def test_recrawls_after_learning_make_no_new_versions_of_unchanged_articles(learned):
    data_dir, first, second, again = learned.data_dir, learned.first, learned.second, learned.again
    db = sqlite_utils.Database(data_dir / "archive.db")
    assert {url: second[url] for url in first} == first == {url: 1 for url in first}
    article_paths = {urlsplit(url).path for url in second}
    assert [path for path in again if urlsplit(path).path in article_paths]  # the third crawl fetched articles again
    assert versions(db) == second and set(second.values()) == {1}


def test_a_rebuild_reads_every_page_as_the_crawls_did_without_the_layouts_table(learned, tmp_path):
    data_dir = learned.data_dir
    rebuilt = tmp_path / "rebuilt.db"
    result = steppe("rebuild", str(data_dir / "warcs"), "--db", str(rebuilt))
    assert result.returncode == 0, result.stderr
    assert "layouts" not in sqlite_utils.Database(rebuilt).table_names()
    query = "select url, title, authors, published, modified, text_hash from articles order by url"
    assert (list(sqlite_utils.Database(rebuilt).query(query))
            == list(sqlite_utils.Database(data_dir / "archive.db").query(query)))
    versions_query = ("select a.url, v.text_hash from article_versions v join articles a on a.id = v.article_id"
                      " order by 1, 2")
    assert (list(sqlite_utils.Database(rebuilt).query(versions_query))
            == list(sqlite_utils.Database(data_dir / "archive.db").query(versions_query)))
