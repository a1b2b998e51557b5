"""crawler.listing on real listing markup: the zox-news demo site, the three fixture
platforms (first, middle and last pages against their ground truth), and a few
hand-written pages of layouts none of them has."""
from __future__ import annotations

import pytest

from archive.urls import canonical_url
from crawler.demo_site import DemoServer, DemoSite
from crawler.demo_site.platforms import PLATFORMS
from archive.urls import is_section_listing, listing_key
from crawler.listing import next_page, read_listing, teaser_links

BASE = "http://127.0.0.1:8999"   # rendering only: nothing listens there


def recall_precision(got: list[str], truth: list[str]) -> tuple[float, float]:
    hits = len(set(got) & set(truth))
    return hits / len(set(truth)), (hits / len(set(got)) if got else 0.0)


# Platforms whose listing pages link each to the next (not one behind a script's "Load more").
WALKABLE = sorted(name for name, build in PLATFORMS.items() if build().walkable)


@pytest.fixture(scope="module", params=WALKABLE)
def platform(request):
    return PLATFORMS[request.param]()


def render(platform, url: str) -> bytes:
    response = platform.respond(url.removeprefix(BASE), BASE)
    assert response.status == 200, url
    return response.body


@pytest.mark.parametrize("which", ["first", "middle", "last"])
def test_teasers_of_each_platform_match_the_ground_truth(platform, which):
    pages = platform.listing_urls(BASE)
    n = {"first": 1, "middle": len(pages) // 2 + 1, "last": len(pages)}[which]
    truth = [canonical_url(u) for u in platform.listing_teaser_urls(BASE, n)]
    got = teaser_links(render(platform, pages[n - 1]), pages[n - 1])
    assert recall_precision(got, truth) == (1.0, 1.0)
    assert got == truth   # and in the page's order


def test_following_next_from_page_one_visits_every_listing_page_and_nothing_else(platform):
    expected = [canonical_url(u) for u in platform.listing_urls(BASE)]
    assert len(expected) >= 3
    visited, url = [], expected[0]
    while url is not None and len(visited) <= len(expected):
        visited.append(url)
        url = next_page(render(platform, url), url)
    assert visited == expected
    # The last page has nothing more to offer: the walk read the whole listing.
    assert not read_listing(render(platform, visited[-1]), visited[-1]).more_unread
    assert {a for u in visited for a in teaser_links(render(platform, u), u)} == {
        canonical_url(t.url) for t in platform.truth(BASE)}


@pytest.mark.parametrize("name", sorted(set(PLATFORMS) - set(WALKABLE)))
def test_a_listing_behind_a_load_more_button_says_it_offers_more(name):
    platform = PLATFORMS[name]()
    first, = platform.listing_urls(BASE)
    listing = read_listing(render(platform, first), first)
    assert listing.next_page is None and listing.more_unread
    assert listing.teasers == [canonical_url(u) for u in platform.listing_teaser_urls(BASE, 1)]
    # Its last page (reached by the script) has no more to offer.
    last = BASE + platform.listing_path(platform.listing_pages)
    assert not read_listing(render(platform, last), last).more_unread


def test_listings_of_the_other_sections_too(platform):
    for section in ("europe", "middle-east", "economy"):
        url = BASE + platform.listing_path(1, section)
        truth = [canonical_url(BASE + platform.article_path(s))
                 for s in platform.page_of(platform.news.in_section(section), 1)]
        assert teaser_links(render(platform, url), url) == truth, section


def test_trap_pages_lead_nowhere_outside_themselves(platform):
    """A calendar's "Next ›", a facet's pager: never a page of the section listing."""
    section = platform.listing_urls(BASE)[0]
    for kind, path in platform.traps.items():
        response = platform.respond(path, BASE)
        if response.status != 200 or "html" not in (response.ctype or ""):
            continue
        following = next_page(response.body, BASE + path)
        assert following is None or not is_section_listing(following, section), (kind, following)


@pytest.fixture(scope="module")
def zox():
    site = DemoSite.build(n_articles=40, seed=1)
    server = DemoServer(site)   # answers without being started: no socket traffic
    yield site, server
    server.stop()


def test_zox_news_demo_listing_pages(zox):
    site, server = zox
    section = f"{server.url}/category/central-asia/"
    url, visited = section, []
    while url is not None:
        visited.append(url)
        n = len(visited)
        html = server.respond("GET", url.removeprefix(server.url), {}).body
        listing = read_listing(html, url)
        truth = [canonical_url(server.url + a.path) for a in site.page(n)]
        if n == 1:   # the members-only teaser: listed, refused later by robots.txt
            truth.insert(4, canonical_url(server.url + site.private_article.path))
        assert listing.teasers == truth
        url = listing.next_page
    assert len(visited) == site.listing_pages == 4


def test_zox_news_tag_and_author_listings_read_with_the_sections_shape(zox):
    site, server = zox
    from crawler.demo_site import PER_PAGE, slugify
    section = server.url + "/category/central-asia/"
    shape = read_listing(server.respond("GET", "/category/central-asia/", {}).body, section).shape
    tags = {slugify(t) for a in site.articles for t in a.tags}
    authors = {slugify(a.byline) for a in site.articles if a.byline}
    listings = [(f"/tag/{t}/", site.tagged(t)) for t in sorted(tags)] + [
        (f"/author/{a}/", site.by_author(a)) for a in sorted(authors)]
    # single teasers among them, beside a sidebar of a dozen stories
    assert min(len(items) for _, items in listings) == 1
    for path, items in listings:
        html = server.respond("GET", path, {}).body
        truth = [canonical_url(server.url + a.path) for a in items[:PER_PAGE]]
        assert teaser_links(html, server.url + path, shape) == truth, path


# --------------------------------------------------------------- layouts of no fixture

CLASSIC = """<!DOCTYPE html><html><head><title>Asia – Page {n} – Blog</title></head>
<body class="archive category has-sidebar">
<header id="masthead" class="site-header"><nav class="main-navigation"><a href="/?cat=4">Asia</a>
<a href="/?cat=5">Europe</a></nav></header>
<div id="content" class="site-content"><div id="primary" class="content-area"><main id="main" class="site-main">
{posts}
<nav class="navigation posts-navigation" aria-label="Posts"><div class="nav-links">
<div class="nav-previous"><a href="/?cat=4&amp;paged={older}">Older posts</a></div>
<div class="nav-next"><a href="/?cat=4&amp;paged={newer}">Newer posts</a></div></div></nav>
</main></div>
<aside id="secondary" class="widget-area"><section id="recent-posts-2" class="widget widget_recent_entries">
<h2 class="widget-title">Recent Posts</h2><ul>{recent}</ul></section>
<section class="widget widget_calendar"><a href="/?m=202108">« Aug</a><a href="/?m=202110">Oct »</a></section></aside>
</div><footer id="colophon" class="site-footer"><a href="/?page_id=2">About</a></footer></body></html>"""

POST = """<article id="post-{i}" class="post-{i} post type-post status-publish hentry category-asia">
<header class="entry-header"><h2 class="entry-title"><a href="/?p={i}" rel="bookmark">A long enough headline about story number {i}</a></h2>
<div class="entry-meta"><span class="byline"><a class="url fn n" href="/?author=1">Editor</a></span></div></header>
<div class="entry-content"><p>Summary of story {i}.</p></div></article>"""


def classic_page(n: int, per: int = 5) -> str:
    first = 100 - (n - 1) * per
    posts = "".join(POST.format(i=i) for i in range(first, first - per, -1))
    recent = "".join(f'<li><a href="/?p={i}">A long enough headline about story number {i}</a></li>' for i in range(100, 94, -1))
    return CLASSIC.format(n=n, posts=posts, recent=recent, older=n + 1, newer=n - 1)


def test_classic_theme_with_plain_permalinks_and_a_recent_posts_widget():
    url = "https://blog.example/?cat=4&paged=2"
    listing = read_listing(classic_page(2), url)
    assert listing.teasers == [f"https://blog.example/?p={i}" for i in range(95, 90, -1)]
    assert listing.next_page == "https://blog.example/?cat=4&paged=3"


def test_numbers_only_pager_counting_from_one_and_a_next_word_in_french():
    def page(n: int, word: str = "") -> str:
        numbers = "".join(f'<a href="/rubrique/asie?page={k}">{k}</a>' if k != n else f"<span>{k}</span>" for k in range(1, 5))
        nxt = f'<a href="/rubrique/asie?page={n + 1}">{word}</a>' if word else ""
        items = "".join(f'<div class="item"><a href="/article/{n}-{k}">Un titre assez long pour un article numéro {k}</a></div>'
                        for k in range(4))
        return f"<html><body><main>{items}<div class='pages'>{numbers}{nxt}</div></main></body></html>"
    assert next_page(page(1), "https://presse.example/rubrique/asie") == "https://presse.example/rubrique/asie?page=2"
    assert next_page(page(2), "https://presse.example/rubrique/asie?page=2") == "https://presse.example/rubrique/asie?page=3"
    assert next_page(page(4), "https://presse.example/rubrique/asie?page=4") is None
    assert next_page(page(2, "Page suivante"), "https://presse.example/rubrique/asie?page=2") == \
        "https://presse.example/rubrique/asie?page=3"


def test_a_next_link_that_changes_more_than_the_page_number_is_refused():
    html = ('<html><head><link rel="next" href="/news/asia?page=2&amp;sort=title"></head><body>'
            '<a href="/news/asia?page=2&amp;type=video">Next</a><a href="/news/2021/08">Next ›</a>'
            '<a href="/news/asia/page/1/">Next</a></body></html>')
    assert next_page(html, "https://site.example/news/asia?page=1") is None


def test_listing_key_and_the_same_section_rule():
    assert listing_key("https://s.example/category/asia/page/3/") == ("https://s.example/category/asia/", 3)
    assert listing_key("https://s.example/news/asia?page=0&utm_source=x") == ("https://s.example/news/asia", 0)
    assert listing_key("https://s.example/?cat=4&paged=2") == ("https://s.example/?cat=4", 2)
    assert listing_key("https://s.example/news/asia/?PAGEN_1=3") == ("https://s.example/news/asia/", 3)
    assert listing_key("https://s.example/news/asia/?start=20") == ("https://s.example/news/asia/", 20)
    assert listing_key("https://s.example/news/asia/page-3") == ("https://s.example/news/asia/", 3)
    assert listing_key("https://s.example/blog/page4/") == ("https://s.example/blog/", 4)
    assert listing_key("https://s.example/blog/homepage4/") == ("https://s.example/blog/homepage4/", None)
    assert listing_key("https://s.example/news/asia/?startdate=2021") == ("https://s.example/news/asia/?startdate=2021", None)
    section = "https://s.example/news/asia"
    assert is_section_listing("https://s.example/news/asia?page=7", section)
    assert is_section_listing("https://s.example/news/asia#top", section)
    assert not is_section_listing("https://s.example/news/asia?f%5B0%5D=country%3Akz", section)
    assert not is_section_listing("https://s.example/news/asia/some-story", section)
    assert not is_section_listing("https://s.example/archive/202109", section)
    assert is_section_listing("https://s.example/tag/asia/page/2/", "https://s.example/tag/asia/")
    assert not is_section_listing("https://s.example/tag/asia/page/2/", "https://s.example/tag/europe/")


def test_a_lead_story_marked_up_differently_is_still_a_teaser_and_the_newsletter_box_is_not():
    def story(k: int, tag: str = "h3", extra: str = "") -> str:
        return (f'<div class="story{extra}"><{tag} class="story__headline"><a href="/world/asia/story-{k}">'
                f"Headline number {k} long enough to be a title</a></{tag}><p>Summary.</p>"
                f'<a class="story__section" href="/world/asia/">Asia</a></div>')
    html = ('<html><body><header><a href="/world/">World</a></header><main><div class="feed">'
            + story(0, "h1", " story--lead") + "".join(story(k) for k in range(1, 7))
            + '<div class="newsletter-box"><a href="/newsletters/daily">Sign up for the daily briefing newsletter today</a></div>'
            + '</div></main><aside><a href="/world/europe/x">A popular story from another section of the site</a></aside>'
            "</body></html>")
    assert teaser_links(html, "https://paper.example/world/asia/") == [
        f"https://paper.example/world/asia/story-{k}" for k in range(7)]


def test_an_offset_pager_like_joomlas():
    html = ('<html><body><main>'
            + "".join(f'<div class="blog-item"><h2 class="item-title"><a href="/news/asia/{k}-a-story-title-of-some-length">'
                      f"A story title of some length, number {k}</a></h2></div>" for k in range(11, 21))
            + '<nav class="pagination__wrapper" aria-label="Pagination"><ul class="pagination">'
              '<li class="page-item"><a aria-label="Go to start page" href="/news/asia" class="page-link">Start</a></li>'
              '<li class="page-item"><a aria-label="Go to previous page" href="/news/asia" class="page-link">Prev</a></li>'
              '<li class="active page-item"><a aria-current="true" href="#" class="page-link">2</a></li>'
              '<li class="page-item"><a aria-label="Go to page 3" href="/news/asia?start=20" class="page-link">3</a></li>'
              '<li class="page-item"><a aria-label="Go to next page" href="/news/asia?start=20" class="page-link">Next</a></li>'
              '<li class="page-item"><a aria-label="Go to end page" href="/news/asia?start=40" class="page-link">End</a></li>'
              "</ul></nav></main></body></html>")
    listing = read_listing(html, "https://agency.example/news/asia?start=10")
    assert len(listing.teasers) == 10 and listing.teasers[0].endswith("/news/asia/11-a-story-title-of-some-length")
    assert listing.next_page == "https://agency.example/news/asia?start=20"


def test_a_last_page_offers_no_more_when_its_next_is_greyed_out():
    teasers = "".join(f'<article><h2><a href="/news/asia/story-{k}">A story title of some length, number {k}</a></h2>'
                      "</article>" for k in range(5))
    last = ('<ul class="pagination"><li><a href="/news/asia?start=10">Prev</a></li>'
            '<li class="disabled"><a href="#">Next</a></li></ul>')
    script = '<button class="load-more" data-page="3">Load more stories</button>'
    url = "https://agency.example/news/asia?start=20"
    assert not read_listing(f"<html><body><main>{teasers}{last}</main></body></html>", url).more_unread
    assert read_listing(f"<html><body><main>{teasers}{script}</main></body></html>", url).more_unread


def test_an_empty_page_lists_nothing():
    assert read_listing(b"", "https://s.example/news/asia") == read_listing(b"  \n", "https://s.example/news/asia")
    assert read_listing(b"", "https://s.example/news/asia").teasers == []
    assert read_listing(b"", "https://s.example/news/asia").next_page is None
