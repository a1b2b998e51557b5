"""No holes: the next crawl completes what an interrupted, failed or bounded run left out.

Every test ends by comparing the archive with the site, not only with its own WARC files.
"""

import dataclasses
import resource
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlite_utils

from crawler.demo_site import DemoSite, serve_site

from conftest import RECRAWL_OPTIONS, readable, start_crawl, steppe, warcio

SECTION = "/category/central-asia/"


def crawl(server, data_dir: Path, *extra: str) -> subprocess.CompletedProcess:
    return steppe("crawl", "--start-url", server.section_url, "--data-dir", str(data_dir), *RECRAWL_OPTIONS, *extra)


def stored_urls(data_dir: Path) -> set[str]:
    return {row["url"] for row in sqlite_utils.Database(data_dir / "archive.db")["articles"].rows}


def assert_warc_files_valid(data_dir: Path) -> None:
    files = sorted((data_dir / "warcs").iterdir())
    assert files and not [f for f in files if not f.name.endswith(".warc.gz")], files
    for path in files:
        check = warcio("check", str(path))
        assert check.returncode == 0, check.stdout + check.stderr


def quiet(server, seconds: float = 0.5) -> bool:
    """Nothing asked of the site for a while: the crawl waits on what is stalled."""
    log = server.requests
    return bool(log) and time.time() - log[-1].time > seconds


def stall_listing_page(n: int):
    def arrange(server, site):
        server.stall(f"{SECTION}page/{n}/", 30)
        return lambda: quiet(server) and any(e.path == f"{SECTION}page/{n}/" for e in server.requests)
    return arrange


def stall_on_the_last_page(server, site):
    article = site.page(site.listing_pages)[-1]
    server.stall(article.path, 30)
    return lambda: quiet(server) and any(e.path == article.path for e in server.requests)


def retry_after_on_page_3(server, site):
    article = next(a for a in site.page(3) if a.behaviour == "normal")
    server.fail(article.path, times=1, retry_after="30")
    return lambda: quiet(server) and any(e.path == article.path and e.status == 503 for e in server.requests)


# Where to stop the crawl: each arranges the site so that the crawl waits there, and
# says when it does. The stopped run has archived much of the section by then, so
# that a next run which trusted its known articles would stop paginating early.
STOP_POINTS = {
    "in the first listing page": stall_listing_page(2),
    "mid pagination": stall_listing_page(3),
    "retry-after pending": retry_after_on_page_3,
    "near the end": stall_on_the_last_page,
}


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
@pytest.mark.parametrize("point", list(STOP_POINTS))
def test_a_stopped_crawl_is_completed_by_the_next_one(tmp_path, point, sig):
    site = DemoSite.build(n_articles=40, seed=21)
    data_dir = tmp_path / "data"
    with serve_site(site, hang_seconds=0.5) as server:
        reached = STOP_POINTS[point](server, site)
        stopped = start_crawl(server, data_dir)
        deadline = time.monotonic() + 60
        while not reached() and stopped.poll() is None:
            assert time.monotonic() < deadline, "the crawl never reached the point"
            time.sleep(0.01)
        assert stopped.poll() is None, "the crawl ended before the point"
        stopped.send_signal(sig)
        stopped.communicate(timeout=60)
        server.clear_stalls()
        server.clear_requests()
        clean = crawl(server, data_dir)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert {server.url + path for path in readable(site)} <= stored_urls(data_dir)
    assert not list((data_dir / "warcs").glob("*.open"))
    assert_warc_files_valid(data_dir)


def status(data_dir: Path) -> str:
    result = steppe("status", "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("answer", [503, 429])
def test_an_article_that_failed_a_whole_run_is_owed_and_archived_by_the_next(tmp_path, answer):
    site = DemoSite.build(n_articles=30, seed=22)
    data_dir = tmp_path / "data"
    article = next(a for a in site.articles if a.behaviour == "normal" and a in site.page(2))
    with serve_site(site, hang_seconds=0.5) as server:
        server.fail(article.path, times=3, status=answer)  # every try of the first run: RETRY_TIMES=2 is three
        first = crawl(server, data_dir, "-s", "RETRY_TIMES=2")
        assert first.returncode == 0, first.stderr
        assert [e.status for e in server.requests if e.path == article.path] == [answer] * 3
        assert server.url + article.path not in stored_urls(data_dir)
        owed = status(data_dir)
        assert f"{server.url}{article.path}: owed since" in owed and f"HTTP {answer}" in owed, owed
        server.clear_requests()
        second = crawl(server, data_dir)
        assert second.returncode == 0, second.stderr
        assert [e.status for e in server.requests if e.path == article.path] == [200]
    assert {server.url + path for path in readable(site)} <= stored_urls(data_dir)
    assert f"{server.url}{article.path}" not in status(data_dir)


def test_a_page_that_timed_out_is_tried_again_and_a_permanent_answer_ends_it(tmp_path):
    site = DemoSite.build(n_articles=30, seed=23)
    data_dir = tmp_path / "data"
    slow = next(a for a in site.articles if a.behaviour == "timeout")
    gone = next(a for a in site.articles if a.behaviour == "normal" and a in site.page(1))
    with serve_site(site, hang_seconds=3) as server:  # longer than DOWNLOAD_TIMEOUT=2
        server.fail(gone.path, times=100, status=404, retry_after=None)
        assert crawl(server, data_dir).returncode == 0
        report = status(data_dir)
        assert f"{server.url}{slow.path}: owed since" in report and "timed out" in report, report
        assert f"{server.url}{gone.path}: given up (HTTP 404)" in report, report
        server.hang_seconds = 0.2
        server.clear_requests()
        assert crawl(server, data_dir).returncode == 0
        assert gone.path not in {e.path for e in server.requests}  # its answer was final
    assert server.url + slow.path in stored_urls(data_dir)
    assert f"{server.url}{slow.path}" not in status(data_dir)


def test_transient_failures_back_off_across_runs(tmp_path):
    site = DemoSite.build(n_articles=21, seed=24)
    data_dir = tmp_path / "data"
    article = next(a for a in site.articles if a.behaviour == "normal" and a in site.page(2))
    tried = []
    with serve_site(site, hang_seconds=0.5) as server:
        server.fail(article.path, times=1000, status=500, retry_after=None)
        for _ in range(6):
            server.clear_requests()
            assert crawl(server, data_dir, "-s", "RETRY_TIMES=0").returncode == 0
            tried.append(any(e.path == article.path for e in server.requests))
    # Runs 1, 2 (first retry at once), then after 1 skipped run, then after 3.
    assert tried == [True, True, False, True, False, False]
    assert "failed in 3 run(s), last: HTTP 500" in status(data_dir)


def test_max_pages_bounds_the_responses_and_the_next_run_completes(tmp_path):
    site = DemoSite.build(n_articles=30, seed=25)
    data_dir = tmp_path / "data"
    with serve_site(site, hang_seconds=0.5) as server:
        bounded = crawl(server, data_dir, "--max-pages", "3")
        assert bounded.returncode == 0, bounded.stderr
        assert len(server.requests) <= 3
        db = sqlite_utils.Database(data_dir / "archive.db")
        assert db["captures"].count <= 3
        assert crawl(server, data_dir).returncode == 0
    assert {server.url + path for path in readable(site)} <= stored_urls(data_dir)
    assert_warc_files_valid(data_dir)


def test_an_article_the_sitemaps_list_and_the_archive_lacks_is_looked_for_in_the_listing(tmp_path):
    built = DemoSite.build(n_articles=40, seed=27)
    hidden = next(a for a in built.page(3) if a.behaviour == "normal")
    # Published after the first crawl with an old date: it appears deep in the listing,
    # and the sitemaps (their index too) show it as just modified.
    late = dataclasses.replace(hidden, modified=built.now + timedelta(hours=1))
    site = DemoSite([late if a is hidden else a for a in built.articles], built.other_articles,
                    built.private_article, built.seed)
    before = DemoSite([a for a in built.articles if a is not hidden], built.other_articles, built.private_article,
                      built.seed)
    data_dir = tmp_path / "data"
    with serve_site(before, hang_seconds=0.5) as server:
        assert crawl(server, data_dir).returncode == 0
        server.site = site
        server.fail(f"{SECTION}page/2/", times=2)  # the look-up is cut short: RETRY_TIMES=1 is two tries
        assert crawl(server, data_dir).returncode == 0
        assert server.url + hidden.path not in stored_urls(data_dir)
        assert "sought: 1 articles" in status(data_dir)
        server.clear_requests()
        assert crawl(server, data_dir).returncode == 0  # the next run looks again, sitemaps unchanged
        requested = [e.path for e in server.requests]
        assert hidden.path in requested
        assert not {a.path for a in site.other_articles} & set(requested)  # the sitemaps name other sections too
        assert len([p for p in requested if p.startswith(SECTION)]) <= 4  # pages 1-3, and one more at most
        server.clear_requests()
        assert crawl(server, data_dir).returncode == 0  # the other sections' articles are not looked for again
        pages = [e.path for e in server.requests if e.path != "/robots.txt" and "sitemap" not in e.path]
        assert pages == [SECTION]
    assert server.url + hidden.path in stored_urls(data_dir)


def test_a_crawl_of_one_site_leaves_another_sites_articles_alone(tmp_path):
    data_dir = tmp_path / "data"
    with serve_site(DemoSite.build(n_articles=30, seed=28), hang_seconds=0.5) as first, \
            serve_site(DemoSite.build(n_articles=30, seed=29), hang_seconds=0.5) as second:
        assert crawl(first, data_dir).returncode == 0
        first.clear_requests()
        assert crawl(second, data_dir).returncode == 0
        listing_pages = [e.path for e in second.requests if e.path.startswith(SECTION)]
        assert len(listing_pages) == second.site.listing_pages  # a first crawl of this site: every page
        assert crawl(second, data_dir, "-s", "STEPPE_REVALIDATE_DAYS=100000").returncode == 0
        assert first.requests == []  # neither revalidated nor taken for unlisted by the other's sitemaps
    stored = stored_urls(data_dir)
    for server in (first, second):
        assert {server.url + path for path in readable(server.site)} <= stored


def test_a_listing_page_that_failed_a_first_crawl_is_read_by_the_next(tmp_path):
    site = DemoSite.build(n_articles=40, seed=30)
    data_dir = tmp_path / "data"
    with serve_site(site, hang_seconds=0.5) as server:
        server.fail(f"{SECTION}page/2/", times=2)
        assert crawl(server, data_dir).returncode == 0
        assert {server.url + path for path in readable(site)} - stored_urls(data_dir)  # "Continue Reading" is no listing
        assert "elsewhere" not in status(data_dir)  # a walk cut short proves nothing
        assert crawl(server, data_dir).returncode == 0
    assert {server.url + path for path in readable(site)} <= stored_urls(data_dir)


def test_a_database_the_disk_cannot_take_stops_the_crawl_and_the_next_run_completes(tmp_path):
    site = DemoSite.build(n_articles=40, seed=31)
    data_dir = tmp_path / "data"
    with serve_site(site, hang_seconds=0.5) as server:
        assert crawl(server, data_dir).returncode == 0
        server.site = site.next_epoch(new=6, edit=2, rename=0, remove=0)

        def full_disk():  # every file of the crawl stops growing past 60 kB: the database first
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (60_000, 60_000))

        full = subprocess.run([sys.executable, "-m", "crawler.cli", "crawl", "--start-url", server.section_url,
                               "--data-dir", str(data_dir), *RECRAWL_OPTIONS], capture_output=True, text=True,
                              preexec_fn=full_disk, timeout=300)
        assert full.returncode == 1, full.stdout + full.stderr
        assert "Traceback" not in full.stderr
        assert f"{data_dir / 'archive.db'}: not written (disk I/O error); crawl stopped" in full.stdout
        assert crawl(server, data_dir).returncode == 0
    assert {server.url + path for path in readable(server.site)} <= stored_urls(data_dir)
    assert not list((data_dir / "warcs").glob("*.open"))
    assert_warc_files_valid(data_dir)
