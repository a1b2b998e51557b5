"""The SQLite store and the one ingest path, on real WARC records and a real database file."""

import json
import sqlite3

import sqlite_utils

from archive.ingest import ingest_response, read_capture, store_capture
from archive.layouts import GENERIC
from archive.learn import _latest_article_records
from archive.store import ARTICLE_LISTS, SCHEMA, SCHEMA_VERSION, Store

from conftest import html_exchange, minutes_ago


def page(title: str, paragraphs: list[str], canonical: str | None = None) -> str:
    link = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f'<html lang="en"><head><title>{title}</title>{link}'
            f'<meta property="article:published_time" content="2021-09-14T08:30:00+02:00"></head>'
            f"<body><nav><a href='/'>Home</a></nav><article><h1>{title}</h1>{body}</article></body></html>")


TEXT = [f"Paragraph {i} of a long enough article about the steppe, its rivers and its cities, told at length."
        for i in range(6)]


def test_schema_is_created_once_and_migrates_additively(tmp_path):
    path = tmp_path / "archive.db"
    Store(path).close()
    first = sqlite_utils.Database(path).schema
    Store(path).close()  # idempotent
    assert sqlite_utils.Database(path).schema == first
    db = sqlite_utils.Database(path)
    assert db.execute("pragma journal_mode").fetchone()[0] == "wal"
    assert db.execute("pragma user_version").fetchone()[0] == SCHEMA_VERSION
    for name, table in SCHEMA.items():
        assert [c.name for c in db[name].columns] == list(table.columns)
    assert db["articles_fts"].exists()

    # A database from before a column existed gains it, keeping its rows.
    old = tmp_path / "old.db"
    legacy = sqlite3.connect(old)
    legacy.execute("create table articles (id integer primary key, url text, title text)")
    legacy.execute("insert into articles (url, title) values ('http://x/', 'Kept')")
    legacy.commit()
    legacy.close()
    Store(old).close()
    db = sqlite_utils.Database(old)
    assert "text_hash" in {c.name for c in db["articles"].columns}
    assert db.execute("select title from articles").fetchall() == [("Kept",)]


def test_same_capture_twice_is_one_capture_and_url_variants_are_one_article(tmp_path, write_warc):
    canonical = "http://127.0.0.1:9/2021/09/14/steppe/"
    records = write_warc([
        html_exchange(canonical + "?utm_source=x", page("Steppe", TEXT, canonical), at=minutes_ago(3)),
        html_exchange(canonical + "amp/", page("Steppe", TEXT, canonical), at=minutes_ago(2)),
        html_exchange(canonical + "?replytocom=7#respond", page("Steppe", TEXT), at=minutes_ago(1)),
    ])
    store = Store(tmp_path / "a.db")
    results = [ingest_response(store, r, GENERIC) for r in records]
    assert [r.article_new for r in results] == [True, False, False]
    again = [ingest_response(store, r, GENERIC) for r in records]
    assert all(r.capture_id is None for r in again)
    db = store.db
    assert db["captures"].count == 3
    assert db.execute("select url, version_count from articles").fetchall() == [(canonical, 1)]
    assert db["article_versions"].count == 1
    row = next(db["articles"].rows)
    assert row["published"] == "2021-09-14T08:30:00+02:00"
    assert json.loads(row["authors"]) == []
    # Full-text search is kept in step by triggers.
    assert db.execute("select count(*) from articles_fts where articles_fts match 'rivers'").fetchone()[0] == 1


def test_ingest_order_does_not_matter(tmp_path, write_warc):
    url = "http://127.0.0.1:9/2021/09/14/edited/"
    edited = TEXT[:-1] + ["An added last paragraph that changes the article’s text for good."]
    records = write_warc([
        html_exchange(url, page("Before", TEXT), at=minutes_ago(30)),
        html_exchange(url, page("After", edited), at=minutes_ago(20)),
        html_exchange(url, page("After", edited), at=minutes_ago(10)),
    ])

    def state(order):
        store = Store(":memory:")
        for r in order:
            ingest_response(store, r, GENERIC)
        db = store.db
        article = db.execute("select title, first_seen, last_seen, last_changed, version_count, text_hash"
                             " from articles").fetchall()
        versions = db.execute("select text_hash, first_seen, last_seen, title from article_versions"
                              " order by first_seen").fetchall()
        return article, versions

    forward, backward = state(records), state(list(reversed(records)))
    assert forward == backward
    (title, first_seen, last_seen, last_changed, version_count, _), = forward[0]
    assert (title, version_count) == ("After", 2)
    assert first_seen == records[0].date and last_seen == records[2].date and last_changed == records[1].date
    assert [v[3] for v in forward[1]] == ["Before", "After"]


def test_pages_that_are_not_articles_are_captures_only(tmp_path, write_warc):
    records = write_warc([
        html_exchange("http://127.0.0.1:9/robots.txt", "User-agent: *\nDisallow: /wp-admin/\n",
                      headers=[("Content-Type", "text/plain")]),
        html_exchange("http://127.0.0.1:9/empty/", ""),
        html_exchange("http://127.0.0.1:9/gone/", "<html><body>Not found</body></html>", status=404),
    ])
    store = Store(tmp_path / "a.db")
    results = [ingest_response(store, r, GENERIC) for r in records]
    assert [r.kind for r in results] == ["robots", "other", "other"]
    assert results[1].problems == ["empty body"]
    assert store.db["articles"].count == 0
    rows = store.db.execute("select kind, status, problems from captures order by id").fetchall()
    assert rows == [("robots", 200, None), ("other", 200, "empty body"), ("other", 404, None)]


def test_full_text_search_follows_the_latest_text(tmp_path, write_warc):
    url = "http://127.0.0.1:9/2021/09/14/shrubs/"
    before = TEXT[:-1] + ["The saxaul shrub binds the sand of the desert edge."]
    after = TEXT[:-1] + ["The tamarisk shrub binds the sand of the desert edge."]
    records = write_warc([html_exchange(url, page("Shrubs", before), at=minutes_ago(20)),
                          html_exchange(url, page("Shrubs", after), at=minutes_ago(10)),
                          html_exchange(url, page("Shrubs", after), at=minutes_ago(5))])
    store = Store(tmp_path / "a.db")
    for record in records:
        ingest_response(store, record, GENERIC)

    def hits(word):
        return store.db.execute("select count(*) from articles_fts where articles_fts match ?", [word]).fetchone()[0]

    assert (hits("tamarisk"), hits("saxaul")) == (1, 0)
    assert store.db.execute("select version_count from articles").fetchone()[0] == 2
    trigger = store.db.execute("select sql from sqlite_master where name = 'articles_au'").fetchone()[0]
    assert 'UPDATE OF "title", "authors", "text"' in trigger


def _lists(db, derived: bool) -> dict[str, list]:
    """Authors, tags and sources per article URL: from their tables, or from the JSON
    lists in articles (``derived``: what they must equal)."""
    return {column: db.execute(
        f"select distinct a.url, j.value from articles a, json_each(a.{column}) j order by 1, 2" if derived else
        f"select a.url, t.[{item}] from [{table}] t join articles a on a.id = t.article_id order by 1, 2").fetchall()
        for column, (table, item) in ARTICLE_LISTS.items()}


def test_author_tag_and_source_tables_follow_the_articles_through_edits_and_merges(tmp_path):
    store = Store(tmp_path / "a.db")
    a, b = "http://127.0.0.1:9/2021/09/14/a/", "http://127.0.0.1:9/2021/09/14/b/"

    def capture(url, at, authors, tags, text="text", source="asia"):
        capture_id = store.insert_capture({"record_id": f"<urn:{url}{at}>", "url": url, "canonical_url": url,
                                           "fetched_at": at, "status": 200, "kind": "article", "source": source})
        store.save_article_capture({"url": url, "title": url, "authors": authors, "tags": tags, "text": text,
                                    "text_hash": text}, at, capture_id)
        assert _lists(store.db, derived=False) == _lists(store.db, derived=True)
        return _lists(store.db, derived=False)

    assert capture(a, "2021-09-14T10:00", ["Aida"], ["Water", "Energy", "Water"]) == {
        "authors": [(a, "Aida")], "tags": [(a, "Energy"), (a, "Water")], "sources": [(a, "asia")]}
    assert capture(a, "2021-09-15T10:00", ["Aida", "Bolat"], ["Energy"], "edited")["tags"] == [(a, "Energy")]
    assert capture(a, "2021-09-13T10:00", [], ["Older"])["tags"] == [(a, "Energy")]  # an older capture: no change
    assert capture(b, "2021-09-16T10:00", ["Chingiz"], ["Rail"], source="rail")["tags"] == [(a, "Energy"), (b, "Rail")]
    # b was a's former URL: one article, with the lists of its latest capture (b's).
    redirect = store.insert_capture({"record_id": "<urn:redirect>", "url": b, "canonical_url": b,
                                     "fetched_at": "2021-09-17T10:00", "status": 301, "kind": "article"})
    store.save_alias(b, a, "2021-09-17T10:00", redirect)
    assert _lists(store.db, derived=False) == _lists(store.db, derived=True) == {
        "authors": [(a, "Chingiz")], "tags": [(a, "Rail")], "sources": [(a, "asia"), (a, "rail")]}

    # An archive from before these tables gets them filled when opened.
    for table, _ in ARTICLE_LISTS.values():
        store.db.execute(f"drop table [{table}]")
    store.close()
    reopened = Store(tmp_path / "a.db")
    assert _lists(reopened.db, derived=False) == {"authors": [(a, "Chingiz")], "tags": [(a, "Rail")],
                                                  "sources": [(a, "asia"), (a, "rail")]}


def test_a_capture_is_stored_whole_or_not_at_all_and_a_batch_is_one_transaction(tmp_path, write_warc):
    """A capture row without its article would count as archived for good: the
    frontier would never fetch that article again (a kill -9 between two statements
    left exactly that while sqlite-utils committed each statement on its own)."""
    base = "http://127.0.0.1:9/2021/09/"
    records = write_warc([html_exchange(f"{base}{n:02d}/{slug}/", page(slug.title(), TEXT), at=minutes_ago(10 - n))
                          for n, slug in enumerate(["first", "refused", "third"], start=1)])
    store = Store(tmp_path / "a.db")
    # The database refuses one article (as a full disk or a constraint would), after
    # its capture row has been written.
    store.db.execute("create trigger refuse before insert on articles when new.url like '%/refused/'"
                     " begin select raise(abort, 'refused by the test'); end")
    readings = [(r, read_capture(r, GENERIC)) for r in records]
    failures = []
    with store.transaction():
        for response, reading in readings:
            try:
                store_capture(store, response, reading)
            except sqlite3.IntegrityError as exc:
                failures.append(str(exc))
    assert failures == ["refused by the test"]
    db = sqlite_utils.Database(tmp_path / "a.db")  # another connection: only what was committed
    assert [url for (url,) in db.execute("select url from captures order by id")] == [base + "01/first/",
                                                                                      base + "03/third/"]
    assert db.execute("select count(*) from captures where article_id is null").fetchone()[0] == 0
    assert db["articles"].count == 2

    # Until the batch's transaction ends, another connection sees none of it.
    store.db.execute("drop trigger refuse")
    with store.transaction():
        store_capture(store, *readings[1])
        assert db["captures"].count == 2
    assert db["captures"].count == 3 and db["articles"].count == 3


def test_the_lookups_of_one_url_use_its_index_not_a_walk_through_every_capture(tmp_path):
    """What the crawl asks of every response (a revisit's original), of every
    revalidation (its validators), and what ingest asks of every article (the 404s
    that precede it): with the facets' status indexes also there, or one of
    ``article_id`` (null for every listing page), a plan led by the wrong one walks
    every such capture of the archive for each URL. And what a crawl asks once of its
    host (its archived articles): not a walk through every other host's."""
    store = Store(tmp_path / "a.db")
    url = "http://127.0.0.1:9/2021/09/14/a/"
    capture_id = store.insert_capture({"record_id": "<urn:a>", "url": url, "canonical_url": url,
                                       "fetched_at": "2021-09-14T10:00", "status": 200, "kind": "article",
                                       "payload_digest": "sha1:A", "etag": '"a"'})
    asked: list[str] = []
    store.db.conn.set_trace_callback(asked.append)
    assert store.earlier_capture(url, "sha1:A").record_id == "<urn:a>"
    assert store.earlier_capture(url).record_id == "<urn:a>"
    assert store.validators(url) == {"If-None-Match": '"a"'}
    assert store.revisited_location(None, url, "sha1:A") is not None
    store.save_article_capture({"url": url, "title": "A", "authors": [], "tags": [], "text": "text",
                                "text_hash": "text"}, "2021-09-14T10:00", capture_id)
    assert store.seen_article_urls("http://127.0.0.1:9/") == {url}
    assert _latest_article_records(store.db, "127.0.0.1:9") == [(None, None, None)]
    store.db.conn.set_trace_callback(None)
    by_host = [sql for sql in asked if "canonical_url >= " in sql or "canonical_url between" in sql]
    assert len(by_host) == 2
    by_url = [sql for sql in asked if sql.lstrip().lower().startswith("select") and "from captures where url" in sql]
    assert len(by_url) == 4
    gone = [sql for sql in asked if sql.startswith("update captures set article_id = ") and "aliases" in sql]
    assert len(gone) == 1
    for sql, index in [(sql, "idx_captures_url_payload_digest") for sql in by_url] + [
            (gone[0], "idx_captures_canonical_url"), (gone[0], "idx_aliases_target_url")] + [
            (sql, "idx_captures_canonical_url") for sql in by_host]:
        plan = " ".join(row[3] for row in store.db.execute("explain query plan " + sql))
        assert f"USING INDEX {index} " in plan, (sql, plan)
