"""Generic extraction: pages of sites steppe has no layout for, read from real WARC files."""

import gzip
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from archive.extract import read_page
from archive.layouts import GENERIC
from archive.pagemeta import byline_names, site_name_keys, title_without_site_name

from conftest import html_exchange, steppe

REPO = Path(__file__).resolve().parent.parent

PARAGRAPHS = "".join(
    f"<p>Paragraph {i} on the water of the Syr Darya, shared by farmers of three countries"
    f" along a river that no longer reaches the Aral Sea.</p>" for i in range(6))


def test_a_meta_author_without_json_ld_author_is_read_by_rebuild(write_warc, tmp_path):
    # 21 of 181 real news pages were lost: `steppe rebuild --site generic` raised
    # "TypeError: '_MetaTags' object is not subscriptable" on exactly this page.
    html = ("<html lang='en'><head><title>Water of the Syr Darya</title>"
            "<meta name='author' content='Aigerim Seitkali'></head>"
            f"<body><article><h1>Water of the Syr Darya</h1>{PARAGRAPHS}</article></body></html>")
    write_warc([html_exchange("http://127.0.0.1:9/2024/05/water/", html)])
    result = steppe("rebuild", str(tmp_path / "warcs"), "--db", str(tmp_path / "r.db"), "--site", "generic")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = sqlite3.connect(tmp_path / "r.db").execute("select title, authors, text from articles").fetchall()
    assert len(rows) == 1
    title, authors, text = rows[0]
    assert (title, authors) == ("Water of the Syr Darya", '["Aigerim Seitkali"]')
    assert text.startswith("Paragraph 0 on the water")


def test_meta_author_alone_is_the_author():
    html = ("<html><head><title>T</title><meta name='author' content='Dana Bekova'></head>"
            f"<body><main><h1>T</h1>{PARAGRAPHS}</main></body></html>")
    assert read_page(html, "http://127.0.0.1:9/a", GENERIC).article.authors == ["Dana Bekova"]


def news_page(*, jsonld_authors: list[str], extra_head: str = "", extra_body: str = "") -> str:
    """A news article as themes of many platforms print it: metadata in <head>, a
    byline, the text, and around it what is never the article's text."""
    authors = ", ".join(f'{{"@type": "Person", "name": "{name}"}}' for name in jsonld_authors)
    return f"""<html lang="en"><head>
<title>Water of the Syr Darya | Steppe Review</title>
<meta property="og:title" content="Water of the Syr Darya – Steppe Review">
<meta property="og:site_name" content="Steppe Review">
<meta property="article:published_time" content="2024-05-03T09:15:00+05:00">
<meta property="article:modified_time" content="2024-05-04T10:00:00+05:00">
<meta property="article:section" content="Central Asia">
<script type="application/ld+json">{{"@context": "https://schema.org", "@type": "NewsArticle",
 "headline": "Water of the Syr Darya", "author": [{authors}]}}</script>{extra_head}
</head><body>
<header><nav><a href="/">Home</a> <a href="/category/central-asia/">Central Asia</a></nav></header>
<main><article>
<h1>Water of the Syr Darya</h1>
<div class="entry-meta"><span class="byline">By <a rel="author" href="/author/aigerim/">Aigerim Seitkali</a>
 and <a rel="author" href="/author/timur/">Timur Nazarov</a></span> | <time datetime="2024-05-03T09:15:00+05:00">May 3</time></div>
<div class="share-buttons"><a href="#">Share on Facebook</a> <a href="#">Tweet this story</a></div>
<div class="entry-content">{PARAGRAPHS}
<div class="newsletter-signup"><p>Get the Steppe Review newsletter every Friday in your inbox.</p></div>
<p hidden>Text for screen readers that nobody is shown here.</p>
<p style="display: none">A hidden teaser about the printed edition of the magazine.</p>
</div>
<div class="post-tags"><a rel="tag" href="/tag/water/">water</a> <a rel="tag" href="/tag/aral/">Aral Sea</a></div>
<div class="author-bio"><p>Aigerim Seitkali writes about rivers and farming from Almaty for several outlets.</p></div>
</article>
<section class="related-posts"><h3>Read next</h3><article><h2>Another story about dams</h2>
<span class="byline">By <a rel="author" href="/author/x/">Someone Else</a></span>
<p>A teaser of another article about the dams of the Vakhsh river and their electricity.</p></article></section>
<div id="comments"><p>Great article, thank you for writing about the river and its farmers!</p></div>
</main>{extra_body}<footer>© Steppe Review</footer></body></html>"""


def read_news(**kwargs):
    return read_page(news_page(**kwargs), "http://127.0.0.1:9/2024/05/03/water/", GENERIC).article


def test_generic_page_keeps_only_its_own_article():
    record = read_news(jsonld_authors=["Aigerim Seitkali", "Timur Nazarov"])
    assert record.text.startswith("Paragraph 0 on the water")
    assert record.text.endswith("no longer reaches the Aral Sea.")
    for noise in ("Share on Facebook", "newsletter", "screen readers", "printed edition", "writes about rivers",
                  "Read next", "Vakhsh", "Great article", "Home"):
        assert noise not in record.text, noise


def test_generic_title_loses_the_site_name_and_dates_keep_their_time_zone():
    record = read_news(jsonld_authors=["Aigerim Seitkali"])
    assert record.title == "Water of the Syr Darya"
    assert (record.published, record.modified) == ("2024-05-03T09:15:00+05:00", "2024-05-04T10:00:00+05:00")
    assert (record.section, record.tags) == ("Central Asia", ["water", "Aral Sea"])


def test_every_author_when_json_ld_names_only_the_first():
    assert read_news(jsonld_authors=["Aigerim Seitkali"]).authors == ["Aigerim Seitkali", "Timur Nazarov"]
    # No JSON-LD author at all: the byline alone, never a related post's byline.
    assert read_news(jsonld_authors=[]).authors == ["Aigerim Seitkali", "Timur Nazarov"]


def test_a_byline_sharing_no_name_with_json_ld_is_not_this_articles():
    record = read_news(jsonld_authors=["Dana Bekova"])
    assert record.authors == ["Dana Bekova"]


def test_dates_from_the_page_when_no_metadata_declares_them():
    html = (news_page(jsonld_authors=[]).replace('<meta property="article:published_time"', '<meta property="x"')
            .replace('<meta property="article:modified_time"', '<meta property="y"'))
    record = read_page(html, "http://127.0.0.1:9/2024/05/03/water/", GENERIC).article
    assert record.published == "2024-05-03T09:15:00+05:00" and record.modified is None


def test_a_paragraph_the_page_repeats_stays_repeated():
    repeated = "<p>The same long paragraph, printed twice in a row by the page itself.</p>"
    html = news_page(jsonld_authors=[]).replace("<div class=\"newsletter-signup\">", repeated * 2 + "<div class=\"newsletter-signup\">")
    text = read_page(html, "http://127.0.0.1:9/2024/05/03/water/", GENERIC).article.text
    assert text.count("The same long paragraph, printed twice") == 2


def test_a_byline_in_the_text_names_every_author():
    html = ("<html><head><title>Steppe fires</title></head><body><article><h1>Steppe fires</h1>"
            "<p>By Aigerim Seitkali and Timur Nazarov</p>" + PARAGRAPHS + "</article></body></html>")
    record = read_page(html, "http://127.0.0.1:9/fires", GENERIC).article
    assert record.authors == ["Aigerim Seitkali", "Timur Nazarov"]


def test_byline_names_and_site_name_suffixes():
    assert byline_names("By Jane Roe, John Doe and Ana Lima | May 3, 2024 at 6:01 am") == [
        "Jane Roe", "John Doe", "Ana Lima"]
    assert byline_names("Par Sébastien Farcis, correspondant à Katmandou") == ["Sébastien Farcis"]
    assert byline_names("Aleš Vávra před 2 hodinami") == ["Aleš Vávra"]
    assert byline_names("Posted on 3 May 2024") == []
    keys = site_name_keys(["Steppe Review"], ["https://www.aktualne.cz/x"])
    assert title_without_site_name("Water | Steppe Review", keys) == "Water"
    assert title_without_site_name("West Ham hrozí gigantům | Aktuálně.cz", keys) == "West Ham hrozí gigantům"
    # A last part that is not the site's name is the headline's own.
    assert title_without_site_name("Dams – a history", keys) == "Dams – a history"


def test_the_extraction_bench_scores_both_extractors(tmp_path):
    page = tmp_path / "devset" / "pages" / "water"
    page.mkdir(parents=True)
    page.joinpath("source.html.gz").write_bytes(gzip.compress(news_page(jsonld_authors=["Aigerim Seitkali"]).encode()))
    page.joinpath("expected.html.gz").write_bytes(gzip.compress(f"<div>{PARAGRAPHS}</div>".encode()))
    page.joinpath("expected-metadata.json").write_text(json.dumps(
        {"title": "Water of the Syr Darya | Steppe Review", "byline": "By Aigerim Seitkali and Timur Nazarov",
         "publishedTime": "2024-05-03T09:15:00+05:00"}))
    result = subprocess.run([sys.executable, str(REPO / "bench" / "extract.py"), "--devset", str(tmp_path / "devset")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()[2:4]}
    assert set(rows) == {"steppe", "trafilatura"}
    precision, recall, f1, title, byline, date, ms = map(float, rows["steppe"])
    assert (precision, recall, f1, title, byline, date) == (1.0, 1.0, 1.0, 1.0, 1.0, 1.0) and ms > 0


def test_json_ld_in_cdata_and_a_headline_the_title_does_not_bear_out():
    html = ("<html><head><title>Hermitian matrix - Wikipedia</title>"
            "<meta property='og:site_name' content='Wikipedia'>"
            "<script type='application/ld+json'><![CDATA[{\"@type\": \"Article\", \"headline\": "
            "\"matrix equal to its conjugate-transpose\", \"datePublished\": \"2003-02-28T21:51:08Z\"}]]></script>"
            f"</head><body><main>{PARAGRAPHS}</main></body></html>")
    record = read_page(html, "http://127.0.0.1:9/wiki/Hermitian_matrix", GENERIC).article
    assert record.published == "2003-02-28T21:51:08+00:00"
    assert record.title == "Hermitian matrix"
