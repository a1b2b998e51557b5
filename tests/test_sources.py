"""Many sections of many sites in one archive: one run over four fixture hosts (Zox
News, WordPress, Drupal, Ghost) from a sources file, hosts in parallel, each polite."""
from __future__ import annotations

import time
from contextlib import ExitStack

import pytest
import sqlite_utils

from archive.urls import canonical_url
from crawler.demo_site import DemoSite, serve_site
from crawler.demo_site.platforms import PLATFORMS, serve_platform

from conftest import readable, steppe

DELAY = 0.4
# How late a request may be seen to arrive: the servers share one Python process.
JITTER = 0.1


@pytest.fixture(scope="module")
def hosts():
    """name → (server, canonical URLs of the section's articles)."""
    with ExitStack() as stack:
        site = DemoSite.build(n_articles=24, seed=31)
        zox = stack.enter_context(serve_site(site, hang_seconds=0.3))
        served = {"zox": (zox, {canonical_url(zox.url + path) for path in readable(site)})}
        for name, build in sorted(PLATFORMS.items()):
            platform = build()
            server = stack.enter_context(serve_platform(platform))
            served[name] = (server, {canonical_url(t.url) for t in platform.truth(server.url)})
        yield served


@pytest.fixture(scope="module")
def run(hosts, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sources")
    sources = tmp / "sources.toml"
    sources.write_text("".join(f'[[source]]\nurl = "{server.section_url}"\nname = "{name}"\ndelay = {DELAY}\n\n'
                               for name, (server, _) in hosts.items()))
    started = time.monotonic()
    result = steppe("crawl", "--sources", str(sources), "--data-dir", str(tmp / "data"), "-s", "DOWNLOAD_TIMEOUT=5")
    return result, time.monotonic() - started, tmp / "data"


def test_every_source_is_archived_whole_with_its_name(hosts, run):
    result, _, data_dir = run
    assert result.returncode == 0, result.stdout + result.stderr
    db = sqlite_utils.Database(data_dir / "archive.db")
    for name, (server, articles) in hosts.items():
        stored = {url for (url,) in db.execute("select a.url from articles a join article_sources s"
                                               " on s.article_id = a.id where s.source = ?", [name])}
        assert stored == articles, (name, stored ^ articles)
        crawl = db.execute("select status, start_url from crawls where source = ?", [name]).fetchall()
        assert crawl == [("finished", canonical_url(server.section_url))]
        assert f" of {name} finished: " in result.stdout
    assert db["articles"].count == sum(len(articles) for _, articles in hosts.values())
    assert not db.execute("select count(*) from captures where source is null").fetchone()[0]
    status = steppe("status", "--data-dir", str(data_dir)).stdout
    assert f"sources ({len(hosts)}):" in status
    for name, (server, articles) in hosts.items():
        assert f"  {name}: {len(articles)} articles, {canonical_url(server.section_url)};" in status, status


def test_each_host_is_crawled_politely_and_all_at_the_same_time(hosts, run):
    result, seconds, _ = run
    assert result.returncode == 0, result.stderr
    spans = {}
    for name, (server, _) in hosts.items():
        log = sorted(server.requests, key=lambda entry: entry.time)
        times = [entry.time for entry in log]
        assert server.max_in_flight == 1, name  # never two requests in flight to one host
        gaps = [b - a for a, b in zip(times, times[1:])]
        # Scrapy spreads each wait over 0.5–1.5 × the delay (RANDOMIZE_DOWNLOAD_DELAY).
        shortest = min(range(len(gaps)), key=gaps.__getitem__)
        assert gaps[shortest] >= 0.5 * DELAY - JITTER, (name, gaps[shortest], log[shortest].path, log[shortest + 1].path)
        assert sum(gaps) / len(gaps) >= 0.9 * DELAY, name
        spans[name] = times[-1] - times[0]
    starts = [min(e.time for e in server.requests) for server, _ in hosts.values()]
    ends = [max(e.time for e in server.requests) for server, _ in hosts.values()]
    together = max(ends) - min(starts)
    # About as long as the slowest host, far from the sum of all.
    assert together < max(spans.values()) + 3 and together < 0.6 * sum(spans.values()), (together, spans)


def test_a_second_run_is_incremental_for_every_source(hosts, run, tmp_path):
    _, _, data_dir = run
    for server, _ in hosts.values():
        server.clear_requests()
    sources = data_dir.parent / "sources.toml"
    result = steppe("crawl", "--sources", str(sources), "--data-dir", str(data_dir), "-s", "DOWNLOAD_TIMEOUT=5")
    assert result.returncode == 0, result.stderr
    for name, (server, articles) in hosts.items():
        pages = [e.path for e in server.requests if e.path.split("?")[0].rstrip("/").endswith(
            server.section_url[len(server.url):].split("?")[0].rstrip("/"))]
        assert len(pages) == 1, (name, pages)  # page 1 of the listing, nothing deeper


def test_a_crawl_revalidates_only_its_own_sources_articles(tmp_path):
    """Everything archived is "young" here: a crawl of one host must still send
    nothing to another host whose articles share the data directory."""
    data_dir = tmp_path / "data"
    young = ["-s", "STEPPE_REVALIDATE_DAYS=100000", "--no-delay"]
    site = DemoSite.build(n_articles=24, seed=5)
    with serve_site(site) as zox, serve_platform(PLATFORMS["drupal"]()) as drupal:
        for server in (zox, drupal):
            result = steppe("crawl", "--start-url", server.section_url, "--data-dir", str(data_dir), *young)
            assert result.returncode == 0, result.stdout + result.stderr
        zox.clear_requests()
        drupal.clear_requests()
        result = steppe("crawl", "--start-url", drupal.section_url, "--data-dir", str(data_dir), *young)
        assert result.returncode == 0, result.stdout + result.stderr
        assert zox.requests == []
        # ... while its own articles were all asked again (conditionally).
        db = sqlite_utils.Database(data_dir / "archive.db")
        drupal_articles = db.execute("select count(*) from articles where url like ?", [drupal.url + "/%"]).fetchone()[0]
        assert drupal_articles > 0
        assert len({e.path for e in drupal.requests}) > drupal_articles
