"""Crawling again: real crawls over several epochs of the demo site, on one data directory."""

import os
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlite_utils
from warcio.archiveiterator import ArchiveIterator

from archive.recover import close_open_file
from archive.warc import OPEN_SUFFIX
from crawler.demo_site import DemoSite, serve_site

from conftest import RECRAWL_OPTIONS, readable, start_crawl, steppe, warcio

CRAWL_OPTIONS = RECRAWL_OPTIONS


def crawl(server, data_dir: Path, *extra: str) -> subprocess.CompletedProcess:
    server.clear_requests()
    return steppe("crawl", "--start-url", server.section_url, "--data-dir", str(data_dir), *CRAWL_OPTIONS, *extra)


@dataclass
class Run:
    result: subprocess.CompletedProcess
    requests: list
    site: DemoSite

    def paths(self, status: int | None = None) -> list[str]:
        return [e.path for e in self.requests if status is None or e.status == status]

    def page_requests(self) -> list[str]:
        """Requests that are neither robots.txt nor sitemaps."""
        return [p for p in self.paths() if p != "/robots.txt" and "sitemap" not in p]


@dataclass
class History:
    data_dir: Path
    base: str
    runs: dict[str, Run] = field(default_factory=dict)

    @property
    def db(self) -> sqlite_utils.Database:
        return sqlite_utils.Database(self.data_dir / "archive.db")

    def article(self, path: str) -> dict | None:
        return next(self.db["articles"].rows_where("url = ?", [self.base + path]), None)


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> History:
    """first crawl → same site again → everything revalidated → next epoch → same again."""
    site = DemoSite.build(n_articles=40, seed=5)
    data_dir = tmp_path_factory.mktemp("incremental") / "data"
    # The "timeout" page answers within DOWNLOAD_TIMEOUT here: every article gets archived.
    with serve_site(site, hang_seconds=0.5) as server:
        history = History(data_dir, server.url)

        def run(name, *extra):
            result = crawl(server, data_dir, *extra)
            history.runs[name] = Run(result, server.requests, server.site)
            assert result.returncode == 0, result.stdout + result.stderr

        run("first")
        run("unchanged")
        run("revalidated", "-s", "STEPPE_REVALIDATE_DAYS=100000")
        server.site = site.next_epoch(new=3, edit=1, rename=1, remove=1)
        run("epoch")
        run("unchanged again")
    return history


def test_a_recrawl_of_an_unchanged_site_costs_a_listing_page(history):
    run = history.runs["unchanged"]
    assert run.page_requests() == ["/category/central-asia/"]
    assert set(run.paths()) >= {"/robots.txt", "/sitemap_index.xml"}  # read by the first crawl: now a 304
    crawls = list(history.db["crawls"].rows)
    assert crawls[1]["articles_new"] == crawls[1]["articles_changed"] == 0


def test_unchanged_text_in_different_bytes_is_a_capture_not_a_version(history):
    run = history.runs["revalidated"]
    refetched = readable(run.site) & set(run.paths(200))
    assert refetched == readable(run.site)
    row = history.db.execute("select articles_new, articles_changed, articles_unchanged from crawls"
                             " order by started limit 1 offset 2").fetchone()
    assert row == (0, 0, len(refetched))
    for path in refetched:
        captures = history.db.execute("select count(distinct crawl_id), count(distinct payload_digest) from captures"
                                      " where url = ?", [history.base + path]).fetchone()
        assert captures[0] >= 2 and captures[1] >= 2  # the nonce: other bytes each time


def test_the_next_epoch_costs_what_changed(history):
    run = history.runs["epoch"]
    changes = run.site.changes
    expected = {"/category/central-asia/", *(a.path for a in changes.new), *(a.path for a in changes.edited),
                *(old for old, _ in changes.renamed), *(a.path for _, a in changes.renamed),
                *(a.path for a in changes.removed)}
    assert set(run.page_requests()) <= expected | {"/category/central-asia/page/2/"}
    assert set(run.page_requests()) >= expected
    assert len(run.page_requests()) <= 10


def test_new_articles_are_stored(history):
    for article in history.runs["epoch"].site.changes.new:
        row = history.article(article.path)
        assert row and row["title"] == article.title and row["version_count"] == 1


def test_an_edited_article_keeps_both_versions(history):
    (article,) = history.runs["epoch"].site.changes.edited
    row = history.article(article.path)
    assert row["version_count"] == 2 and row["text"] == article.text
    versions = list(history.db["article_versions"].rows_where("article_id = ?", [row["id"]], order_by="first_seen"))
    assert len(versions) == 2 and versions[0]["text"] != versions[1]["text"]
    assert row["last_changed"] == versions[1]["first_seen"]


def test_a_renamed_article_is_one_row_with_an_alias(history):
    ((old_path, article),) = history.runs["epoch"].site.changes.renamed
    assert history.article(old_path) is None
    row = history.article(article.path)
    assert row is not None and row["version_count"] == 1
    aliases = list(history.db["aliases"].rows_where("url = ?", [history.base + old_path]))
    assert len(aliases) == 1 and aliases[0]["target_url"] == history.base + article.path
    urls = {c["url"] for c in history.db["captures"].rows_where("article_id = ?", [row["id"]])}
    assert history.base + old_path in urls and history.base + article.path in urls


def test_a_removed_article_is_marked_gone_and_kept(history):
    (article,) = history.runs["epoch"].site.changes.removed
    row = history.article(article.path)
    assert row["status"] == "gone" and row["gone_since"]
    assert row["text"] and history.db["article_versions"].count_where("article_id = ?", [row["id"]]) == 1
    crawl = history.db.execute("select articles_new, articles_changed, articles_gone from crawls"
                               " order by started limit 1 offset 3").fetchone()
    assert crawl == (3, 1, 1)


def test_unchanged_sitemaps_answer_304_and_are_archived_as_revisits(history):
    run = history.runs["unchanged again"]
    assert [e.status for e in run.requests if "sitemap" in e.path] == [304]  # the index: nothing below it read
    assert any(e.headers.get("If-None-Match") for e in run.requests if "sitemap" in e.path)
    profiles = []
    for path in sorted((history.data_dir / "warcs").glob("*.warc.gz")):
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type == "revisit":
                    headers = record.rec_headers
                    assert headers.get_header("WARC-Refers-To-Target-URI") == headers.get_header("WARC-Target-URI")
                    assert headers.get_header("WARC-Refers-To-Date") and headers.get_header("WARC-Refers-To")
                    profiles.append(headers.get_header("WARC-Profile").rsplit("/", 1)[1])
        check = warcio("check", str(path))
        assert check.returncode == 0, check.stdout + check.stderr
    assert {"server-not-modified", "identical-payload-digest"} <= set(profiles)
    not_modified = list(history.db["captures"].rows_where("status = 304"))
    assert not_modified and all(c["refers_to"] for c in not_modified)


def test_every_article_once_across_all_runs(history):
    site = history.runs["unchanged again"].site
    urls = [r["url"] for r in history.db["articles"].rows]
    assert len(urls) == len(set(urls))
    live = {history.base + path for path in readable(site)}
    assert live <= set(urls)
    assert set(urls) - live == {history.base + a.path for a in site.removed}


def test_articles_published_while_the_crawl_runs_are_not_missed(tmp_path):
    site = DemoSite.build(n_articles=30, seed=6)
    data_dir = tmp_path / "data"
    with serve_site(site, hang_seconds=3) as server:
        assert crawl(server, data_dir).returncode == 0
        server.clear_requests()
        later = site.next_epoch(new=2, edit=0, rename=0, remove=0)

        def publish_after_first_listing():
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if any(e.path == "/category/central-asia/" for e in server.requests):
                    server.site = later
                    return
                time.sleep(0.005)

        publisher = threading.Thread(target=publish_after_first_listing)
        publisher.start()
        result = steppe("crawl", "--start-url", server.section_url, "--data-dir", str(data_dir), *CRAWL_OPTIONS,
                        "-s", "STEPPE_RELIST_AFTER=0")
        publisher.join()
    assert result.returncode == 0, result.stderr
    db = sqlite_utils.Database(data_dir / "archive.db")
    for article in later.changes.new:
        assert db["articles"].count_where("url = ?", [server.url + article.path]) == 1


def wait_for(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def test_a_second_crawl_of_the_same_data_directory_is_refused(tmp_path):
    data_dir = tmp_path / "data"
    with serve_site(DemoSite.build(n_articles=30, seed=7), hang_seconds=3, slow_seconds=3) as server:
        # The first crawl is still on its second listing page when the second one starts,
        # however slowly that one's Python starts on a busy machine.
        server.stall("/category/central-asia/page/2/", 12)
        first = start_crawl(server, data_dir, "-s", "DOWNLOAD_TIMEOUT=30")
        try:
            wait_for(lambda: list((data_dir / "warcs").glob("*.open")) if (data_dir / "warcs").exists() else False)
            before = {p.name for p in (data_dir / "warcs").iterdir()}
            second = steppe("crawl", "--start-url", server.section_url, "--data-dir", str(data_dir), "--no-delay")
            assert second.returncode == 3
            assert "in use by another steppe process" in second.stderr
            assert {p.name for p in (data_dir / "warcs").iterdir()} == before
        finally:
            first.wait(120)
    assert first.returncode == 0
    assert sqlite_utils.Database(data_dir / "archive.db")["crawls"].count == 1


def children(pid: int) -> list[int]:
    return [int(child) for task in Path(f"/proc/{pid}/task").iterdir()
            for child in (task / "children").read_text().split()]


def records_in(path: Path) -> list[tuple[str, str]]:
    with open(path, "rb") as stream:
        return [(r.rec_type, r.rec_headers.get_header("WARC-Record-ID")) for r in ArchiveIterator(stream)]


@pytest.mark.parametrize("after_requests", [2, 12, 30])
def test_a_crawl_killed_with_sigkill_is_recovered_by_the_next(tmp_path, after_requests):
    data_dir = tmp_path / "data"
    site = DemoSite.build(n_articles=40, seed=8)
    with serve_site(site, hang_seconds=3) as server:
        killed = start_crawl(server, data_dir)
        wait_for(lambda: len(server.requests) >= after_requests or killed.poll() is not None)
        workers = children(killed.pid)
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in workers), timeout=10)  # none left behind
        left_open = list((data_dir / "warcs").glob(f"*{OPEN_SUFFIX}"))
        result = crawl(server, data_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not list((data_dir / "warcs").glob(f"*{OPEN_SUFFIX}"))
    if left_open:
        assert "recovered from an interrupted crawl" in result.stderr
    db = sqlite_utils.Database(data_dir / "archive.db")
    statuses = [row["status"] for row in db["crawls"].rows_where(order_by="started")]
    assert statuses == ["interrupted", "finished"]
    responses = set()
    for path in (data_dir / "warcs").glob("*.warc.gz"):
        check = warcio("check", str(path))
        assert check.returncode == 0, check.stdout + check.stderr
        responses |= {rid for kind, rid in records_in(path) if kind in ("response", "revisit")}
    assert responses == {row["record_id"] for row in db["captures"].rows}  # the database agrees with the WARCs
    stored = {row["url"] for row in db["articles"].rows}
    assert stored == {server.url + a.path for a in site.expected_articles()}


def test_a_torn_last_record_is_cut_and_the_whole_ones_kept(tmp_path, write_warc):
    from conftest import html_exchange

    write_warc([html_exchange(f"http://127.0.0.1:9/2021/01/0{i}/a{i}/", f"<p>{i}</p>" * 500) for i in range(1, 4)])
    (path,) = (tmp_path / "warcs").glob("*.warc.gz")
    whole = records_in(path)
    torn = path.with_name(path.name + OPEN_SUFFIX)
    shutil.copy(path, torn)
    path.unlink()
    with open(torn, "r+b") as fh:
        fh.truncate(os.path.getsize(torn) - 40)  # the last response, cut mid-way
    final, cut = close_open_file(torn)
    assert cut > 0 and final == path and not torn.exists()
    assert records_in(final) == whole[:-1]
    assert warcio("check", str(final)).returncode == 0


def test_sigterm_stops_cleanly_and_marks_the_run_interrupted(tmp_path):
    data_dir = tmp_path / "data"
    with serve_site(DemoSite.build(n_articles=40, seed=9), hang_seconds=3, slow_seconds=3) as server:
        crawler = start_crawl(server, data_dir)
        wait_for(lambda: len(server.requests) >= 10)
        crawler.send_signal(signal.SIGTERM)
        crawler.wait(120)
    assert crawler.returncode == 1
    db = sqlite_utils.Database(data_dir / "archive.db")
    assert [row["status"] for row in db["crawls"].rows] == ["interrupted"]
    assert not list((data_dir / "warcs").glob(f"*{OPEN_SUFFIX}"))


def test_full_fetches_everything_again(tmp_path):
    site = DemoSite.build(n_articles=30, seed=10)
    data_dir = tmp_path / "data"
    with serve_site(site, hang_seconds=0.5) as server:
        assert crawl(server, data_dir).returncode == 0
        full = crawl(server, data_dir, "--full")
        assert full.returncode == 0
        listing_pages = {e.path for e in server.requests if e.path.startswith("/category/")}
        assert len(listing_pages) == site.listing_pages
        assert readable(site) <= {e.path for e in server.requests}
    db = sqlite_utils.Database(data_dir / "archive.db")
    assert [row["status"] for row in db["crawls"].rows_where(order_by="started")] == ["finished"] * 2
