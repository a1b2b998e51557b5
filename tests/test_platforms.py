"""The fixture platforms (crawler.demo_site.platforms) over real HTTP on loopback:
their ground truth agrees with what they serve, their traps are there, and a walk
with crawler.listing alone (urllib, no Scrapy) fetches the section and nothing else."""
from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from datetime import datetime
from urllib.parse import urlsplit

import lxml.html
import pytest
from protego import Protego

from archive.urls import canonical_url
from crawler.demo_site.platforms import PLATFORMS, SECTION, serve_platform
from crawler.listing import read_listing


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def fetch(url: str) -> tuple[int, dict, bytes]:
    try:
        with _opener.open(url, timeout=5) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def norm(s: str) -> str:
    return " ".join(s.split())


@pytest.fixture(scope="module", params=sorted(PLATFORMS))
def served(request):
    platform = PLATFORMS[request.param]()
    with serve_platform(platform) as server:
        yield platform, server


def test_each_platform_has_the_section_other_sections_and_the_hard_cases(served):
    platform, server = served
    truth = platform.truth(server.url)
    assert len(truth) >= 20 and platform.listing_pages >= 3
    assert len({t.url for t in truth}) == len(truth)
    others = platform.off_section_urls(server.url)
    assert len(others) >= 5 and not set(others) & {t.url for t in truth}
    assert all(fetch(u)[0] == 200 for u in others[:2])
    assert any(len(t.authors) == 2 for t in truth)
    assert any(len(t.sections) == 2 and t.sections[0] != SECTION for t in truth)   # filed under two, primary elsewhere
    assert all(t.published.tzinfo and t.modified.tzinfo and t.modified >= t.published for t in truth)


def test_ground_truth_matches_the_served_article_pages(served):
    platform, server = served
    for t in platform.truth(server.url):
        status, headers, body = fetch(t.url)
        assert status == 200, t.url
        doc = lxml.html.fromstring(body)
        assert doc.xpath("string(//link[@rel='canonical']/@href)") == t.url
        published = doc.xpath("string(//meta[@property='article:published_time']/@content)")
        assert datetime.fromisoformat(published.replace("Z", "+00:00")) == t.published
        modified = doc.xpath("string(//meta[@property='article:modified_time']/@content)")
        assert datetime.fromisoformat(modified.replace("Z", "+00:00")) == t.modified
        ld = [json.loads(s) for s in doc.xpath("//script[@type='application/ld+json']/text()")]
        nodes = [n for d in ld for n in d.get("@graph", [d])]
        assert t.title in {n.get("headline") for n in nodes}
        byline = norm(" ".join(doc.xpath("//main//a[contains(@href, '/author') or contains(@href, '/people/')]/text()")))
        for name in t.authors:
            assert name in byline, (t.url, name)
        # the body: its blocks, in order, one after the other
        blocks = [norm(el.text_content()) for el in doc.iter("p", "h2", "h3", "li")]
        wanted = [norm(p) for p in t.text.split("\n\n")]
        starts = [i for i, b in enumerate(blocks) if b == wanted[0]]
        assert any(blocks[i:i + len(wanted)] == wanted for i in starts), t.url


def test_robots_sitemaps_and_variants(served):
    platform, server = served
    status, _, robots_txt = fetch(server.url + "/robots.txt")
    assert status == 200
    robots = Protego.parse(robots_txt.decode())
    sitemaps = list(robots.sitemaps)
    assert sitemaps
    listed, queue = set(), list(sitemaps)
    while queue:
        status, _, xml = fetch(queue.pop())
        assert status == 200
        locs = re.findall(r"<loc>([^<]+)</loc>", xml.decode())
        (queue.extend if b"<sitemapindex" in xml else listed.update)(locs)
    assert {t.url for t in platform.truth(server.url)} <= listed
    assert not robots.can_fetch(server.url + platform.traps["disallowed"], "steppe")
    first = platform.truth(server.url)[0]
    assert robots.can_fetch(first.url, "steppe")
    # every trap is linked from the section's first listing page or its first article
    hrefs = set()
    for page in (server.section_url, first.url):
        doc = lxml.html.fromstring(fetch(page)[2], base_url=page)
        doc.make_links_absolute()
        links = doc.xpath("//a/@href | //link[@rel='amphtml']/@href")
        hrefs |= set(links) | {h.split("#")[0] for h in links}
    for kind, path in platform.traps.items():
        assert server.url + path in hrefs, (kind, path)
        assert fetch(server.url + path)[0] in (200, 403), (kind, path)
    # variants of an article name it as canonical (or redirect to it)
    for kind in ("amp twin", "print view"):
        if kind in platform.traps:
            status, _, body = fetch(server.url + platform.traps[kind])
            assert lxml.html.fromstring(body).xpath("string(//link[@rel='canonical']/@href)") == first.url
    shortlink = lxml.html.fromstring(fetch(first.url)[2]).xpath("string(//link[@rel='shortlink']/@href)")
    if shortlink:
        status, headers, _ = fetch(shortlink)
        assert status == 301 and headers["Location"] == first.url


def walk(section_url: str) -> tuple[list[str], list[str]]:
    """A crawl with crawler.listing only: robots.txt, the listing page after page, each
    teaser robots.txt allows. -> (listing pages, articles) as fetched."""
    base = "{0.scheme}://{0.netloc}".format(urlsplit(section_url))
    robots = Protego.parse(fetch(base + "/robots.txt")[2].decode())
    pages, articles, url, shape = [], [], section_url, None
    while url is not None and url not in pages:
        status, _, html = fetch(url)
        assert status == 200, url
        pages.append(url)
        listing = read_listing(html, url, shape)
        shape = listing.shape
        for article in listing.teasers:
            if article not in articles and robots.can_fetch(article, "steppe"):
                assert fetch(article)[0] == 200
                articles.append(article)
        url = listing.next_page
    return pages, articles


def test_a_walk_with_the_listing_module_fetches_the_section_and_nothing_else(served):
    platform, server = served
    if not platform.walkable:
        pytest.skip("its listing shows one page: crawls read the rest from article to article (test_any_site)")
    server.clear_requests()
    pages, articles = walk(server.section_url)
    truth = [canonical_url(t.url) for t in platform.truth(server.url)]
    assert sorted(articles) == sorted(truth)     # recall 1.0, precision 1.0
    assert pages == [canonical_url(u) for u in platform.listing_urls(server.url)]
    requested = [r.path for r in server.requests]
    allowed = {"/robots.txt"} | {urlsplit(u)._replace(scheme="", netloc="").geturl() for u in pages + articles}
    assert set(requested) <= allowed           # no trap, no disallowed path, no variant
    assert len(requested) <= 1.1 * (len(pages) + len(truth) + 1)
