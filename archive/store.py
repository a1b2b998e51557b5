"""The SQLite store: schema declared once, created and migrated idempotently.

The schema below is the single declaration: ``Store.migrate`` brings any older
database up to it (new tables, new columns, new indexes: additive only, nothing is
ever dropped), the README's schema section is generated from it by cog, and Datasette's
column descriptions come from it too.
"""

from __future__ import annotations

import json
import os
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from .warc import ResponseRef, RecordLocation

SCHEMA_VERSION = 2
_LAST_CHAR = "\U0010ffff"  # sorts after any character a URL may hold: prefix ranges end there
GONE_STATUSES = frozenset({404, 410})
# Answers that may change on the next try: a capture of one does not answer for its URL.
TRANSIENT_STATUSES = frozenset({408, 425, 429}) | frozenset(range(500, 600))
_ANSWERED = f"status < 500 and status not in {tuple(sorted(TRANSIENT_STATUSES - set(range(500, 600))))}"


@dataclass(frozen=True)
class Table:
    description: str
    columns: dict[str, tuple[type, str]]  # name → (type, description)
    pk: str | tuple[str, ...] = "id"
    foreign_keys: list[tuple[str, str, str]] = field(default_factory=list)
    unique: list[tuple[str, ...]] = field(default_factory=list)
    indexes: list[tuple[str, ...]] = field(default_factory=list)
    # index name → its terms as SQL, for what a column tuple cannot say: expressions, desc
    sql_indexes: dict[str, str] = field(default_factory=dict)
    fts: tuple[str, ...] = ()


_ARTICLE_FIELDS = {
    "title": (str, "Headline of the article"),
    "authors": (str, "JSON list of author names, co-authors named in the text included"),
    "published": (str, "First publication, ISO 8601 with the site's timezone"),
    "modified": (str, "Last modification the site declares, ISO 8601"),
    "section": (str, "Section (category) the site files the article under"),
    "tags": (str, "JSON list of the article's tags"),
    "description": (str, "Summary from the page's description meta tag"),
    "image": (str, "URL of the featured image"),
    "image_caption": (str, "Caption or credit of the featured image"),
    "language": (str, "Language code of the page, e.g. en"),
    "text": (str, "Body text: paragraphs separated by blank lines, typography as published"),
    "word_count": (int, "Words in the text"),
    "text_hash": (str, "SHA-256 of the normalised text: the identity of a version"),
}

# articles column holding a JSON list → (table of its items, that table's item column)
ARTICLE_LISTS = {"authors": ("article_authors", "author"), "tags": ("article_tags", "tag"),
                 "sources": ("article_sources", "source")}

# Tables in creation order: a table comes after those its foreign keys name.
SCHEMA: dict[str, Table] = {
    "crawls": Table(
        "One row per crawl run",
        {
            "id": (str, "Crawl id, also written in each WARC file's warcinfo record"),
            "started": (str, "When the run started (UTC)"),
            "finished": (str, "When the run ended (UTC), empty while it runs"),
            "status": (str, "running, finished, failed, interrupted, or unknown for a run known only from its WARC files"),
            "start_url": (str, "Section listing the crawl started from"),
            "site": (str, "Host of the section"),
            "source": (str, "Name of the source (a section of a site) the crawl archived"),
            "steppe_version": (str, "steppe version that ran the crawl"),
            "user_agent": (str, "User-Agent the crawl sent"),
            "requests": (int, "HTTP requests sent"),
            "pages": (int, "Responses archived in WARC"),
            "articles_new": (int, "Articles seen for the first time"),
            "articles_changed": (int, "Articles whose text changed"),
            "articles_unchanged": (int, "Articles fetched again and found unchanged"),
            "articles_gone": (int, "Articles the site stopped serving (404/410) in this run"),
            "errors": (int, "Fetches that failed for good (timeouts, refused, redirect loops, 4xx/5xx)"),
        },
    ),
    "articles": Table(
        "One row per article (canonical URL), as last captured",
        {
            "id": (int, "Row id"),
            "url": (str, "Canonical URL of the article"),
            **_ARTICLE_FIELDS,
            "first_seen": (str, "First capture of the article (UTC)"),
            "last_seen": (str, "Latest capture of the article (UTC)"),
            "last_changed": (str, "Capture from which the current text has been seen (UTC)"),
            "version_count": (int, "Distinct texts captured"),
            "status": (str, "live, or gone when the site stopped serving it"),
            "gone_since": (str, "When the site was first seen not serving it any more (UTC)"),
            "sources": (str, "JSON list of the sources whose crawls captured it (sections it is in)"),
        },
        unique=[("url",)],
        # Indexes that answer the table's facets, filters and sorts (the month facet
        # among them) without the rows: a row holds the article's whole text.
        indexes=[("published",), ("section", "published", "status"), ("status", "published", "section"),
                 ("title",), ("version_count",),
                 # An article's date by its id, without its row (one page each, text and all):
                 # the authors query reads it for every (author, article).
                 ("id", "published")],
        sql_indexes={"idx_articles_published_month": "substr(published, 1, 7)",
                     "idx_articles_published_desc_id": "published desc, id"},  # newest first, page by page
        fts=("title", "authors", "text"),
    ),
    # The JSON lists of articles.authors and articles.tags, one row per item, kept in
    # step by Store._save_article_lists: counting and filtering by author or tag through
    # json_each would read every article.
    **{table: Table(f"Each {item} of each article (articles.{column}, one row per {item})",
                    {"article_id": (int, "The article"), item: (str, f"One of its {column}")},
                    pk=("article_id", item), foreign_keys=[("article_id", "articles", "id")],
                    indexes=[(item, "article_id")])
       for column, (table, item) in ARTICLE_LISTS.items()},
    "captures": Table(
        "Every fetch archived: one row per WARC response record",
        {
            "id": (int, "Row id"),
            "record_id": (str, "WARC-Record-ID of the response record"),
            "crawl_id": (str, "Crawl run that made the fetch"),
            "url": (str, "URL fetched, query string included"),
            "canonical_url": (str, "Canonical URL of the page"),
            "fetched_at": (str, "When the request was sent (WARC-Date, UTC)"),
            "status": (int, "HTTP status"),
            "content_type": (str, "Media type of the response"),
            "kind": (str, "article, listing, robots, sitemap, feed or other"),
            "article_id": (int, "Article this capture shows, if it is one"),
            "text_hash": (str, "Hash of the article text in this capture"),
            "warc_filename": (str, "WARC file holding the response record"),
            "warc_offset": (int, "Byte offset of the response record in its file"),
            "warc_length": (int, "Length in bytes of the (gzipped) response record"),
            "payload_digest": (str, "WARC-Payload-Digest of the body"),
            "problems": (str, "What was wrong with the page, if anything"),
            "redirect_to": (str, "Canonical URL a redirect pointed to"),
            "refers_to": (str, "For a revisit record (304, or a body seen before): the record it stands for"),
            "etag": (str, "ETag the server sent, for conditional requests"),
            "last_modified": (str, "Last-Modified the server sent, for conditional requests"),
            "source": (str, "Source whose crawl made the fetch (from its WARC file)"),
        },
        foreign_keys=[("crawl_id", "crawls", "id"), ("article_id", "articles", "id")],
        unique=[("record_id",)],
        indexes=[("canonical_url",), ("crawl_id",), ("article_id", "fetched_at"), ("url", "payload_digest"),
                 # The table's facets, on the whole table or on a selection by one of them,
                 # newest first within the selection.
                 ("kind", "fetched_at", "status", "content_type"), ("status", "fetched_at", "kind", "content_type"),
                 ("content_type", "fetched_at", "kind", "status")],
        sql_indexes={"idx_captures_fetched_at_desc_id": "fetched_at desc, id"},  # newest first, page by page
    ),
    "article_versions": Table(
        "One row per distinct text of an article",
        {
            "id": (int, "Row id"),
            "article_id": (int, "The article"),
            "capture_id": (int, "First capture showing this text"),
            "first_seen": (str, "First capture with this text (UTC)"),
            "last_seen": (str, "Latest capture with this text (UTC)"),
            **_ARTICLE_FIELDS,
        },
        foreign_keys=[("article_id", "articles", "id"), ("capture_id", "captures", "id")],
        unique=[("article_id", "text_hash")],
        sql_indexes={"idx_article_versions_first_seen_desc_id": "first_seen desc, id"},  # newest first
    ),
    "aliases": Table(
        "Former URLs of articles: a URL that redirected (301/308) to the article",
        {
            "url": (str, "The former URL (canonicalised)"),
            "target_url": (str, "Where it redirected to"),
            "capture_id": (int, "Capture of the redirect"),
            "first_seen": (str, "First capture of the redirect (UTC)"),
        },
        pk="url",
        foreign_keys=[("capture_id", "captures", "id")],
        indexes=[("target_url",)],  # an article's former URLs (_link_gone_captures)
    ),
    # Crawl state, not archive: what the WARC files do not hold yet. A rebuild starts it empty.
    "frontier": Table(
        "What the crawls owe the archive: URLs found and not yet archived, unfinished listing walks",
        {
            "section": (str, "Section listing URL the entry belongs to"),
            "url": (str, "Canonical URL owed (kind article), or the section listing (kind walk)"),
            "kind": (str, "article, or walk: a listing walk that did not reach its end"),
            "state": (str, "owed (fetched by the next runs), given_up (the permanent answer in last_error),"
                           " or elsewhere: in the sitemaps, not in the section's listing"),
            "discovered": (str, "When it was first found (UTC); for a walk, when the unfinished walk began"),
            "crawl_id": (str, "Crawl run that found it"),
            "attempts": (int, "Runs in which fetching it failed for a transient reason"),
            "last_attempt": (str, "When it last failed (UTC)"),
            "last_error": (str, "Why it last failed, or the permanent answer that ended it"),
            "wait_runs": (int, "Runs to skip before trying again: the backoff across runs"),
            "found_via": (str, "The article whose read-next link found it, when the section's listing did not:"
                               " it is the section's only where its page says so"),
        },
        pk=("section", "url"),
        indexes=[("state",)],
    ),
}


class Store:
    """An archive database. Open it with ``Store(path)``; it migrates itself."""

    def __init__(self, path: str | os.PathLike, read_only: bool = False):
        """``read_only``: open an existing database without writing anything to it or
        beside it (no migration), e.g. to describe an archive on a read-only disk."""
        self.path = path
        self._known_crawls: set[str] = set()
        if read_only:
            # With no -wal file beside it no process has the database open to write
            # (the last one to close removes it): read it as immutable, which makes no
            # -wal/-shm files either (a plain read-only connection leaves both).
            immutable = "" if os.path.exists(f"{path}-wal") else "&immutable=1"
            self.db = sqlite_utils.Database(sqlite3.connect(
                f"{Path(path).resolve().as_uri()}?mode=ro{immutable}", uri=True))
            return
        self.db = sqlite_utils.Database(path)
        # The workers of a distributed crawl write into one database: wait for each
        # other's short transactions rather than fail.
        self.db.execute("PRAGMA busy_timeout = 60000")
        self.db.execute("PRAGMA foreign_keys = ON")
        if str(path) != ":memory:":
            self.db.enable_wal()
            # WAL with NORMAL is crash-safe for the database; the WARC files are the
            # durable record anyway.
            self.db.execute("PRAGMA synchronous = NORMAL")
        self.migrate()

    def migrate(self) -> None:
        """Create what is missing; add columns and indexes the schema gained. Idempotent."""
        db = self.db
        with db.conn:
            created = set()
            for name, table in SCHEMA.items():
                columns = {col: kind for col, (kind, _) in table.columns.items()}
                if not db[name].exists():
                    db[name].create(columns, pk=table.pk, foreign_keys=table.foreign_keys)
                    created.add(name)
                else:
                    present = {c.name for c in db[name].columns}
                    for col, kind in columns.items():
                        if col not in present:
                            db[name].add_column(col, kind)
                for cols in table.unique:
                    db[name].create_index(cols, unique=True, if_not_exists=True)
                for cols in table.indexes:
                    db[name].create_index(cols, if_not_exists=True)
                for index, terms in table.sql_indexes.items():
                    db.execute(f"create index if not exists [{index}] on [{name}] ({terms})")
            if created & {table for table, _ in ARTICLE_LISTS.values()}:
                self._save_article_lists()  # an archive older than these tables
            for name, table in SCHEMA.items():
                if table.fts and not db[f"{name}_fts"].exists():
                    db[name].enable_fts(table.fts, create_triggers=True, tokenize="porter")
                if table.fts:
                    self._narrow_fts_update_trigger(name, table.fts)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _narrow_fts_update_trigger(self, name: str, columns: tuple[str, ...]) -> None:
        """sqlite-utils' update trigger re-indexes a row whatever column changed; ours
        fires only when an indexed column does, so bookkeeping updates (last_seen,
        version_count) do not re-index whole article texts."""
        trigger = f"{name}_au"
        sql = self.db.execute("select sql from sqlite_master where type = 'trigger' and name = ?",
                              [trigger]).fetchone()
        if sql is None or " UPDATE OF " in sql[0]:
            return
        body = sql[0][sql[0].index(" BEGIN"):]
        quoted = ", ".join(f'"{column}"' for column in columns)
        self.db.execute(f'DROP TRIGGER "{trigger}"')
        self.db.execute(f'CREATE TRIGGER "{trigger}" AFTER UPDATE OF {quoted} ON "{name}"{body}')

    @contextmanager
    def bulk_load(self):
        """Full-text indexing once at the end instead of row by row: for a rebuild,
        which writes every article. Hold the data directory's lock: rows written by
        anyone else meanwhile would miss the index until the next rebuild."""
        tables = self._fts_tables()
        triggers = self.db.execute("select name, sql from sqlite_master where type = 'trigger'"
                                   f" and tbl_name in ({', '.join('?' for _ in tables)})", tables).fetchall()
        for name, _ in triggers:
            self.db.execute(f'DROP TRIGGER "{name}"')
        try:
            yield self
        finally:
            for name in self._fts_tables():
                self.db[name].rebuild_fts()
            for _, sql in triggers:
                self.db.execute(sql)

    def _fts_tables(self) -> list[str]:
        return [name for name, table in SCHEMA.items() if table.fts]

    @contextmanager
    def transaction(self):
        """Writes that land together or not at all; nested, a savepoint. sqlite-utils
        commits each statement run outside one, so a batch needs this to be a batch.

        IMMEDIATE: a batch reads before it writes, and a read transaction of WAL that
        another process wrote past cannot become a write one (SQLITE_BUSY, no waiting);
        taking the write lock first makes it wait its turn instead."""
        if self.db.conn.in_transaction:
            with self.db.atomic():
                yield self.db
            return
        self.db.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
            self.db.conn.execute("COMMIT")
        except BaseException:
            if self.db.conn.in_transaction:
                self.db.conn.rollback()
            raise

    def commit_and_go_on(self) -> None:
        """Inside ``transaction()``: make what it wrote so far durable, and go on in a new one."""
        self.db.conn.execute("COMMIT")
        self.db.conn.execute("BEGIN")

    def close(self) -> None:
        self.db.close()

    # Crawls -----------------------------------------------------------------

    def start_crawl(self, crawl_id: str, **fields) -> None:
        self.db["crawls"].upsert({"id": crawl_id, "status": "running", **fields}, pk="id")
        self._known_crawls.add(crawl_id)

    def ensure_crawl(self, crawl_id: str, **fields) -> None:
        """A crawl known only from its WARC files (a rebuild): keep what is there."""
        if crawl_id not in self._known_crawls:
            self.db["crawls"].insert({"id": crawl_id, **fields}, pk="id", ignore=True)
            self._known_crawls.add(crawl_id)

    def finish_crawl(self, crawl_id: str, **fields) -> None:
        self.db["crawls"].update(crawl_id, fields)

    def overview(self) -> dict[str, int]:
        """Totals for ``steppe status``."""
        return dict(zip(["articles", "gone", "edited", "aliases", "captures"], self.db.execute(
            "select (select count(*) from articles), (select count(*) from articles where status = 'gone'),"
            " (select count(*) from articles where version_count > 1), (select count(*) from aliases),"
            " (select count(*) from captures)").fetchone()))

    def recent_crawls(self, limit: int = 5) -> list[dict]:
        return list(self.db["crawls"].rows_where(order_by="started desc", limit=limit))

    def sources(self) -> list[dict]:
        """Each source: its section, its articles, its latest run (for ``steppe status``)."""
        if not self.db["article_sources"].exists() or "source" not in self.db["crawls"].columns_dict:
            return []  # a database older than sources, opened read-only
        return [dict(zip(("source", "start_url", "articles", "started", "status"), row)) for row in self.db.execute(
            "select c.source, c.start_url, (select count(*) from article_sources s where s.source = c.source),"
            " c.started, c.status from crawls c where c.source is not null and c.started ="
            " (select max(started) from crawls l where l.source = c.source) group by c.source order by c.source")]

    def crawl_counts(self, crawl_id: str) -> dict[str, int]:
        """What a crawl changed in the archive, worked out from the captures it made:
        the same whatever order its records were stored in (a rebuild included)."""
        new = self.db.execute(
            "select count(*) from articles a where (select crawl_id from captures c where c.article_id = a.id"
            " and c.text_hash is not null order by fetched_at, id limit 1) = ?", [crawl_id]).fetchone()[0]
        versions = self.db.execute(
            "select count(*) from article_versions v join captures c on c.id = v.capture_id"
            " where c.crawl_id = ?", [crawl_id]).fetchone()[0]
        seen = self.db.execute(
            "select count(distinct article_id) from captures where crawl_id = ? and text_hash is not null",
            [crawl_id]).fetchone()[0]
        gone = self.db.execute(
            "select count(*) from articles a where status = 'gone' and exists (select 1 from captures c"
            " where c.article_id = a.id and c.crawl_id = ? and c.fetched_at = a.gone_since)", [crawl_id]).fetchone()[0]
        return {"articles_new": new, "articles_changed": versions - new,
                "articles_unchanged": seen - versions, "articles_gone": gone}

    # Captures and articles ------------------------------------------------------
    # The per-record writes below run once per page of every crawl and rebuild, so
    # they are plain statements on the schema above rather than sqlite-utils calls,
    # which look the table up again on every call.

    def _insert(self, table: str, row: dict) -> int:
        names = ", ".join(f"[{name}]" for name in row)
        marks = ", ".join("?" for _ in row)
        return self.db.execute(f"insert into [{table}] ({names}) values ({marks})", list(row.values())).lastrowid

    def _update(self, table: str, row_id: int, values: dict) -> None:
        assignments = ", ".join(f"[{name}] = ?" for name in values)
        self.db.execute(f"update [{table}] set {assignments} where id = ?", [*values.values(), row_id])

    # A URL prefix (scheme://host/) scopes the two lookups below to one site: a crawl of
    # one site must not revalidate, nor hold in memory, another's articles. As a range,
    # not a LIKE, so that it keeps to the url indexes.

    def article_index(self, prefix: str = "") -> dict[str, str | None]:
        """The live articles under ``prefix``: url → their own latest date (modified,
        else published)."""
        return {url: modified or published for url, modified, published in self.db.execute(
            "select url, modified, published from articles where url between ?1 and ?2"
            " and status = 'live'", [prefix, prefix + _LAST_CHAR])}

    def seen_article_urls(self, prefix: str = "", before: str | None = None) -> set[str]:
        """Every article URL under ``prefix`` captured and answered (before the WARC-Date
        ``before``, if given): articles (gone ones included), their former URLs, pages
        that never gave an article (empty, redirect loops, a body unread: kind ``other``
        where no layout places articles by URL)."""
        query = ("select url from articles where url between ?1 and ?2 and first_seen < ?3"
                 " union select url from aliases where url between ?1 and ?2 and first_seen < ?3"
                 " union select canonical_url from captures where canonical_url between ?1 and ?2"
                 f" and +kind in ('article', 'other') and {_ANSWERED} and fetched_at < ?3")  # see validators
        return {url for (url,) in self.db.execute(query, [prefix, prefix + _LAST_CHAR, before or "9999"])}

    def validators(self, url: str) -> dict[str, str]:
        """Conditional request headers from the latest capture of ``url`` that gave any."""
        # ``+status``: the url index, not one of the facets' status indexes (a walk
        # through every capture of the archive for each URL asked about).
        row = self.db.execute("select etag, last_modified from captures where url = ? and +status = 200"
                              " and (etag is not null or last_modified is not null)"
                              " order by fetched_at desc limit 1", [url]).fetchone()
        if row is None:
            return {}
        headers = {"If-None-Match": row[0], "If-Modified-Since": row[1]}
        return {name: value for name, value in headers.items() if value}

    def earlier_capture(self, url: str, digest: str | None = None) -> ResponseRef | None:
        """The latest full 200 response of ``url`` (with this payload digest, if given):
        what a revisit record can refer to."""
        query = ("select record_id, url, fetched_at, payload_digest, warc_filename, warc_offset, warc_length"
                 " from captures where url = ? and +status = 200 and refers_to is null"  # see validators
                 + (" and payload_digest = ?" if digest else "") + " order by fetched_at desc limit 1")
        row = self.db.execute(query, [url, digest] if digest else [url]).fetchone()
        if row is None:
            return None
        return ResponseRef(row[0], row[1], row[2], row[3], RecordLocation(row[4], row[5], row[6]))

    def revisited_location(self, refers_to: str | None, url: str | None, digest: str | None) -> RecordLocation | None:
        """Where the response a revisit record stands for is: by its WARC-Refers-To,
        else (writers that leave it out) by target URL and payload digest."""
        if refers_to:
            row = self.db.execute("select warc_filename, warc_offset, warc_length from captures"
                                  " where record_id = ?", [refers_to]).fetchone()
            if row:
                return RecordLocation(*row)
        earlier = self.earlier_capture(url, digest) if url and digest else None
        return earlier.location if earlier else None

    def has_capture(self, record_id: str) -> bool:
        return bool(self.db.execute("select 1 from captures where record_id = ?", [record_id]).fetchone())

    def insert_capture(self, capture: dict) -> int:
        return self._insert("captures", capture)

    def article_by_url(self, url: str) -> dict | None:
        cursor = self.db.execute("select * from articles where url = ?", [url])
        row = cursor.fetchone()
        return dict(zip([d[0] for d in cursor.description], row)) if row else None

    def save_article_capture(self, fields: dict, seen_at: str, capture_id: int) -> tuple[int, bool, bool]:
        """Record that a capture shows an article; returns (id, article is new, text is new).

        Order-independent: the row keeps the fields of its latest capture and the
        earliest first_seen, whatever order captures arrive in (a rebuild reads files
        in any order).
        """
        fields = {k: json.dumps(v, ensure_ascii=False) if isinstance(v, list) else v for k, v in fields.items()}
        fields["url"] = self.resolve_url(fields["url"])
        existing = self.article_by_url(fields["url"])
        if existing is None:
            article_id = self._insert(
                "articles", {**fields, "first_seen": seen_at, "last_seen": seen_at, "status": "live"})
        else:
            article_id = existing["id"]
            update = {"first_seen": min(existing["first_seen"], seen_at)}
            if seen_at >= existing["last_seen"]:
                update.update(fields, last_seen=seen_at)
            self._update("articles", article_id, update)
        version_fields = {k: v for k, v in fields.items() if k != "url"}
        version_new = self._save_version(article_id, version_fields, seen_at, capture_id)
        self._update("captures", capture_id, {"article_id": article_id})
        self._link_gone_captures(article_id, fields["url"])
        self._refresh_article_history(article_id)
        return article_id, existing is None, version_new

    def _save_article_lists(self, article_id: int | None = None) -> None:
        """article_authors, article_tags and article_sources from the article's JSON lists (every
        article's, without an id)."""
        where, params = ("where articles.id = ?", [article_id]) if article_id is not None else ("", [])
        for column, (table, item) in ARTICLE_LISTS.items():
            self.db.execute(f"delete from [{table}] {where.replace('articles.id', 'article_id')}", params)
            # json_valid first: a value that is not JSON has no items, rather than failing.
            self.db.execute(
                f"insert or ignore into [{table}] (article_id, [{item}]) select articles.id, items.value"
                f" from articles join json_each(case when json_valid(articles.[{column}])"
                f" then articles.[{column}] end) as items {where}", params)

    def _save_version(self, article_id: int, fields: dict, seen_at: str, capture_id: int) -> bool:
        row = self.db.execute(
            "select id, first_seen, last_seen from article_versions where article_id = ? and text_hash = ?",
            [article_id, fields["text_hash"]],
        ).fetchone()
        if row is None:
            self._insert("article_versions", {"article_id": article_id, "capture_id": capture_id,
                                              "first_seen": seen_at, "last_seen": seen_at, **fields})
            return True
        version_id, first_seen, last_seen = row
        update = {"last_seen": max(last_seen, seen_at)}
        if seen_at < first_seen:
            update.update(fields, first_seen=seen_at, capture_id=capture_id)
        self._update("article_versions", version_id, update)
        return False

    def _refresh_article_history(self, article_id: int) -> None:
        """Derive version_count, last_changed, status and sources from the article's
        captures, so that they come out the same whatever order captures were stored
        in; and the article's list tables with them."""
        rows = self.db.execute(
            "select text_hash, fetched_at, status from captures where article_id = ? order by fetched_at, id",
            [article_id],
        ).fetchall()
        texts = [(text_hash, fetched_at) for text_hash, fetched_at, _ in rows if text_hash]
        run_start = len(texts) - 1
        while run_start > 0 and texts[run_start - 1][0] == texts[-1][0]:
            run_start -= 1
        gone_since = None
        for _, fetched_at, status in reversed(rows):
            if status not in GONE_STATUSES:
                break
            gone_since = fetched_at
        sources = self.db.execute("select json_group_array(source) from (select distinct source from captures"
                                  " where article_id = ? and source is not null order by source)",
                                  [article_id]).fetchone()[0]
        self._update("articles", article_id, {
            "sources": sources,
            "version_count": len({text_hash for text_hash, _ in texts}),
            "last_changed": texts[run_start][1] if texts else None,
            "status": "gone" if gone_since else "live",
            "gone_since": gone_since,
        })
        self._save_article_lists(article_id)

    # Redirects and removals -------------------------------------------------------

    def resolve_url(self, url: str) -> str:
        """The URL an article lives at now, following recorded redirects."""
        seen = {url}
        while (row := self.db.execute("select target_url from aliases where url = ?", [url]).fetchone()):
            if row[0] in seen:
                break
            url = row[0]
            seen.add(url)
        return url

    def save_alias(self, url: str, target_url: str, seen_at: str, capture_id: int) -> None:
        """A permanent redirect between article URLs: one article, its former URL kept."""
        row = self.db.execute("select first_seen from aliases where url = ?", [url]).fetchone()
        if row is None:
            self._insert("aliases", {"url": url, "target_url": target_url, "capture_id": capture_id,
                                     "first_seen": seen_at})
        elif seen_at < row[0]:
            self.db.execute("update aliases set first_seen = ?, capture_id = ? where url = ?",
                            [seen_at, capture_id, url])
        target = self.resolve_url(target_url)
        former, current = self.article_by_url(url), self.article_by_url(target)
        if former is None or former["id"] == (current or {}).get("id"):
            return
        if current is None:
            self._update("articles", former["id"], {"url": target})
        else:
            self._merge_articles(former, current)

    def _merge_articles(self, former: dict, current: dict) -> None:
        """Fold the row of a former URL into the article's row: captures and versions move."""
        self.db.execute("update captures set article_id = ? where article_id = ?", [current["id"], former["id"]])
        for version in self.db.execute("select id, text_hash, first_seen, last_seen, capture_id from article_versions"
                                       " where article_id = ?", [former["id"]]).fetchall():
            version_id, text_hash, first_seen, last_seen, capture_id = version
            twin = self.db.execute("select id, first_seen, last_seen from article_versions"
                                   " where article_id = ? and text_hash = ?", [current["id"], text_hash]).fetchone()
            if twin is None:
                self._update("article_versions", version_id, {"article_id": current["id"]})
                continue
            update = {"last_seen": max(twin[2], last_seen)}
            if first_seen < twin[1]:
                update.update(first_seen=first_seen, capture_id=capture_id)
            self._update("article_versions", twin[0], update)
            self.db.execute("delete from article_versions where id = ?", [version_id])
        update = {"first_seen": min(former["first_seen"], current["first_seen"])}
        if former["last_seen"] > current["last_seen"]:
            update.update({k: v for k, v in former.items() if k in _ARTICLE_FIELDS}, last_seen=former["last_seen"])
        self._update("articles", current["id"], update)
        # Everything the former row held now lives in the article's row.
        for table, _ in ARTICLE_LISTS.values():
            self.db.execute(f"delete from [{table}] where article_id = ?", [former["id"]])
        self.db.execute("delete from articles where id = ?", [former["id"]])
        self._refresh_article_history(current["id"])

    def save_gone_capture(self, url: str, capture_id: int) -> int | None:
        """A 404/410 where an article was: the article is marked, never removed."""
        article = self.article_by_url(self.resolve_url(url))
        if article is None:
            return None
        self._update("captures", capture_id, {"article_id": article["id"]})
        self._refresh_article_history(article["id"])
        return article["id"]

    def _link_gone_captures(self, article_id: int, url: str) -> None:
        # A rebuild may meet the 404 before the article it concerns.
        # (An IN over a union, not an OR, and ``+`` on the other terms: it keeps to the
        # canonical_url index, not the article_id one, which holds every capture of a
        # listing page or a redirect.)
        self.db.execute(
            "update captures set article_id = ? where canonical_url in"
            " (select ? union select url from aliases where target_url = ?)"
            f" and +article_id is null and +status in {tuple(sorted(GONE_STATUSES))}",
            [article_id, url, url])
