"""Generic extraction: pages of sites steppe has no layout for, read from real WARC files."""

import sqlite3

from archive.extract import read_page
from archive.layouts import GENERIC

from conftest import html_exchange, steppe

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
