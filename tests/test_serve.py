"""`steppe serve`: Datasette on a real fixture crawl and on a crafted hostile archive.

Datasette's in-process client for the pages and queries, a real `steppe serve`
process over HTTP, and headless Chromium for what only a browser can tell: that no
script of an archived page runs.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import markupsafe
import pytest

from archive.ingest import ingest_response
from archive.layouts import GENERIC
from archive.serve import datasette_for
from archive.serve.metadata import QUERIES
from archive.serve.pages import ARCHIVED_BODY_CSP
from archive.store import SCHEMA, Store
from archive.warc import WarcWriter, iter_responses

from conftest import html_exchange, minutes_ago, steppe

DOCS = Path(__file__).resolve().parent.parent / "docs"


class Client:
    """Datasette's in-process client, called synchronously."""

    def __init__(self, data_dir: Path):
        self.datasette = datasette_for(data_dir)
        asyncio.run(self.datasette.invoke_startup())

    def get(self, path: str, status: int = 200):
        response = asyncio.run(self.datasette.client.get(path))
        assert response.status_code == status, (path, response.status_code, response.text[:2000])
        return response

    def rows(self, path: str) -> list[dict]:
        page, _, query = path.partition("?")
        return self.get(f"{page}.json?{query}&_shape=objects&_size=max").json()["rows"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# The real crawl ------------------------------------------------------------------


@pytest.fixture(scope="module")
def crawl(fixture_crawl):
    return fixture_crawl


@pytest.fixture(scope="module")
def client(crawl):
    return Client(crawl.data_dir)


def test_metadata_describes_every_table_and_column_from_the_schema(client):
    metadata = client.get("/-/metadata.json").json()
    assert metadata["title"] and metadata["license"] and metadata["source"]
    tables = metadata["databases"]["archive"]["tables"]
    for name, table in SCHEMA.items():
        assert tables[name]["description"] == table.description + "."
        assert tables[name]["columns"] == {col: desc for col, (_, desc) in table.columns.items()}
    page = client.get("/archive/captures").text
    for _, description in SCHEMA["captures"].columns.values():
        assert str(markupsafe.escape(description)) in page
    assert "steppe archive" in client.get("/").text


def test_every_canned_query_runs_on_the_crawl(client):
    for name in QUERIES:
        response = client.get(f"/archive/{name}.json?_shape=objects&q=steppe")
        assert "error" not in response.json() or not response.json()["error"], name
    assert set(QUERIES) == {"latest_articles", "articles_per_month", "authors", "edited_articles",
                            "gone_articles", "crawl_runs", "search"}


def test_latest_articles_and_articles_per_month(client, crawl):
    articles = crawl.db.execute("select id, published from articles").fetchall()
    latest = client.rows("/archive/latest_articles")
    assert [row["article"] for row in latest] == [i for i, _ in sorted(articles, key=lambda a: a[1], reverse=True)]
    months = client.rows("/archive/articles_per_month")
    assert sum(row["articles"] for row in months) == sum(1 for _, published in articles if published)
    assert [row["month"] for row in months] == sorted({p[:7] for _, p in articles if p})


def test_authors_query_counts_co_authors(client, crawl):
    expected = {}
    for (authors,) in crawl.db.execute("select authors from articles"):
        for author in json.loads(authors or "[]"):
            expected[author] = expected.get(author, 0) + 1
    assert {row["author"]: row["articles"] for row in client.rows("/archive/authors")} == expected


def test_crawl_runs_query_counts_captures(client, crawl):
    [run] = client.rows("/archive/crawl_runs")
    assert run["status"] == "finished"
    assert run["captures"] == crawl.db["captures"].count == run["pages"]


def test_search_query_marks_matches_in_snippets(client, crawl):
    word = "Kazakhstan"
    expected = crawl.db.execute("select count(*) from articles where text like ? or title like ?",
                                [f"%{word}%", f"%{word}%"]).fetchone()[0]
    rows = client.rows(f"/archive/search?q={word}")
    assert len(rows) == expected > 0
    html = client.get(f"/archive/search?q={word}").text
    assert f"<mark>{word}</mark>" in html
    assert "\x02" not in html
    # The query as a reader opens it, empty, or typed with a stray quote: no error.
    for query in ("", "q=", 'q="unbalanced', "q=Kazakhstan%20OR"):
        assert client.get(f"/archive/search?{query}").status_code == 200, query


def test_articles_table_newest_first_with_facets_and_search(client, crawl):
    data = client.get("/archive/articles.json?_shape=objects&_size=max").json()
    published = [row["published"] for row in data["rows"]]
    assert published == sorted(published, reverse=True)
    facets = data["facet_results"]
    assert {name: facet["type"] for name, facet in facets.items()} == {
        "sources": "array", "section": "column", "authors": "array", "tags": "array", "published": "month",
        "status": "column"}
    tags = {}
    for (row_tags,) in crawl.db.execute("select tags from articles"):
        for tag in json.loads(row_tags or "[]"):
            tags[tag] = tags.get(tag, 0) + 1
    assert {v["value"]: v["count"] for v in facets["tags"]["results"]} == dict(
        sorted(tags.items(), key=lambda kv: (-kv[1], kv[0]))[:30])
    # Choosing a month filters the table to it.
    month = facets["published"]["results"][0]
    assert f"published__startswith={month['value']}" in month["toggle_url"]
    chosen = client.rows(f"/archive/articles?published__startswith={month['value']}")
    assert len(chosen) == month["count"]
    assert {row["published"][:7] for row in chosen} == {month["value"]}
    searched = client.rows("/archive/articles?_search=Kazakhstan")
    assert 0 < len(searched) < len(data["rows"])


def _assert_article_facets(client, selection: str, rows: list[dict]) -> None:
    """The facets of the articles page ``selection`` count ``rows``, in Datasette's order."""
    expected = {"section": Counter(row["section"] for row in rows if row["section"] is not None),
                "status": Counter(row["status"] for row in rows if row["status"] is not None),
                "authors": Counter(a for row in rows for a in set(json.loads(row["authors"]))),
                "tags": Counter(t for row in rows for t in set(json.loads(row["tags"]))),
                "sources": Counter(s for row in rows for s in set(json.loads(row["sources"]))),
                "published": Counter(row["published"][:7] for row in rows if row["published"])}
    facets = client.get(f"/archive/articles.json?{selection}&_facet_size=max").json()["facet_results"]
    for name, counts in expected.items():
        got = facets[name]["results"]
        assert {v["value"]: v["count"] for v in got} == counts, (selection, name)
        order = (lambda v: v["value"]) if name == "published" else (lambda v: (-v["count"], v["value"]))
        assert got == sorted(got, key=order, reverse=name == "published"), (selection, name)


def test_facets_count_what_datasette_would_on_every_selection(client, crawl):
    """The facets read article_authors/article_tags and indexes (archive.serve.facets);
    their counts are those of the rows each page selects, as Datasette's own
    json_each facet counts them."""
    tag, author = crawl.db.execute("select (select tag from article_tags limit 1),"
                                   " (select author from article_authors limit 1)").fetchone()
    month = crawl.db.execute("select substr(published, 1, 7) from articles order by published limit 1").fetchone()[0]
    # Two fifths of the articles, listed (under half: not counted as the table less the
    # rest): the author and source tables, not many more rows than the list, are walked
    # against it, the bigger tag table looked up by each listed article.
    ids = [row_id for (row_id,) in crawl.db.execute("select id from articles order by id")]
    two_fifths = f"id__lte={ids[len(ids) * 2 // 5 - 1]}"
    for selection in ["", f"tags__arraycontains={tag}", f"authors__arraycontains={author}",
                      f"published__startswith={month}", f"published__startswith={month[:4]}", "status=live",
                      "_search=Kazakhstan", f"_search=Kazakhstan&tags__arraycontains={tag}", two_fifths]:
        rows = client.rows(f"/archive/articles?{selection}&_nofacet=1")
        assert rows, selection
        _assert_article_facets(client, selection, rows)
    chosen = client.get(f"/archive/articles.json?tags__arraycontains={tag}&_facet_size=max").json()
    [selected] = [v for v in chosen["facet_results"]["tags"]["results"] if v["value"] == tag]
    assert selected["selected"] and f"tags__arraycontains={tag}" not in selected["toggle_url"]
    assert "timed out" not in client.get(f"/archive/articles?tags__arraycontains={tag}").text


def test_facets_of_a_selection_count_the_rows_the_page_selects(client, crawl):
    """A selection holding most of its table is counted as the whole table less the
    rest, the rest listed once when it is a few rows or looked for by each facet (page
    2 leaves out page 1); a smaller one in one pass for all column and month facets
    (archive.serve.selection): the counts are still those of the rows the page
    selects, pages after the first included, as Datasette counts them."""
    articles = client.rows("/archive/articles?_nofacet=1")
    _assert_article_facets(client, "status=live", [row for row in articles if row["status"] == "live"])
    # The first page left out is listed when it is one article (under 5% of the crawl's), not five.
    assert 20 <= len(articles) < 100
    for size in (1, 5):
        first = client.get(f"/archive/articles.json?_size={size}&_nofacet=1&_shape=objects").json()
        last = first["rows"][-1]
        after = [row for row in articles if row["published"] is None or row["published"] < last["published"]
                 or (row["published"] == last["published"] and row["id"] > last["id"])]
        assert 2 * len(after) > len(articles)
        _assert_article_facets(client, f"_size={size}&_next={urllib.parse.quote(first['next'])}", after)

    # Captures: most of them (200), and a few (the rarest kind), counted in one pass.
    captures = client.rows("/archive/captures?_nofacet=1")
    rarest = Counter(row["kind"] for row in captures).most_common()[-1][0]
    for selection, chosen in [("status=200", [row for row in captures if row["status"] == 200]),
                              (f"kind={rarest}", [row for row in captures if row["kind"] == rarest])]:
        assert len(captures) > len(chosen)
        facets = client.get(f"/archive/captures.json?{selection}&_facet_size=max").json()["facet_results"]
        for name in ("kind", "status", "content_type"):
            got = facets[name]["results"]
            assert {v["value"]: v["count"] for v in got} == Counter(
                row[name] for row in chosen if row[name] is not None), (selection, name)
            assert got == sorted(got, key=lambda v: (-v["count"], v["value"])), (selection, name)
    [selected] = [v for v in facets["kind"]["results"] if v["value"] == rarest]
    assert selected["selected"] and f"kind={rarest}" not in selected["toggle_url"]


def test_search_through_the_table_finds_the_same_rows_however_it_is_planned(client, crawl):
    """A search matching more than 5% of the articles is written for SQLite to walk an
    index (archive.serve.filters), a rarer one to look up each match: the same rows,
    newest first, with Datasette's other filters beside it."""
    def matches(word):
        return {row_id for (row_id,) in crawl.db.execute(
            "select rowid from articles_fts where articles_fts match ?", [f'"{word}"'])}

    words = sorted({word for (title,) in crawl.db.execute("select title from articles")
                    for word in title.split() if word.isalpha()})
    common = max(words, key=lambda word: len(matches(word)))
    rare = next(word for word in words if len(matches(word)) == 1)
    for word, walked in ((common, True), (rare, False)):
        expected = matches(word)
        page = client.get(f"/archive/articles.json?_search=%22{word}%22&_shape=objects&_size=max").json()
        assert ("+id in (select rowid" in page["query"]["sql"]) is walked, word
        assert {row["id"] for row in page["rows"]} == expected and page["filtered_table_rows_count"] == len(expected)
        assert [row["published"] for row in page["rows"]] == sorted((row["published"] for row in page["rows"]),
                                                                     reverse=True)
    through = client.rows(f"/archive/articles?_search=%22{common}%22&_where=version_count%20%3E%3D%201")
    assert len(through) == len(client.rows(f"/archive/articles?_search=%22{common}%22"))


def test_long_text_truncated_in_tables_whole_on_row_page(client, crawl):
    article_id, text = crawl.db.execute("select id, text from articles order by length(text) desc").fetchone()
    escaped = str(markupsafe.escape(text))
    assert escaped not in client.get("/archive/articles").text
    assert str(markupsafe.escape(text[:150])) in client.get("/archive/articles").text
    assert escaped in client.get(f"/archive/articles/{article_id}").text


def test_tables_link_each_row_to_its_archived_page(client, crawl):
    captures = client.get("/archive/captures?_size=max").text
    for (capture_id,) in crawl.db.execute("select id from captures"):
        assert f'href="/-/steppe/capture/{capture_id}"' in captures
    articles = client.get("/archive/articles?_size=max").text
    for (article_id,) in crawl.db.execute("select id from articles"):
        assert f'href="/-/steppe/article/{article_id}"' in articles


def test_archived_page_view_shows_the_record_from_its_warc_file(client, crawl):
    article_id, title = crawl.db.execute("select id, title from articles limit 1").fetchone()
    capture = crawl.db.execute("select id, url, fetched_at from captures where article_id = ?"
                               " order by fetched_at desc limit 1", [article_id]).fetchone()
    redirect = client.get(f"/-/steppe/article/{article_id}", status=302)
    assert redirect.headers["location"] == f"/-/steppe/capture/{capture[0]}"
    page = client.get(f"/-/steppe/capture/{capture[0]}").text
    assert capture[2] in page and str(markupsafe.escape(capture[1])) in page
    assert f'<iframe class="steppe-frame" sandbox title="The page as archived"\n  src="/-/steppe/capture/{capture[0]}/body"' in page
    body = client.get(f"/-/steppe/capture/{capture[0]}/body")
    assert body.headers["content-security-policy"] == ARCHIVED_BODY_CSP
    assert ARCHIVED_BODY_CSP.startswith("sandbox;") and "allow-" not in ARCHIVED_BODY_CSP
    assert body.headers["content-type"].startswith("text/html")
    # The very bytes of the record, found independently by its record id.
    record_id = crawl.db.execute("select record_id from captures where id = ?", [capture[0]]).fetchone()[0]
    [record] = [r for path in crawl.warc_files for r in iter_responses(path) if r.record_id == record_id]
    assert body.content == record.content()[0] and title.split()[0] in body.text


def test_archived_page_view_serves_only_listed_captures(client):
    client.get("/-/steppe/capture/999999", status=404)
    client.get("/-/steppe/capture/999999/body", status=404)
    sneaky = asyncio.run(client.datasette.client.get("/-/steppe/capture/..%2F..%2Fetc%2Fpasswd/body"))
    assert sneaky.status_code in (302, 404) and "root:" not in sneaky.text
    client.get("/-/steppe/article/999999/diff", status=404)


def test_nothing_writes_through_the_web_interface(client, crawl):
    before = crawl.db["articles"].count
    for sql in ("delete from articles", "update articles set title = 'x'", "drop table captures",
                "select 1; delete from articles", "pragma journal_mode = delete"):
        response = client.get(f"/archive.json?sql={sql}", status=400)
        assert response.json()["error"], sql
    assert crawl.db["articles"].count == before
    assert not any(query.get("write") for query in QUERIES.values())


def test_steppe_serve_answers_over_http(crawl):
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "crawler.cli", "serve", "--data-dir", str(crawl.data_dir),
                                "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for(base + "/-/versions.json")
        with urllib.request.urlopen(base + "/archive/articles.json?_shape=objects&_size=max") as response:
            assert len(json.load(response)["rows"]) == crawl.db["articles"].count
        with urllib.request.urlopen(base + "/-/steppe/capture/1/body") as response:
            assert response.headers["Content-Security-Policy"] == ARCHIVED_BODY_CSP
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_an_archive_from_before_the_author_and_tag_tables_gets_them_when_served(crawl, client, tmp_path):
    shutil.copy(crawl.data_dir / "archive.db", tmp_path / "archive.db")
    old = sqlite3.connect(tmp_path / "archive.db")
    old.executescript("drop table article_authors; drop table article_tags;")
    old.close()
    facets = "/archive/articles.json?_facet_size=max"
    assert Client(tmp_path).get(facets).json()["facet_results"] == client.get(facets).json()["facet_results"]


def test_steppe_serve_without_an_archive_is_a_usage_error(tmp_path):
    result = steppe("serve", "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert "no archive database" in result.stderr


def _wait_for(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


# A crafted hostile archive ------------------------------------------------------------


class Beacon(ThreadingHTTPServer):
    """Records every path requested: a script that runs in the browser calls here."""

    def __init__(self):
        self.hits: list[str] = []
        self.pages: dict[str, bytes] = {}
        beacon = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                beacon.hits.append(self.path)
                body = beacon.pages.get(self.path, b"ok")
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def beacon():
    server = Beacon()
    yield server
    server.shutdown()


ARTICLE_URL = "http://127.0.0.1:9/2021/09/14/steppe-rivers/"
PARAGRAPHS = [f"Paragraph {i} about the rivers of the steppe & its <b>cities</b>, told at some length here."
              for i in range(6)]


def hostile_page(beacon_url: str, paragraphs: list[str]) -> str:
    title = f'&lt;script&gt;location.href="{beacon_url}/title"&lt;/script&gt; Rivers'
    body = "".join(f"<p>{markupsafe.escape(p)}</p>" for p in paragraphs)
    return (f'<html lang="en"><head><title>{title}</title><meta property="og:title" content="{title}">'
            f'<meta property="article:published_time" content="2021-09-14T08:30:00+02:00">'
            f'<script>location.href = "{beacon_url}/page-script";</script></head>'
            f"<body><article><h1>{title}</h1>{body}"
            f"<img src=\"x\" onerror=\"location.href='{beacon_url}/onerror'\"></article></body></html>")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, beacon):
    """An archive of one article in two versions, its title and page full of script."""
    data_dir = tmp_path_factory.mktemp("hostile")
    edited = PARAGRAPHS[:2] + ["A paragraph rewritten after <publication>."] + PARAGRAPHS[3:] + ["A new ending."]
    exchanges = [
        replace(html_exchange(ARTICLE_URL, "", at=minutes_ago(minutes), headers=[
            ("Content-Type", "text/html; charset=UTF-8"), ("Content-Encoding", "gzip")]),
            body=gzip.compress(hostile_page(beacon.url, paragraphs).encode()))
        for minutes, paragraphs in ((30, PARAGRAPHS), (10, edited))
    ]
    with WarcWriter(data_dir / "warcs", "steppe-hostile", info={"crawl-id": "hostile"}) as writer:
        for exchange in exchanges:
            writer.write_exchange(exchange)
    store = Store(data_dir / "archive.db")
    with store.transaction():
        store.start_crawl("hostile", started=minutes_ago(31).isoformat(), status="finished")
        for path in writer.closed_files:
            for record in iter_responses(path):
                ingest_response(store, record, GENERIC)
    store.close()
    beacon.pages["/control"] = hostile_page(beacon.url, PARAGRAPHS).encode()
    return data_dir


@pytest.fixture(scope="module")
def hostile_client(hostile):
    return Client(hostile)


def _db(data_dir: Path) -> sqlite3.Connection:
    return sqlite3.connect(data_dir / "archive.db")


def test_crafted_archive_holds_scripts_in_title_and_page(hostile):
    [(title, versions)] = _db(hostile).execute("select title, version_count from articles").fetchall()
    assert title.startswith("<script>location.href=") and versions == 2


def test_titles_and_texts_are_escaped_everywhere(hostile_client):
    for path in ("/archive/articles", "/archive/articles/1", "/archive/latest_articles", "/archive/edited_articles",
                 "/archive/search?q=rivers", "/archive/article_versions", "/-/steppe/article/1/diff",
                 "/-/steppe/capture/1", "/archive/articles?_search=rivers"):
        html = hostile_client.get(path).text
        assert "<script>location" not in html, path
        assert "&lt;script&gt;location" in html or "&lt;/script&gt;" in html or path == "/-/steppe/capture/1", path
    assert "&lt;b&gt;cities&lt;/b&gt;" in hostile_client.get("/archive/articles/1").text


def test_archived_body_is_decoded_and_sandboxed(hostile_client):
    body = hostile_client.get("/-/steppe/capture/2/body")
    assert body.headers["content-security-policy"] == ARCHIVED_BODY_CSP
    assert "content-encoding" not in body.headers
    assert "A new ending." in body.text and "<script>location.href" in body.text


def test_edited_articles_and_the_diff_view(hostile_client):
    [row] = hostile_client.rows("/archive/edited_articles")
    assert row["versions"] == 2 and row["versions_first_seen"].count(" | ") == 1
    assert "[what changed]" in hostile_client.get("/archive/articles").text
    html = hostile_client.get("/-/steppe/article/1/diff").text
    assert '<p class="del">Paragraph 2 about' in html
    assert '<p class="add">A paragraph rewritten after &lt;publication&gt;.</p>' in html
    assert '<p class="add">A new ending.</p>' in html
    versions = [v for (v,) in _db(Path(hostile_client.datasette.plugin_config("steppe")["warc_dir"]).parent)
                .execute("select id from article_versions order by first_seen")]
    same = hostile_client.get(f"/-/steppe/article/1/diff?from={versions[0]}&to={versions[0]}").text
    assert "These two versions have the same text." in same
    hostile_client.get("/-/steppe/article/1/diff?from=999", status=404)


def test_gone_articles_query(hostile, hostile_client):
    assert hostile_client.rows("/archive/gone_articles") == []
    with _db(hostile) as db:
        db.execute("update articles set status = 'gone'")
    try:
        assert [row["article"] for row in hostile_client.rows("/archive/gone_articles")] == [1]
    finally:
        with _db(hostile) as db:
            db.execute("update articles set status = 'live'")


def test_capture_rows_never_name_a_path_outside_the_warc_folder(hostile, hostile_client):
    with _db(hostile) as db:
        db.execute("update captures set warc_filename = '../archive.db' where id = 1")
    try:
        hostile_client.get("/-/steppe/capture/1/body", status=404)
    finally:
        with _db(hostile) as db:
            db.execute("update captures set warc_filename = (select warc_filename from captures where id = 2)"
                       " where id = 1")


def test_pages_load_while_a_crawl_holds_a_write_transaction(hostile, hostile_client):
    writer = sqlite3.connect(hostile / "archive.db", isolation_level=None)
    try:
        writer.execute("begin immediate")
        writer.execute("insert into crawls (id, status) values ('concurrent', 'running')")
        for path in ("/archive/articles", "/archive/crawl_runs", "/-/steppe/capture/1", "/archive/search?q=rivers"):
            hostile_client.get(path)
    finally:
        writer.execute("rollback")
        writer.close()


# Headless Chromium ------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium():
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("headless Chromium not available: install Debian's `chromium` package (.ci/run does)")
    return path


def browse(chromium: str, url: str, tmp_path: Path, screenshot: Path | None = None) -> str:
    """Load a page as a user would, scripts and timers included; return its DOM."""
    args = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--disable-background-networking", "--no-first-run",
            f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=1280,900",
            "--virtual-time-budget=4000"]
    if screenshot is not None:
        args.append(f"--screenshot={screenshot}")
    else:
        args.append("--dump-dom")
    result = subprocess.run([*args, url], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.fixture(scope="module")
def served(request):
    """`steppe serve` on a data directory, in its own process, for the browser."""
    processes = []

    def start(data_dir: Path) -> str:
        port = free_port()
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "crawler.cli", "serve", "--data-dir", str(data_dir), "--port", str(port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        base = f"http://127.0.0.1:{port}"
        _wait_for(base + "/-/versions.json")
        return base

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=20)


def test_no_script_of_an_archived_page_runs_in_the_browser(chromium, hostile, beacon, served, tmp_path):
    # The detector works: the same page loaded bare runs its script and calls the beacon.
    browse(chromium, beacon.url + "/control", tmp_path)
    assert "/page-script" in beacon.hits
    beacon.hits.clear()
    base = served(hostile)
    for path in ("/-/steppe/capture/1", "/-/steppe/capture/2", "/-/steppe/article/1/diff", "/archive/articles",
                 "/archive/articles/1", "/archive/search?q=rivers", "/-/steppe/capture/2/body"):
        browse(chromium, base + path, tmp_path)
    assert beacon.hits == []


def test_screenshots_of_search_and_archived_page(chromium, crawl, served, tmp_path):
    base = served(crawl.data_dir)
    article_capture = crawl.db.execute("select id from captures where article_id is not null limit 1").fetchone()[0]
    dom = browse(chromium, base + "/archive/search?q=water", tmp_path)
    assert "<mark>water</mark>" in dom
    # STEPPE_SCREENSHOTS=docs refreshes the README's screenshots.
    folder = DOCS if os.environ.get("STEPPE_SCREENSHOTS") == "docs" else tmp_path
    shots = {"screenshot-search.png": "/archive/search?q=water",
             "screenshot-archived-page.png": f"/-/steppe/capture/{article_capture}"}
    for name, path in shots.items():
        browse(chromium, base + path, tmp_path, screenshot=folder / name)
        png = (folder / name).read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 20_000, name


# Hostile text in every text column ----------------------------------------------------------


def hostile_texts(beacon_url: str) -> list[str]:
    """What a hostile page (or a hostile WARC file) can put in any text the archive
    keeps: each, if it ran, would rename the page and call the beacon."""
    return [
        f'<script>document.title="pwned";fetch("{beacon_url}/script")</script>',
        f"<img src=x onerror=\"document.title='pwned';fetch('{beacon_url}/onerror')\">",
        f"javascript:document.title='pwned';fetch('{beacon_url}/javascript-url')",
        f"\"><svg onload=\"document.title='pwned';fetch('{beacon_url}/svg')\">",
        "'; drop table articles; --",
    ]


@pytest.fixture(scope="module")
def hostile_everywhere(fixture_crawl, tmp_path_factory, beacon):
    """A copy of a real crawl's archive with hostile text in every text column of every
    table (JSON lists of hostile strings where a column holds a JSON list)."""
    from contextlib import closing

    data_dir = tmp_path_factory.mktemp("hostile-everywhere") / "data"
    shutil.copytree(fixture_crawl.data_dir, data_dir)
    texts = hostile_texts(beacon.url)
    # The capture view reads the record from the WARC file this column names (a hostile
    # file name is test_capture_rows_never_name_a_path_outside_the_warc_folder's case).
    kept = {("captures", "warc_filename")}
    with closing(sqlite3.connect(data_dir / "archive.db")) as db, db:
        for name, table in SCHEMA.items():
            keys = [table.pk] if isinstance(table.pk, str) else table.pk
            for n, (column, (kind, description)) in enumerate(table.columns.items()):
                if kind is not str or (name, column) in kept:
                    continue
                text = texts[n % len(texts)]
                value = json.dumps([text, "Ann <b>Author</b>"]) if "JSON list" in description else text
                if column in keys or any(column in unique for unique in table.unique):  # one per row
                    db.execute(f"update [{name}] set [{column}] = ? || rowid", [value])
                else:
                    db.execute(f"update [{name}] set [{column}] = ?", [value])
        db.execute("update captures set crawl_id = (select id from crawls limit 1)")
    return data_dir


def test_sql_time_limit_stops_a_runaway_query(client):
    assert client.datasette.setting("sql_time_limit_ms") == 1000
    endless = "with recursive n(i) as (select 1 union all select i + 1 from n) select count(*) from n"
    response = client.get(f"/archive.json?sql={urllib.parse.quote(endless)}", status=400)
    assert "too long" in response.json()["error"]


def test_hostile_text_in_every_column_never_runs(chromium, hostile_everywhere, beacon, served, tmp_path):
    from datasette.utils import tilde_encode

    # The detectors work: the same texts loaded bare rename the page and call the beacon.
    beacon.pages["/control-everywhere"] = "".join(hostile_texts(beacon.url)[:2]).encode()
    assert "<title>pwned</title>" in browse(chromium, beacon.url + "/control-everywhere", tmp_path)
    assert "/script" in beacon.hits
    beacon.hits.clear()

    base = served(hostile_everywhere)
    db = sqlite3.connect(hostile_everywhere / "archive.db")
    paths = [f"/archive/{name}" for name in SCHEMA] + [f"/archive/{name}" for name in QUERIES]
    for name, table in SCHEMA.items():  # each table's first row page
        keys = [table.pk] if isinstance(table.pk, str) else table.pk
        row = db.execute(f"select {', '.join(f'[{key}]' for key in keys)} from [{name}] limit 1").fetchone()
        if row is not None:
            paths.append(f"/archive/{name}/" + ",".join(tilde_encode(str(value)) for value in row))
    capture, article = db.execute("select id, article_id from captures where article_id is not null").fetchone()
    paths += [f"/-/steppe/capture/{capture}", f"/-/steppe/capture/{capture}/body", f"/-/steppe/article/{article}",
              f"/-/steppe/article/{article}/diff", "/archive/search?q=pwned", "/archive/articles?_search=title"]
    for n, path in enumerate(paths):
        profile = tmp_path / f"page-{n}"  # a fresh browser profile for each page
        profile.mkdir()
        dom = browse(chromium, base + path, profile)
        assert "<title>pwned</title>" not in dom, path  # (the texts may show in a title, as text)
        assert 'href="javascript:' not in dom.lower(), path
    assert beacon.hits == []
    assert db.execute("select count(*) from articles").fetchone()[0] > 0  # the SQL text stayed text
