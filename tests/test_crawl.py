"""A real `steppe crawl` of the demo site: what reached the WARC files and the database."""

import gzip
import json
from collections import Counter

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.warc import RecordLocation, read_response
from crawler.demo_site.content import PRIVATE_PATH

from conftest import warcio


def shingles(text: str, n: int = 4) -> Counter:
    words = text.split()
    return Counter(tuple(words[i:i + n]) for i in range(max(1, len(words) - n + 1)))


def shingle_f1(got: str, expected: str) -> float:
    a, b = shingles(got), shingles(expected)
    overlap = sum((a & b).values())
    return 0.0 if not overlap else 2 * overlap / (sum(a.values()) + sum(b.values()))


def test_the_crawl_finishes_and_reports(fixture_crawl):
    result = fixture_crawl.result
    assert result.returncode == 0, result.stdout + result.stderr
    summary = result.stdout
    assert " finished: " in summary and "new articles" in summary
    crawl = next(fixture_crawl.db["crawls"].rows)
    assert crawl["status"] == "finished" and crawl["finished"] >= crawl["started"]
    assert crawl["articles_new"] == len(fixture_crawl.site.expected_articles())


def test_every_fixture_article_is_stored_exactly_once(fixture_crawl):
    site, base = fixture_crawl.site, fixture_crawl.base
    rows = list(fixture_crawl.db["articles"].rows)
    assert sorted(r["url"] for r in rows) == sorted(base + a.path for a in site.expected_articles())
    assert len({r["title"] for r in rows}) == len(rows)
    assert {r["section"] for r in rows} == {"Central Asia"}


def test_each_article_is_requested_once_by_its_canonical_url(fixture_crawl):
    for article in fixture_crawl.site.expected_articles():
        statuses = [entry.status for entry in fixture_crawl.requested(article.path)]
        expected = [503, 200] if article.behaviour == "retry_after_503" else [200]
        assert statuses == expected, article.path
    variants = [e.path for e in fixture_crawl.requests
                if "utm_" in e.path or "replytocom" in e.path or e.path.endswith("/amp/")]
    assert variants == []


def test_nothing_outside_the_section_is_fetched(fixture_crawl):
    site = fixture_crawl.site
    other = {a.path for a in site.other_articles}
    for entry in fixture_crawl.requests:
        path = entry.path.split("?")[0]
        assert path not in other
        assert not path.startswith(("/tag/", "/author/", "/feed", "/wp-", "/about-us/")), path
        assert not path.endswith("/feed/"), path
        if path.startswith("/category/"):
            assert path.startswith("/category/central-asia/"), path


def test_robots_txt_is_read_first_and_obeyed(fixture_crawl):
    assert fixture_crawl.requests[0].path == "/robots.txt"
    assert fixture_crawl.requested(PRIVATE_PATH) == []
    assert not any(e.path.startswith(("/private/", "/wp-admin/")) for e in fixture_crawl.requests)
    user_agents = {e.headers.get("User-Agent") for e in fixture_crawl.requests}
    assert len(user_agents) == 1 and user_agents.pop().startswith("steppe/")


def test_the_503_is_waited_out_for_its_retry_after(fixture_crawl):
    article = next(a for a in fixture_crawl.site.articles if a.behaviour == "retry_after_503")
    first, second = fixture_crawl.requested(article.path)
    assert (first.status, second.status) == (503, 200)
    assert second.time - first.time >= 1.0  # the server said Retry-After: 1
    assert fixture_crawl.article_row(article)["title"] == article.title


def test_article_metadata_is_exact(fixture_crawl):
    for article in fixture_crawl.site.expected_articles():
        row = fixture_crawl.article_row(article)
        assert row is not None, article.path
        assert row["title"] == article.title
        assert json.loads(row["authors"]) == article.authors
        assert row["published"] == article.published.isoformat()
        assert row["modified"] == article.modified.isoformat()
        assert json.loads(row["tags"]) == article.tags
        assert row["image_caption"] == article.image_caption
        assert row["image"] == (fixture_crawl.base + article.image_url if article.image_url else None)
        assert row["description"] == article.description
        assert row["language"] == "en"
        assert row["word_count"] == len(row["text"].split())


def test_seed_article_text_matches_the_real_page_text(fixture_crawl):
    seeds = [a for a in fixture_crawl.site.expected_articles() if a.seed_file]
    assert len(seeds) >= 2
    for article in seeds:
        text = fixture_crawl.article_row(article)["text"]
        assert shingle_f1(text, article.text) >= 0.98, article.path


def test_every_article_text_is_its_source_text_exactly(fixture_crawl):
    """Paragraph breaks, list items, non-breaking spaces, curly quotes, dashes: as published."""
    texts = []
    for article in fixture_crawl.site.expected_articles():
        text = fixture_crawl.article_row(article)["text"]
        assert text == article.text, article.path
        texts.append(text)
    everything = "".join(texts)
    for mark in ("\u00a0", "\u201c", "\u2019", "\u2014", "\n\n"):
        assert mark in everything, repr(mark)  # the fixture does exercise typography


def test_no_follow_on_article_leaks_into_an_article(fixture_crawl):
    site = fixture_crawl.site
    with_followons = [a for a in site.expected_articles() if site.followons(a)]
    assert {a.followon_markup for a in with_followons} == {"cont-read", "post-add"}
    for article in with_followons:
        row = fixture_crawl.article_row(article)
        own = set(article.paragraphs)
        for other in site.followons(article):
            assert other.title not in row["text"] and other.title != row["title"]
            for paragraph in other.paragraphs:
                if paragraph not in own:
                    assert paragraph not in row["text"], (article.path, other.path)
            assert not set(json.loads(row["authors"])) - set(article.authors)


def test_the_gzip_page_is_archived_as_sent_and_read_decoded(fixture_crawl):
    article = next(a for a in fixture_crawl.site.expected_articles() if a.behaviour == "gzip")
    capture = next(fixture_crawl.db["captures"].rows_where("url = ?", [fixture_crawl.base + article.path]))
    record = read_response(fixture_crawl.data_dir / "warcs", RecordLocation(
        capture["warc_filename"], capture["warc_offset"], capture["warc_length"]))
    assert record.header("Content-Encoding") == "gzip"
    assert record.payload[:2] == b"\x1f\x8b"
    assert article.title in gzip.decompress(record.payload).decode("utf-8")
    assert shingle_f1(fixture_crawl.article_row(article)["text"], article.text) >= 0.98


def test_every_warc_file_passes_warcio_check_and_index(fixture_crawl):
    files = fixture_crawl.warc_files
    assert files and not list((fixture_crawl.data_dir / "warcs").glob("*.open"))
    for path in files:
        check = warcio("check", "-v", str(path))
        assert check.returncode == 0, check.stdout + check.stderr
        index = warcio("index", str(path))
        assert index.returncode == 0 and index.stdout.count("\n") >= 3


def test_warc_records_are_complete_and_linked(fixture_crawl):
    requests_by_id, responses = {}, []
    for path in fixture_crawl.warc_files:
        with open(path, "rb") as stream:
            records = ArchiveIterator(stream)
            warcinfo = next(records)
            assert warcinfo.rec_type == "warcinfo"
            info = warcinfo.content_stream().read().decode()
            assert "software: steppe/" in info and "robots: obey" in info and "http-header-user-agent" in info
            headers_seen = [record.rec_headers for record in records]
        for headers in headers_seen:
            record_type = headers.get_header("WARC-Type")
            assert headers.get_header("WARC-Block-Digest")
            if record_type == "request":
                requests_by_id[headers.get_header("WARC-Record-ID")] = headers
            elif record_type == "response":
                assert headers.get_header("WARC-Payload-Digest")
                assert headers.get_header("WARC-IP-Address") == "127.0.0.1"
                responses.append(headers)
    assert len(responses) == len(requests_by_id) == len(list(fixture_crawl.db["captures"].rows))
    for response in responses:
        request = requests_by_id[response.get_header("WARC-Concurrent-To")]
        assert request.get_header("WARC-Target-URI") == response.get_header("WARC-Target-URI")
        assert request.get_header("WARC-Date") == response.get_header("WARC-Date")


def test_every_capture_points_at_its_response_record(fixture_crawl):
    captures = list(fixture_crawl.db["captures"].rows)
    kinds = Counter(c["kind"] for c in captures)
    assert kinds["robots"] == 1 and kinds["listing"] == fixture_crawl.site.listing_pages
    for capture in captures:
        record = read_response(fixture_crawl.data_dir / "warcs", RecordLocation(
            capture["warc_filename"], capture["warc_offset"], capture["warc_length"]))
        assert record.record_id == capture["record_id"]
        assert record.url == capture["url"]
        assert record.status == capture["status"]
        assert record.payload_digest == capture["payload_digest"]


@pytest.mark.parametrize("behaviour", ["malformed_html", "wrong_charset", "meta_charset_only", "slow"])
def test_awkward_pages_are_read_correctly(fixture_crawl, behaviour):
    articles = [a for a in fixture_crawl.site.expected_articles() if a.behaviour == behaviour]
    assert articles
    for article in articles:
        row = fixture_crawl.article_row(article)
        assert row["title"] == article.title
        assert shingle_f1(row["text"], article.text) >= 0.98
        if behaviour == "wrong_charset":
            assert "Öskemen" in row["text"] and "“the Türkistan question”" in row["text"]
    if behaviour == "wrong_charset":
        assert "declared charset" in fixture_crawl.result.stderr


@pytest.mark.parametrize("behaviour, message", [
    ("empty_body", "empty body"),
    ("timeout", "took longer than"),
    ("redirect_loop", "redirect loop"),
])
def test_broken_pages_are_reported_and_lose_nothing(fixture_crawl, behaviour, message):
    article = next(a for a in fixture_crawl.site.articles if a.behaviour == behaviour)
    output = fixture_crawl.result.stdout + fixture_crawl.result.stderr
    assert any(message in line and article.slug.split("-")[0] in line for line in output.splitlines()), output
    assert fixture_crawl.article_row(article) is None
    if behaviour == "empty_body":  # what did arrive is archived, and recorded as a capture
        capture = next(fixture_crawl.db["captures"].rows_where("url = ?", [fixture_crawl.base + article.path]))
        assert capture["status"] == 200 and capture["article_id"] is None
    # the crawl went on: every other article is there
    assert fixture_crawl.result.returncode == 0
    assert len(list(fixture_crawl.db["articles"].rows)) == len(fixture_crawl.site.expected_articles())


def test_full_text_search_finds_articles(fixture_crawl):
    article = next(a for a in fixture_crawl.site.expected_articles() if a.seed_file)
    word = max(article.title.replace(":", " ").split(), key=len)
    hits = [row["url"] for row in fixture_crawl.db["articles"].search(word)]
    assert fixture_crawl.base + article.path in hits
