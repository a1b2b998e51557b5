"""WARC response record → database rows: the one path.

The live crawl calls ``ingest_response`` on each record right after writing it (read
back from the WARC file), and a rebuild calls it on every record of the files: the
database is whatever this function makes of the WARC files, and nothing else.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from urllib.parse import urljoin, urlsplit

from .extract import ArticleRecord, decode_html, read_page
from .layouts import PageLayout, layout_of_page, recorded_layout
from .learn import is_learned, read_with_learned
from .membership import says_in_section
from .problems import Problem
from .store import GONE_STATUSES, Store
from .urls import canonical_url, is_section_listing, source_name
from .warc import FOUND_VIA, ArchivedResponse, RecordLocation, read_response

HTML_TYPES = {"text/html", "application/xhtml+xml", ""}
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Only these say the old URL is gone for good: the article has moved, it keeps one row.
PERMANENT_REDIRECTS = frozenset({301, 308})


@dataclass(frozen=True)
class IngestResult:
    kind: str
    capture_id: int | None = None  # None: this record was ingested before
    article_id: int | None = None
    article_new: bool = False
    text_changed: bool = False
    article_gone: bool = False
    problems: list[Problem] = field(default_factory=list)


def classify(url: str, layout: PageLayout, section_url: str | None = None) -> str:
    """What a URL is, from the URL alone (and the section its crawl walked): a
    rebuild must agree with the crawl."""
    path = urlsplit(url).path
    if path == "/robots.txt":
        return "robots"
    if "sitemap" in path and path.endswith(".xml"):
        return "sitemap"
    if path.rstrip("/").endswith("/feed"):
        return "feed"
    if layout.is_listing_path(path) or (section_url and is_section_listing(url, section_url)):
        return "listing"
    if layout.article_path is not None and layout.is_article_path(path):
        return "article"
    return "other"


@dataclass(frozen=True)
class CaptureReading:
    """All that one response record says, worked out without the database."""

    kind: str
    canonical_url: str
    article: ArticleRecord | None = None
    problems: list[Problem] = field(default_factory=list)
    redirect_to: str | None = None  # canonical URL of a redirect's Location


def read_capture(response: ArchivedResponse, layout: PageLayout) -> CaptureReading:
    """The CPU-heavy half of ingest (decoding, parsing, extraction): a pure function,
    so that it can run in worker processes."""
    canonical = canonical_url(response.url)
    # A crawl's WARC files say which layout it read pages with and which section's
    # listing it walked: a rebuild of many crawls reads each one's pages as it did.
    # A layout learned from the host's pages is in the warcinfo whole (archive.learn).
    layout = recorded_layout(response.warcinfo, layout)
    section = response.warcinfo.get("start-url")
    kind = classify(canonical, layout, section)
    location = response.header("Location")
    if response.status in REDIRECT_STATUSES and location:
        return CaptureReading(kind, canonical, redirect_to=canonical_url(urljoin(response.url, location.strip())))
    if response.status != 200 or response.content_type not in HTML_TYPES or kind not in ("article", "other"):
        return CaptureReading(kind, canonical)
    truncated = response.warc_headers.get("WARC-Truncated")
    if truncated:
        # A part of a page is no version of its article (the next whole capture would
        # look like an edit); and the part may be as large as the crawler's limit.
        return CaptureReading(kind, canonical, problems=[Problem.note(f"body truncated ({truncated}): not read")])
    body, problem = response.content()
    problems = [problem] if problem else []
    if response.payload is None:
        problems.append(Problem.damage("body too large to read"))
    if _binary(body, response.header("Content-Type") or ""):
        return CaptureReading(kind, canonical, problems=problems + [Problem.note("not HTML: a binary body")])
    html, charset_problems = decode_html(body, response.header("Content-Type"))
    page_layout = layout_of_page(html, layout)
    if page_layout is not layout:
        layout, kind = page_layout, classify(canonical, page_layout, section)
        if kind not in ("article", "other"):
            return CaptureReading(kind, canonical, problems=problems + charset_problems)
    reading = (read_with_learned if is_learned(layout) else read_page)(html, response.url, layout)
    problems += charset_problems + reading.problems
    via = response.warc_headers.get(FOUND_VIA)
    if reading.article is not None and via and section and not says_in_section(html, response.url, section):
        # Reached by a read-next link, and the page names another section: a capture only.
        return CaptureReading(kind, reading.canonical_url, None,
                              problems + [Problem.note(f"not in the section (a read-next link of {via} led here)")])
    kind = "article" if reading.article is not None else kind
    return CaptureReading(kind, reading.canonical_url, reading.article, problems)


def store_capture(store: Store, response: ArchivedResponse, reading: CaptureReading) -> IngestResult:
    """The database half of ingest: one capture row, and the article it shows.

    A capture is stored whole or not at all (a savepoint inside a caller's
    transaction, which may hold many captures): a failure halfway must not leave a
    capture row without its article, which would count as archived for good.
    """
    with store.transaction():
        return _store_capture(store, response, reading)


def _store_capture(store: Store, response: ArchivedResponse, reading: CaptureReading) -> IngestResult:
    if store.has_capture(response.record_id):
        return IngestResult(reading.kind)
    article = reading.article
    crawl_id = response.warcinfo.get("crawl-id")
    section = response.warcinfo.get("start-url")
    source = response.warcinfo.get("source") or (source_name(section) if section else None)
    if crawl_id:
        store.ensure_crawl(crawl_id, started=response.date, status="unknown", start_url=section, source=source)
    capture_id = store.insert_capture({
        "record_id": response.record_id,
        "crawl_id": crawl_id,
        "url": response.url,
        "canonical_url": reading.canonical_url,
        "fetched_at": response.date,
        "status": response.status,
        "content_type": response.content_type or None,
        "kind": reading.kind,
        "text_hash": article.text_hash if article else None,
        "warc_filename": response.location.filename,
        "warc_offset": response.location.offset,
        "warc_length": response.location.length,
        "payload_digest": response.payload_digest,
        "problems": "; ".join(reading.problems) or None,
        "redirect_to": reading.redirect_to,
        "refers_to": response.refers_to,
        "etag": response.header("ETag"),
        "last_modified": response.header("Last-Modified"),
        "source": source,
    })
    # An article's URL that redirects for good or answers 404/410. Where no layout places
    # articles by URL (kind ``other``), the redirect is recorded all the same (a rebuild
    # may meet it before the article), and the 404 marks an article only if there is one.
    maybe_article = reading.kind in ("article", "other")
    if maybe_article and response.status in PERMANENT_REDIRECTS and reading.redirect_to:
        store.save_alias(reading.canonical_url, reading.redirect_to, response.date, capture_id)
    if maybe_article and response.status in GONE_STATUSES:
        article_id = store.save_gone_capture(reading.canonical_url, capture_id)
        return IngestResult(reading.kind, capture_id, article_id, article_gone=article_id is not None)
    if article is None:
        return IngestResult(reading.kind, capture_id, problems=reading.problems)
    fields = {name: getattr(article, name) for name in article.__dataclass_fields__}
    article_id, article_new, version_new = store.save_article_capture(fields, response.date, capture_id)
    return IngestResult(reading.kind, capture_id, article_id, article_new, version_new and not article_new,
                        problems=reading.problems)


def _binary(body: bytes, content_type: str) -> bool:
    """A PDF or a video said to be text/html: NUL bytes, which only UTF-16 text has."""
    utf16 = body.startswith((b"\xff\xfe", b"\xfe\xff")) or "utf-16" in content_type.lower()
    return b"\x00" in body[:4096] and not utf16


def ingest_response(store: Store, response: ArchivedResponse, layout: PageLayout,
                    warc_dir: str | os.PathLike | None = None) -> IngestResult:
    """Add one archived response to the store; a record seen before adds nothing.

    A revisit record is read as the record it refers to, found through the store in
    ``warc_dir``."""
    if store.has_capture(response.record_id):
        return IngestResult(classify(canonical_url(response.url), layout))
    original = None
    if response.refers_to is not None and warc_dir:
        original = store.revisited_location(
            response.refers_to, response.warc_headers.get("WARC-Refers-To-Target-URI") or response.url,
            response.payload_digest)
    reading = read_capture(_page_of(response, warc_dir, original), layout)
    return store_capture(store, response, reading)


def read_record(warc_dir: str | os.PathLike, location: RecordLocation, layout: PageLayout,
                original: RecordLocation | None = None,
                original_dir: str | os.PathLike | None = None) -> tuple[ArchivedResponse, CaptureReading]:
    """Read a response record back from its file and read the page it holds; for a
    revisit record, the page is the one of the ``original`` record it refers to (in
    ``original_dir``, by default the same folder).

    The body stays behind: what travels back from a worker is what ``store_capture``
    needs.
    """
    response = read_response(warc_dir, location)
    page = _page_of(response, original_dir or warc_dir, original)
    return replace(response, payload=b""), read_capture(page, layout)


def _page_of(response: ArchivedResponse, warc_dir, original: RecordLocation | None) -> ArchivedResponse:
    if response.refers_to is None:
        return response
    if original is None:
        return replace(response, status=0)  # a revisit of a record we do not have: no page
    return read_response(warc_dir, original)


def _exit_with_parent(parent: int) -> None:
    """In a worker: end when the process that started it is gone. A crawl killed with
    SIGKILL cannot shut its pool down, and idle workers would otherwise live on.

    Ctrl-C reaches every process of the terminal's group: the parent decides what
    stops, a worker would only print a traceback. Workers start with SIGINT blocked
    (see ``RecordReaders.submit``) and ignore it from here on."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})

    def watch():
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


class RecordReaders:
    """Worker processes for ``read_record``: decoding, parsing and extraction are the
    costly part of ingest and need nothing but the record, while SQLite takes one
    writer, so the caller stores what comes back. ``workers=0`` reads in-process."""

    def __init__(self, workers: int):
        # spawn, not fork: the caller may be a process with threads (Twisted's reactor).
        self._executor = (ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                              initializer=_exit_with_parent, initargs=(os.getpid(),))
                          if workers > 0 else None)

    def submit(self, warc_dir: str | os.PathLike, location: RecordLocation, layout: PageLayout,
               original: RecordLocation | None = None, original_dir: str | os.PathLike | None = None) -> Future:
        args = (warc_dir, location, layout, original, original_dir)
        if self._executor is not None:
            # Workers start on demand, here: with SIGINT blocked, inherited until
            # their initializer ignores it (a Ctrl-C during their imports included).
            mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            try:
                return self._executor.submit(read_record, *args)
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        future = Future()
        try:
            future.set_result(read_record(*args))
        except Exception as exc:  # reported by whoever looks at the future, as from a worker
            future.set_exception(exc)
        return future

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
