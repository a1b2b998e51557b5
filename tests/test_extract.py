"""Extraction on single pages: what the demo crawl cannot easily show."""

import gzip
from dataclasses import replace

from archive.extract import decode_html, read_page, text_hash
from archive.layouts import GENERIC, ZOX_NEWS
from archive.warc import decode_content
from crawler.demo_site import DemoSite
from crawler.demo_site.pages import render_article, render_listing

BASE = "http://127.0.0.1:8000"
SITE = DemoSite.build(n_articles=30, seed=3)


def article_page(article) -> str:
    return render_article(SITE, article, BASE, SITE.now.timestamp(), "nonce")


def test_a_demo_article_reads_back_as_its_source():
    article = next(a for a in SITE.expected_articles() if SITE.followons(a) and len(a.authors) == 1)
    reading = read_page(article_page(article), BASE + article.path + "?utm_source=x#respond", ZOX_NEWS)
    record = reading.article
    assert reading.canonical_url == BASE + article.path
    assert (record.title, record.authors, record.text) == (article.title, article.authors, article.text)
    assert record.published == article.published.isoformat()
    assert record.text_hash == text_hash(article.text)


def test_selectors_read_the_same_however_much_of_the_page_they_name():
    # The article's elements are sought below the element that holds it: a selector
    # naming ancestors far above it, or siblings, must select what it selects in the page.
    def wordy(selector: str, prefix: str = "html body ") -> str:
        return ", ".join(prefix + part for part in selector.split(","))

    layout = replace(ZOX_NEWS, byline=wordy(ZOX_NEWS.byline), image_caption=wordy(ZOX_NEWS.image_caption),
                     tags=wordy(ZOX_NEWS.tags, "html > body "), article_end=wordy(ZOX_NEWS.article_end, "body ")
                     + ", body ~ div, p + #comments")
    articles = [a for a in SITE.articles if SITE.followons(a) and a.image_caption][:5]
    for article in articles:
        html = article_page(article)
        reading = read_page(html, BASE + article.path, layout)
        assert reading == read_page(html, BASE + article.path, ZOX_NEWS)
        assert (reading.article.authors, reading.article.image_caption) == (article.authors, article.image_caption)
    assert articles


def test_co_authors_named_in_the_first_paragraph_are_authors():
    article = next(a for a in SITE.articles if a.paragraphs[0].startswith("Authors:"))
    record = read_page(article_page(article), BASE + article.path, ZOX_NEWS).article
    assert len(record.authors) == 2 and record.authors == article.authors
    assert not any("*" in name for name in record.authors)


def test_structured_dates_win_over_the_visible_ones():
    article = SITE.articles[0]
    html = article_page(article).replace('"datePublished":', '"datePublished": "2020-01-02T03:04:05+05:00", "x":')
    record = read_page(html, BASE + article.path, ZOX_NEWS).article
    assert record.published == "2020-01-02T03:04:05+05:00"


def test_a_listing_page_is_not_an_article():
    html = render_listing(SITE, BASE, SITE.now.timestamp(), "n", heading="Central Asia",
                          root="/category/central-asia/", n=1, pages=3, items=SITE.page(1))
    reading = read_page(html, BASE + "/category/central-asia/", ZOX_NEWS)
    assert reading.article is None and reading.problems == []


def test_unusable_pages_give_a_reason_not_an_exception():
    url = BASE + SITE.articles[0].path
    assert read_page("", url, ZOX_NEWS).problems == ["empty body"]
    assert read_page("   \n", url, ZOX_NEWS).article is None
    no_title = read_page("<html><body><p>only a paragraph</p></body></html>", url, ZOX_NEWS)
    assert no_title.article is None and no_title.problems
    garbage = read_page("\x00\x01<<<>>>\x02" * 100, url, ZOX_NEWS)
    assert garbage.article is None


def test_broken_markup_still_yields_the_article():
    article = SITE.articles[2]
    html = article_page(article)
    cut = html[: html.index("</article>") if "</article>" in html else len(html) * 3 // 4]  # never closed
    record = read_page(cut.replace("</p>", "", 5), BASE + article.path, ZOX_NEWS).article
    assert record is not None and record.title == article.title
    assert article.paragraphs[-1][:80] in record.text


def test_charsets_declared_wrongly_or_only_in_meta():
    text = "<html><head><meta charset='utf-8'></head><body><p>Öskemen — “quoted”</p></body></html>"
    assert decode_html(text.encode("utf-8"), "text/html")[0] == text
    decoded, problems = decode_html(text.encode("utf-8"), "text/html; charset=ISO-8859-1")
    assert "Öskemen" in decoded and problems
    latin = "<html><body><p>caf\xe9</p></body></html>".encode("latin-1")
    assert "café" in decode_html(latin, "text/html; charset=ISO-8859-1")[0]


def test_truncated_gzip_keeps_what_decoded_and_says_so():
    body = ("<p>" + "steppe " * 5000 + "</p>").encode()
    packed = gzip.compress(body)
    data, problem = decode_content(packed[: len(packed) // 2], "gzip")
    assert problem and "truncated" in problem
    assert body.startswith(data[:1000]) and len(data) > 0


def test_generic_layout_reads_any_page_with_trafilatura():
    paragraphs = [f"Paragraph {i} of a plain page about the Aral Sea and its fisheries, long enough to keep."
                  for i in range(5)]
    html = ("<html lang='en'><head><title>Aral Sea</title></head><body><nav><a href='/'>Home</a></nav>"
            "<article><h1>The Aral Sea</h1>" + "".join(f"<p>{p}</p>" for p in paragraphs)
            + "</article><footer>© somebody</footer></body></html>")
    record = read_page(html, "http://127.0.0.1:8000/aral/", GENERIC).article
    assert record.text == "\n\n".join(paragraphs)
    assert record.language == "en"


def test_head_elements_are_read_wherever_the_parser_puts_them():
    # Read under /html/head: the parser drops a <head> met inside the body (its links
    # land in the body) and puts a second one beside the first.
    url = BASE + "/2024/01/02/a/"
    second = "<html><head></head><head><link rel='canonical' href='/2024/01/02/b/'></head><body></body></html>"
    assert read_page(second, url, ZOX_NEWS).canonical_url == BASE + "/2024/01/02/b/"
    misplaced = "<html><body><p>x</p><head><link rel='canonical' href='/2024/01/02/b/'></head></body></html>"
    assert read_page(misplaced, url, ZOX_NEWS).canonical_url == url
