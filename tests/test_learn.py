"""Learning a host's layout from its own pages: where title, text, byline and date are,
and which blocks are its template."""

from archive.extract import read_page
from archive.ingest import ingest_response
from archive.layouts import GENERIC, ZOX_NEWS, PageLayout, recorded_layout, warcinfo_fields
from archive.learn import MIN_PAGES, learn_host, learn_layout, learned_layouts, read_with_learned
from archive.store import Store

from conftest import html_exchange

BASE = "http://127.0.0.1:9"
APPEAL = "Support independent reporting from the steppe: become a member of Steppe Review today."
TOPICS = ["rivers", "dams", "saiga", "wheat", "rail", "lakes"]


def host_page(i: int, *, jsonld_authors=("Aigerim Seitkali",), headline_class="headline") -> str:
    """One article of a host whose theme no generic selector knows: its byline sits in a
    span.writer, the text in div.story, a membership appeal inside the text of every page."""
    topic = TOPICS[i]
    paragraphs = "".join(f"<p>Paragraph {n} of the story on {topic} of Central Asia, number {i}, told at length"
                         f" for readers who follow the region closely.</p>" for n in range(5))
    authors = ", ".join(f'{{"@type": "Person", "name": "{name}"}}' for name in jsonld_authors)
    return f"""<html><head><title>The {topic} of the steppe – Steppe Review</title>
<meta property="og:site_name" content="Steppe Review">
<script type="application/ld+json">{{"@type": "NewsArticle", "headline": "The {topic} of the steppe",
 "datePublished": "2024-05-0{i + 1}T09:00:00+05:00", "author": [{authors}]}}</script></head>
<body><div class="page"><h1 class="{headline_class}">The {topic} of the steppe</h1>
<div class="meta"><span class="writer">Words: <a href="/people/a">Aigerim Seitkali</a> &amp;
<a href="/people/t">Timur Nazarov</a></span>
<span class="stamp" data-ts="x"><i datetime="2024-05-0{i + 1}T09:00:00+05:00">May {i + 1}</i></span></div>
<div class="story post-{1000 + i}">{paragraphs}<p class="appeal">{APPEAL}</p></div>
</div></body></html>"""


def learned():
    return learn_layout("127.0.0.1:9", [(host_page(i), f"{BASE}/story/{i}") for i in range(4)])


def test_a_host_layout_is_learned_from_a_few_pages():
    layout = learned()
    assert layout is not None and layout.name == "learned:127.0.0.1:9"
    assert layout.title == "h1.headline"
    assert layout.body == "div.story"
    assert layout.byline == "span.writer > a"
    assert template_key_in(layout, APPEAL)


def template_key_in(layout, text: str) -> bool:
    return " ".join(text.split()).casefold() in layout.template_texts


def test_the_learned_layout_reads_a_new_page_better_than_the_generic_one():
    page, url = host_page(4, jsonld_authors=()), f"{BASE}/story/4"
    generic = read_page(page, url, GENERIC).article
    assert APPEAL in generic.text  # generically, the appeal reads as the article's own
    record = read_with_learned(page, url, learned()).article
    assert record.title == "The rail of the steppe"
    assert record.authors == ["Aigerim Seitkali", "Timur Nazarov"]
    assert record.published == "2024-05-05T09:00:00+05:00"
    assert APPEAL not in record.text and record.text.startswith("Paragraph 0 of the story on rail")


def test_a_page_that_does_not_fit_is_read_generically():
    page, url = host_page(5, headline_class="redesigned-title"), f"{BASE}/story/5"
    layout = learned()
    assert read_page(page, url, layout).article is None
    record = read_with_learned(page, url, layout).article
    assert record.title == "The lakes of the steppe" and "Paragraph 4 of the story on lakes" in record.text


def test_too_few_pages_teach_nothing():
    assert learn_layout("h", [(host_page(0), f"{BASE}/story/0"), (host_page(1), f"{BASE}/story/1")]) is None


def test_a_learned_layout_is_data_that_reads_the_same_once_recorded():
    layout = learned()
    recorded = PageLayout.from_json(layout.to_json())
    assert recorded == layout
    page, url = host_page(4), f"{BASE}/story/4"
    assert read_page(page, url, recorded) == read_page(page, url, layout)
    assert PageLayout.from_json(ZOX_NEWS.to_json()) == ZOX_NEWS


def test_learned_from_a_few_demo_pages_it_reads_the_others_better_than_the_generic_layout():
    # The demo theme appends older articles below each one: read generically, some pages
    # give the wrong article; a majority of them still agree on where the own one is.
    from crawler.demo_site import DemoSite
    from crawler.demo_site.pages import render_article

    site = DemoSite.build(n_articles=40, seed=5)
    base = "http://127.0.0.1:8000"
    pages = [(render_article(site, a, base, site.now.timestamp(), "n"), base + a.path, a)
             for a in site.expected_articles()]
    layout = learn_layout("127.0.0.1:8000", [(html, url) for html, url, _ in pages[:5]])
    assert (layout.title, layout.body) == ("h1.entry-title.left.mvp-post-title", "div#mvp-content-main")
    assert "leave a reply cancel reply" in layout.template_texts

    def exact(read) -> int:
        return sum((r.title, r.authors, r.text) == (a.title, a.authors, a.text)
                   for html, url, a in pages[5:] for r in [read(html, url).article])

    assert exact(lambda html, url: read_with_learned(html, url, layout)) > exact(
        lambda html, url: read_page(html, url, GENERIC))


def archived(write_warc, tmp_path, pages: list[tuple[str, str]]) -> Store:
    """The pages in a real WARC file, ingested generically into the real database of
    ``tmp_path`` (the same one call after call)."""
    store = Store(tmp_path / "archive.db")
    for record in write_warc([html_exchange(url, html) for html, url in pages]):
        ingest_response(store, record, GENERIC)
    return store


def test_a_host_learns_from_its_archived_pages_once_there_are_enough(write_warc, tmp_path):
    store = archived(write_warc, tmp_path, [(host_page(i), f"{BASE}/story/{i}") for i in range(MIN_PAGES - 1)])
    assert learn_host(store.db, tmp_path / "warcs", "127.0.0.1:9") is None
    store = archived(write_warc, tmp_path, [(host_page(i), f"{BASE}/story/{i}") for i in range(MIN_PAGES - 1, 4)])
    layout = learn_host(store.db, tmp_path / "warcs", "127.0.0.1:9")
    assert layout == learned()  # the same pages, read back from WARC
    assert learn_host(store.db, tmp_path / "warcs", "127.0.0.1:9") == layout
    [row] = learned_layouts(store.db)  # the same sample again: nothing new to record
    assert (row["host"], row["pages"], row["layout"]) == ("127.0.0.1:9", 4, layout)
    assert learn_host(store.db, tmp_path / "warcs", "127.0.0.1:10") is None  # another host has no pages


def test_pages_whose_records_cannot_be_read_teach_nothing_and_fail_nothing(write_warc, tmp_path):
    store = archived(write_warc, tmp_path, [(host_page(i), f"{BASE}/story/{i}") for i in range(4)])
    for path in (tmp_path / "warcs").iterdir():
        path.rename(tmp_path / path.name)  # the WARC files moved away
    assert learn_host(store.db, tmp_path / "warcs", "127.0.0.1:9") is None


def test_a_host_on_a_platform_steppe_knows_learns_nothing(write_warc, tmp_path):
    from crawler.demo_site import DemoSite
    from crawler.demo_site.pages import render_article

    site = DemoSite.build(n_articles=40, seed=5)
    pages = [(render_article(site, a, BASE, site.now.timestamp(), "n"), BASE + a.path)
             for a in site.expected_articles()[:6]]
    store = archived(write_warc, tmp_path, pages)
    assert learn_host(store.db, tmp_path / "warcs", "127.0.0.1:9") is None  # its pages show Zox News
    assert learned_layouts(store.db) == []


def test_a_crawl_records_a_learned_layout_whole_in_its_warcinfo_and_a_known_one_by_name():
    layout = learned()
    assert warcinfo_fields(ZOX_NEWS) == {"layout": "zox-news"}
    info = warcinfo_fields(layout)
    assert info["layout"] == layout.name and "\n" not in info["layout-json"] and info["layout-json"].isascii()
    assert recorded_layout(info, GENERIC) == layout
    assert recorded_layout({"layout": "zox-news"}, GENERIC) is ZOX_NEWS
    assert recorded_layout({}, GENERIC) is GENERIC  # a file of another crawler, or older
