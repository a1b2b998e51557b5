"""The demo site (crawler.demo_site), exercised over real HTTP on loopback."""
from __future__ import annotations

import gzip
import http.client
import re
import socket
import time
import urllib.error
import urllib.request

import lxml.html
import pytest

from crawler.demo_site import DemoSite, serve_site

SEED_TITLES = {
    "Astana 2017: Kazakhstan’s City on a Hill",
    "30 years of Nazarbayev’s foreign policy: What Kazakhstan can teach the world in the new era",
    "SARS –an Unusual National Security Foe: Success of Central Asia Countries in Stemming COVID-19",
    "Why Central Asian Jihadists are Inspired by the US-Taliban Agreement?",
    "Qassem Soleimani’s Broken Dream in Central Asia",
    "The Effectiveness of Confucius Institutes in Promoting Chinese Soft Power in Kazakhstan",
    "Russia and Central Asian countries in the aftermath of the Taliban victory",
    "Competing for Resource: India-China Rivalry in Central Asia",
}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def fetch(url: str, method: str = "GET", timeout: float = 5, **headers):
    """-> (status, headers, raw body bytes); never follows redirects."""
    req = urllib.request.Request(url, method=method, headers=headers)
    try:
        with _opener.open(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def doc(body: bytes):
    return lxml.html.fromstring(body.decode("utf-8"))


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@pytest.fixture(scope="module")
def site():
    return DemoSite.build(n_articles=40, seed=1)


@pytest.fixture(scope="module")
def server(site):
    with serve_site(site, hang_seconds=3.0) as srv:
        yield srv


def special(site, behaviour):
    return next(a for a in site.articles if a.behaviour == behaviour)


def test_build_is_deterministic_and_complete(site):
    again = DemoSite.build(n_articles=40, seed=1)
    assert [a.path for a in again.articles] == [a.path for a in site.articles]
    assert [a.text for a in again.articles] == [a.text for a in site.articles]
    assert DemoSite.build(n_articles=40, seed=2).articles[0].text != site.articles[0].text
    assert len(site.articles) == 40 and site.listing_pages == 4
    assert {a.title for a in site.articles if a.seed_file} == SEED_TITLES
    assert [a.published for a in site.articles] == sorted((a.published for a in site.articles), reverse=True)
    assert len({a.path for a in site.articles}) == 40
    behaviours = {a.behaviour for a in site.articles}
    assert {"retry_after_503", "slow", "timeout", "malformed_html", "wrong_charset", "empty_body",
            "redirect_loop", "gzip", "meta_charset_only"} <= behaviours
    expected = site.expected_articles()
    assert {a.behaviour for a in site.articles if a not in expected} == {"empty_body", "timeout", "redirect_loop"}
    assert all(a.published.tzinfo is not None and a.modified >= a.published for a in site.articles)
    sars = next(a for a in site.articles if a.title.startswith("SARS"))
    assert sars.byline == "Sayfiddin Juraev" and sars.authors == ["Sayfiddin Juraev", "Gregory Gleason"]
    assert sars.paragraphs[0] == "Authors: Sayfiddin Juraev and Gregory Gleason*"
    assert len(site.other_articles) >= 10 and all(a.section != "Central Asia" for a in site.other_articles)


def test_listing_pages_and_404_past_the_last(server, site):
    seen = []
    for n in range(1, site.listing_pages + 1):
        url = server.section_url + (f"page/{n}/" if n > 1 else "")
        status, _, body = fetch(url)
        assert status == 200
        hrefs = doc(body).xpath('//ul[contains(@class,"mvp-blog-story-list")]/li[contains(@class,"mvp-blog-story-wrap")]'
                                '/a[@rel="bookmark"]/@href')
        seen += [h.split("?")[0].removeprefix(server.url) for h in hrefs if "/private/" not in h]
    assert seen == [a.path for a in site.articles]
    assert fetch(server.section_url + f"page/{site.listing_pages + 1}/")[0] == 404
    status, headers, _ = fetch(server.section_url + "page/1/")
    assert status == 301 and headers["Location"] == server.section_url
    page1 = doc(fetch(server.section_url)[2])
    assert page1.cssselect("a.next")[0].get("href") == server.section_url + "page/2/"
    assert page1.cssselect("a.mvp-inf-more-but") and page1.cssselect("span.mvp-cd-date")
    assert any("/private/" in h for h in page1.xpath("//a/@href"))        # bait for robots-ignoring crawlers
    assert any("utm_source=" in h for n in (1, 2, 3) for h in
               doc(fetch(server.section_url + (f"page/{n}/" if n > 1 else ""))[2]).xpath("//li//a/@href"))


def test_teaser_leads_to_article_with_canonical(server, site):
    page = doc(fetch(server.section_url)[2])
    href = page.cssselect("li.mvp-blog-story-wrap a[rel=bookmark]")[0].get("href")
    status, headers, body = fetch(href)
    assert status == 200 and headers["Content-Type"] == "text/html; charset=UTF-8"
    d = doc(body)
    assert d.xpath("//link[@rel='canonical']/@href") == [server.url + site.articles[0].path]
    assert d.xpath("//html/@lang") == ["en-US"]
    assert norm(d.cssselect("h1.mvp-post-title")[0].text_content()) == site.articles[0].title
    assert 'type="application/ld+json"' in body.decode() and "NewsArticle" in body.decode()
    assert fetch(href)[2] != body       # per-request nonce


def test_followons_and_both_continue_reading_markups(server, site):
    markups, amp_variant = set(), False
    for a in site.articles[:20]:
        if not a.expected or a.behaviour in ("slow", "retry_after_503"):
            continue
        d = doc(fetch(server.url + a.path)[2])
        titles = [norm(h.text_content()) for h in d.cssselect("h1.mvp-post-title")]
        older = site.followons(a)
        assert titles == [a.title] + [f.title for f in older]
        main_body = [norm(e.text_content()) for e in d.get_element_by_id("mvp-content-main").xpath(".//p|.//h2|.//h3|.//li")]
        assert main_body == [norm(p) for p in a.paragraphs]
        for span in d.cssselect("span.mvp-cont-read-but"):
            if span.getparent().tag != "a":
                assert a.expander       # the CSS expander is never a link
        a_links = d.xpath('//div[@class="mvp-cont-read-wrap"]/a[span[@class="mvp-cont-read-but"]]/@href')
        b_links = d.xpath('//div[@id="mvp-post-add-box"]//div[@class="mvp-post-add-link"]'
                          '/a[@rel="bookmark"][span[@class="mvp-post-add-link-but"]]/@href')
        if a_links:
            markups.add("cont-read")
        if b_links:
            markups.add("post-add")
        links = a_links + b_links
        assert [re.sub(r"(amp/)?([?#].*)?$", "", h) for h in links] == [server.url + f.path for f in older]
        amp_variant |= any(h.endswith("/amp/") for h in links)
    assert markups == {"cont-read", "post-add"} and amp_variant


def test_amp_twin_points_to_canonical(server, site):
    a = site.articles[0]
    d = doc(fetch(server.url + a.amp_path)[2])
    assert d.xpath("//link[@rel='canonical']/@href") == [server.url + a.path]
    assert norm(d.cssselect("h1")[0].text_content()) == a.title


def test_robots_txt(server):
    status, headers, body = fetch(server.url + "/robots.txt")
    lines = body.decode().splitlines()
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    for line in ("User-agent: *", "Disallow: /wp-admin/", "Disallow: /private/", "Allow: /wp-admin/admin-ajax.php",
                 f"Sitemap: {server.url}/sitemap_index.xml"):
        assert line in lines


def test_gzip_is_real_gzip(server, site):
    a = next(a for a in site.articles if a.behaviour == "gzip" and a.seed_file)
    status, headers, body = fetch(server.url + a.path, **{"Accept-Encoding": "gzip, deflate"})
    assert status == 200 and headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in headers["Vary"]
    assert int(headers["Content-Length"]) == len(body)
    assert a.title in gzip.decompress(body).decode("utf-8")
    status, headers, body = fetch(server.url + a.path, **{"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in headers and body.startswith(b"<!DOCTYPE html>")
    status, headers, body = fetch(server.section_url + "page/2/", **{"Accept-Encoding": "gzip"})
    assert headers["Content-Encoding"] == "gzip" and b"mvp-blog-story-wrap" in gzip.decompress(body)


def test_charset_quirks_and_empty_body(server, site):
    a = special(site, "meta_charset_only")
    status, headers, body = fetch(server.url + a.path)
    assert headers["Content-Type"] == "text/html" and b'<meta charset="UTF-8"' in body
    a = special(site, "wrong_charset")
    status, headers, body = fetch(server.url + a.path)
    assert headers["Content-Type"] == "text/html; charset=ISO-8859-1"
    assert "Öskemen" in body.decode("utf-8") and "“" in body.decode("utf-8")
    a = special(site, "empty_body")
    status, headers, body = fetch(server.url + a.path)
    assert status == 200 and body == b"" and headers["Content-Length"] == "0"


def test_malformed_html_is_broken_but_readable(server, site):
    a = special(site, "malformed_html")
    text = fetch(server.url + a.path)[2].decode("utf-8")
    assert "<div id=mvp-content-main class=left>" in text and " < 3 percent" in text
    main = lxml.html.fromstring(text).get_element_by_id("mvp-content-main")
    assert [norm(e.text_content()) for e in main.xpath(".//p|.//h2|.//h3|.//li")] == [norm(p) for p in a.paragraphs]


def test_retry_after_503_then_200(server, site):
    a = special(site, "retry_after_503")
    status, headers, _ = fetch(server.url + a.path)
    assert status == 503 and headers["Retry-After"] == "1"
    assert fetch(server.url + a.path)[0] == 200


def test_redirect_loop(server, site):
    a = special(site, "redirect_loop")
    assert a.path.endswith("/loop-a/")
    status, headers, _ = fetch(server.url + a.path)
    loop_b = headers["Location"]
    assert status == 301 and loop_b.endswith("/loop-b/")
    status, headers, _ = fetch(loop_b)
    assert status == 301 and headers["Location"] == server.url + a.path


def test_request_log_and_head(server, site):
    server.clear_requests()
    fetch(server.url + "/robots.txt", **{"User-Agent": "steppe-test"})
    fetch(server.url + "/no/such/page/?x=1")
    status, headers, body = fetch(server.url + site.articles[2].path, method="HEAD")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) > 1000
    log = server.requests
    assert [(e.method, e.path, e.status) for e in log] == [
        ("GET", "/robots.txt", 200), ("GET", "/no/such/page/?x=1", 404), ("HEAD", site.articles[2].path, 200)]
    assert log[0].headers["User-Agent"] == "steppe-test" and log[0].time <= log[-1].time


def test_feed_validators(server):
    status, headers, body = fetch(server.section_url + "feed/")
    assert status == 200 and b"<rss" in body
    etag, last = headers["ETag"], headers["Last-Modified"]
    assert fetch(server.section_url + "feed/", **{"If-None-Match": etag})[0] == 304
    assert fetch(server.section_url + "feed/", **{"If-Modified-Since": last})[0] == 304
    assert fetch(server.url + "/feed/", **{"If-None-Match": '"other"'})[0] == 200
    html_headers = fetch(server.section_url)[1]
    assert "ETag" not in html_headers and "Last-Modified" not in html_headers


def test_sitemaps_list_every_post_with_lastmod(server, site):
    index = fetch(server.url + "/sitemap_index.xml")[2].decode()
    assert f"{server.url}/post-sitemap.xml" in index and f"{server.url}/category-sitemap.xml" in index
    posts = fetch(server.url + "/post-sitemap.xml")[2].decode()
    locs = re.findall(r"<loc>([^<]+)</loc>\s*<lastmod>", posts)
    assert {server.url + a.path for a in site.articles + site.other_articles} == set(locs)


def test_seed_articles_are_served(server, site):
    seeds = [a for a in site.articles if a.seed_file]
    assert len(seeds) == 8 and {a.seed_file[:3] for a in seeds} == {"000", "003"}
    for a in seeds:
        d = doc(fetch(server.url + a.path, **{"Accept-Encoding": "identity"})[2])
        assert norm(d.cssselect("h1.mvp-post-title")[0].text_content()) == a.title
        main = d.get_element_by_id("mvp-content-main")
        assert norm(main.text_content()).startswith(norm(a.paragraphs[0])[:200])
        if a.image_caption:
            assert d.cssselect("span.mvp-post-img-cap")[0].text == a.image_caption
    confucius = next(a for a in seeds if "Confucius" in a.title)
    assert confucius.block_types.count("li") == 4 and confucius.paragraphs[-1].startswith("[32]")
    russia = site.article_at("/2021/09/14/russia-and-central-asian-countries/")
    assert russia.image_caption == "image source: TASS" and russia.byline is None


def test_next_epoch_live(site):
    new_site = site.next_epoch(new=3, edit=1, rename=1, remove=1)
    assert [a.path for a in site.next_epoch().articles] == [a.path for a in new_site.articles]   # deterministic
    ch = new_site.changes
    assert new_site.articles[:3] == ch.new and ch.new[-1].published > site.articles[0].published
    edited, (old_path, renamed), removed = ch.edited[0], ch.renamed[0], ch.removed[0]
    before = site.article_at(edited.path)
    assert edited.text != before.text and edited.modified > before.modified
    assert removed not in new_site.articles and removed in site.articles
    with serve_site(site) as server:
        lastmods = dict(re.findall(r"<loc>([^<]+)</loc>\s*<lastmod>([^<]+)<", fetch(server.url + "/post-sitemap.xml")[2].decode()))
        server.site = new_site
        status, headers, _ = fetch(server.url + old_path)
        assert status == 301 and headers["Location"] == server.url + renamed.path
        assert fetch(server.url + renamed.path)[0] == 200
        assert fetch(server.url + removed.path)[0] == 410
        top = doc(fetch(server.section_url)[2]).cssselect("li.mvp-blog-story-wrap a[rel=bookmark]")[:3]
        assert [h.get("href").split("?")[0] for h in top] == [server.url + a.path for a in ch.new]
        after = dict(re.findall(r"<loc>([^<]+)</loc>\s*<lastmod>([^<]+)<", fetch(server.url + "/post-sitemap.xml")[2].decode()))
        url = server.url + edited.path
        assert after[url] != lastmods[url] and after[url] == edited.modified.isoformat()
        assert edited.paragraphs[[i for i, (x, y) in enumerate(zip(edited.paragraphs, before.paragraphs)) if x != y][0]] \
            in fetch(url)[2].decode().replace("&nbsp;", "\xa0")


def test_delays_and_fast_shutdown(site):
    slow, hang = special(site, "slow"), special(site, "timeout")
    with serve_site(site, hang_seconds=30, slow_seconds=0.3) as server:
        t = time.monotonic()
        assert fetch(server.url + slow.path)[0] == 200 and time.monotonic() - t >= 0.3
        with pytest.raises((socket.timeout, TimeoutError, urllib.error.URLError)):
            fetch(server.url + hang.path, timeout=0.3)
        keep_alive = http.client.HTTPConnection(server.host, server.port, timeout=5)
        keep_alive.request("GET", "/robots.txt")
        assert keep_alive.getresponse().read().startswith(b"User-agent")
        t = time.monotonic()
    assert time.monotonic() - t < 3          # neither the hang nor the idle connection blocks shutdown
    keep_alive.close()


def test_large_build():
    big = DemoSite.build(n_articles=2000, seed=3)
    assert len(big.articles) == 2000 and big.listing_pages == 200
    assert len({a.path for a in big.articles}) == 2000
    assert len(big.expected_articles()) == 2000 - 3
    assert 4 <= len([b for b in big.articles[-1].block_types if b == "p"]) <= 14

