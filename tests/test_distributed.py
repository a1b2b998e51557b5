"""One crawl, many workers: a real redis-server on loopback, `steppe worker` processes,
six fixture hosts on their own ports, each with its own request log."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

import pytest
import redis
import sqlite_utils

from archive.urls import canonical_url
from crawler.demo_site import DemoSite, serve_site
from crawler.demo_site.platforms import PLATFORMS, serve_platform

from conftest import readable, steppe, warcio

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None,
                                reason="redis-server is not installed (apt-get install redis-server)")

DELAY = 0.25
JITTER = 0.1  # how late a request may be seen to arrive: the servers share one Python process


class RedisServer:
    """A redis-server of the test's own, on a free loopback port, its files in ``directory``."""

    def __init__(self, directory: Path, persistent: bool):
        self.directory, self.persistent = directory, persistent
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.persistent else ["--appendonly", "no"]
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--dir", str(self.directory), "--save", "", *persistence],
                                     stdout=subprocess.DEVNULL)
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return self
            except (redis.ConnectionError, redis.BusyLoadingError):
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def stop(self):
        self.proc.terminate()  # SIGTERM: Redis writes its append-only file out, then exits
        self.proc.wait(timeout=10)

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, decode_responses=True)


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def worker(redis_server: RedisServer, data_dir: Path, namespace: str, name: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "crawler.cli", "worker", "--redis", redis_server.url,
                             "--data-dir", str(data_dir), "--namespace", namespace, "--worker-id", name,
                             "--lease-seconds", "3", "-s", "DOWNLOAD_TIMEOUT=5", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def follow(redis_server: RedisServer, data_dir: Path, namespace: str, sources: Path, *extra: str) -> subprocess.Popen:
    """`steppe crawl --redis` without workers of its own: it puts the crawl in and follows it."""
    return subprocess.Popen([sys.executable, "-m", "crawler.cli", "crawl", "--redis", redis_server.url,
                             "--namespace", namespace, "--sources", str(sources), "--data-dir", str(data_dir),
                             "-s", "DOWNLOAD_TIMEOUT=5", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def pages_of(redis_server: RedisServer, namespace: str, name: str) -> int:
    import json

    progress = redis_server.client().hget(f"{namespace}:workers", name)
    return json.loads(progress)["pages"] if progress else 0


def write_sources(path: Path, hosts: dict, delay: float | None) -> Path:
    path.write_text("".join(f'[[source]]\nurl = "{server.section_url}"\nname = "{name}"\n'
                            + (f"delay = {delay}\n" if delay is not None else "") + "\n"
                            for name, (server, _) in hosts.items()))
    return path


def stored_by_source(data_dir: Path) -> dict[str, set[str]]:
    db = sqlite_utils.Database(data_dir / "archive.db")
    stored: dict[str, set[str]] = {}
    for source, url in db.execute("select s.source, a.url from articles a join article_sources s on s.article_id = a.id"):
        stored.setdefault(source, set()).add(url)
    return stored


def archive_digest(db_path: Path) -> dict:
    """What a crawl archived, independent of when and by whom: articles, their
    versions, captures counted by URL and status."""
    db = sqlite_utils.Database(db_path)
    return {
        "articles": sorted(db.execute("select url, title, authors, published, text_hash from articles").fetchall()),
        "versions": sorted(db.execute("select a.url, v.text_hash from article_versions v"
                                      " join articles a on a.id = v.article_id").fetchall()),
        # Less the 503s each demo site answers once per article and server (see ``fetches``).
        "captures": Counter(db.execute("select url, status from captures where status not in (429, 503)").fetchall()),
    }


def assert_warc_files_whole(data_dir: Path):
    files = sorted((data_dir / "warcs").glob("*"))
    assert files and not [f for f in files if f.name.endswith(".open")], files
    result = warcio("check", *map(str, files))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis"), persistent=True).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def hosts():
    """name → (server, canonical URLs of its section's articles): three demo sites and
    three platforms (WordPress, Drupal, Ghost), six hosts."""
    with ExitStack() as stack:
        served = {}
        for n in range(3):
            site = DemoSite.build(n_articles=22, seed=50 + n)
            server = stack.enter_context(serve_site(site, hang_seconds=0.3, slow_seconds=0.5))
            served[f"zox{n}"] = (server, {canonical_url(server.url + path) for path in readable(site)})
        for name, build in sorted(PLATFORMS.items()):
            platform = build()
            server = stack.enter_context(serve_platform(platform))
            served[name] = (server, {canonical_url(t.url) for t in platform.truth(server.url)})
        yield served


def fetches(log) -> Counter:
    """Requests by path, less the answers asking to come back later (503, 429): a
    retry is not a URL fetched twice, and the demo sites answer 503 once per server."""
    return Counter(entry.path_with_query for entry in log if entry.status not in (429, 503))


def request_logs(hosts) -> dict[str, list]:
    return {name: sorted(server.requests, key=lambda entry: entry.time) for name, (server, _) in hosts.items()}


def clear(hosts):
    for server, _ in hosts.values():
        server.clear_requests()
        server.max_in_flight = 0


@pytest.fixture(scope="module")
def distributed(hosts, redis_server, tmp_path_factory):
    """Three local workers started by `steppe crawl --redis --workers 3`, each host with a delay."""
    tmp = tmp_path_factory.mktemp("distributed")
    sources = write_sources(tmp / "sources.toml", hosts, DELAY)
    clear(hosts)
    result = steppe("crawl", "--redis", redis_server.url, "--namespace", "main", "--workers", "3",
                    "--sources", str(sources), "--data-dir", str(tmp / "data"), "--lease-seconds", "5",
                    "-s", "DOWNLOAD_TIMEOUT=5", timeout=180)
    logs = request_logs(hosts)
    in_flight = {name: server.max_in_flight for name, (server, _) in hosts.items()}
    return result, tmp / "data", logs, in_flight


@pytest.fixture(scope="module")
def single(hosts, distributed, tmp_path_factory):
    """The same fixture crawled by one process, without delays."""
    tmp = tmp_path_factory.mktemp("single")
    sources = write_sources(tmp / "sources.toml", hosts, None)
    clear(hosts)
    result = steppe("crawl", "--sources", str(sources), "--data-dir", str(tmp / "data"), "--no-delay",
                    "-s", "DOWNLOAD_TIMEOUT=5")
    assert result.returncode == 0, result.stdout + result.stderr
    return tmp / "data", request_logs(hosts)


def test_three_workers_archive_every_article_once_and_politely(hosts, distributed):
    result, data_dir, logs, in_flight = distributed
    assert result.returncode == 0, result.stdout + result.stderr
    stored = stored_by_source(data_dir)
    for name, (server, articles) in hosts.items():
        assert stored.get(name) == articles, (name, stored.get(name, set()) ^ articles)
        log = logs[name]
        assert [path for path, n in fetches(log).items() if n > 1] == [], name  # no URL fetched twice
        assert in_flight[name] == 1, name  # never two requests in flight to one host
        gaps = [b.time - a.time for a, b in zip(log, log[1:])]
        # Scrapy spreads each wait over 0.5–1.5 × the delay (RANDOMIZE_DOWNLOAD_DELAY).
        assert min(gaps) >= 0.5 * DELAY - JITTER, name
        assert sum(gaps) / len(gaps) >= 0.9 * DELAY, name
    db = sqlite_utils.Database(data_dir / "archive.db")
    assert db["articles"].count == sum(len(articles) for _, articles in hosts.values())
    crawls = db.execute("select id, source, status from crawls").fetchall()
    assert sorted(source for _, source, _ in crawls) == sorted(hosts)  # each source crawled once
    assert {status for _, _, status in crawls} == {"finished"}
    workers = {crawl_id.partition("@")[2] for crawl_id, _, _ in crawls}
    assert len(workers) >= 2, workers  # the hosts were shared out
    for warc in (data_dir / "warcs").iterdir():  # each worker's files carry its name
        assert any(f"@{name}-" in warc.name for name in workers), warc.name
    assert_warc_files_whole(data_dir)
    for name in hosts:
        assert f" of {name} finished: " in result.stdout


def test_the_database_equals_a_single_process_crawl_and_a_rebuild(hosts, distributed, single, tmp_path):
    _, data_dir, logs, _ = distributed
    single_dir, single_logs = single
    digest = archive_digest(data_dir / "archive.db")
    assert digest == archive_digest(single_dir / "archive.db")
    for name in hosts:  # and it cost the same requests
        assert fetches(logs[name]) == fetches(single_logs[name]), name
    result = steppe("rebuild", str(data_dir / "warcs"), "--db", str(tmp_path / "rebuilt.db"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert archive_digest(tmp_path / "rebuilt.db") == digest


def test_a_recrawl_with_two_workers_costs_what_it_costs_one_process(hosts, redis_server, distributed, single):
    _, data_dir, _, _ = distributed
    single_dir, _ = single
    clear(hosts)
    result = steppe("crawl", "--sources", str(single_dir.parent / "sources.toml"), "--data-dir", str(single_dir),
                    "--no-delay", "-s", "DOWNLOAD_TIMEOUT=5")
    assert result.returncode == 0, result.stdout + result.stderr
    one = {name: fetches(log) for name, log in request_logs(hosts).items()}
    clear(hosts)
    result = steppe("crawl", "--redis", redis_server.url, "--namespace", "main", "--workers", "2", "--no-delay",
                    "--sources", str(single_dir.parent / "sources.toml"), "--data-dir", str(data_dir),
                    "-s", "DOWNLOAD_TIMEOUT=5", timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    many = {name: fetches(log) for name, log in request_logs(hosts).items()}
    assert many == one
    assert sum(sum(counts.values()) for counts in many.values()) < 6 * 8  # a page or so per host, not a crawl


def test_a_killed_worker_and_a_restarted_redis_lose_nothing(hosts, redis_server, tmp_path):
    """A worker SIGKILLed mid-crawl, then Redis (append-only file on) restarted: the
    crawl completes, every article once, every WARC file whole."""
    demo = {name: hosts[name] for name in ("zox0", "zox1", "zox2")}
    sources = write_sources(tmp_path / "sources.toml", demo, 0.1)
    data_dir = tmp_path / "data"
    clear(hosts)
    victim = worker(redis_server, data_dir, "faults", "victim", "--hosts", "1")
    follower = follow(redis_server, data_dir, "faults", sources)
    survivor = worker(redis_server, data_dir, "faults", "survivor", "--hosts", "1")
    wait_for(lambda: pages_of(redis_server, "faults", "victim") >= 5, 60, "the victim to archive pages")
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    wait_for(lambda: pages_of(redis_server, "faults", "survivor") >= 5, 60, "the survivor to archive pages")
    redis_server.stop()
    time.sleep(1.5)
    redis_server.start()
    survivor_out, survivor_err = survivor.communicate(timeout=120)
    out, err = follower.communicate(timeout=60)
    assert survivor.returncode == 0, survivor_err
    assert follower.returncode == 0, out + err
    assert list(data_dir.glob("warcs/*@victim-*")), "the victim had archived nothing"
    stored = stored_by_source(data_dir)
    for name, (_, articles) in demo.items():
        assert stored.get(name) == articles, (name, stored.get(name, set()) ^ articles)
    db = sqlite_utils.Database(data_dir / "archive.db")
    assert db["articles"].count == sum(len(articles) for _, articles in demo.values())
    assert not db.execute("select warc_filename, warc_offset from captures group by 1, 2 having count(*) > 1").fetchall()
    # An article fetched by both (the victim's host crawled again) is one article of one
    # version: the demo sites serve the same text each time.
    assert db["article_versions"].count == db["articles"].count
    statuses = dict(db.execute("select id, status from crawls").fetchall())
    assert "interrupted" in {status for crawl_id, status in statuses.items() if crawl_id.endswith("@victim")}
    assert "running" not in statuses.values()
    assert_warc_files_whole(data_dir)


def test_a_redis_that_lost_the_crawl_is_said_and_the_crawl_resumes(hosts, tmp_path):
    """Without persistence a restarted Redis has forgotten the crawl: the workers and
    the crawl command say so and how to go on; putting the sources in again does."""
    server = RedisServer(tmp_path, persistent=False).start()
    try:
        demo = {"zox0": hosts["zox0"]}
        sources = write_sources(tmp_path / "sources.toml", demo, 0.15)
        data_dir = tmp_path / "data"
        clear(hosts)
        follower = follow(server, data_dir, "lost", sources)
        one = worker(server, data_dir, "lost", "one")
        wait_for(lambda: pages_of(server, "lost", "one") >= 3, 60, "the worker to archive pages")
        server.stop()
        server.start()
        _, worker_err = one.communicate(timeout=60)
        out, err = follower.communicate(timeout=60)
        assert one.returncode == 1 and "no longer holds this crawl" in worker_err, worker_err
        assert follower.returncode == 1 and "no longer holds this crawl" in err, err
        assert "put the sources in again" in err
        result = steppe("crawl", "--redis", server.url, "--namespace", "lost", "--workers", "1",
                        "--sources", str(sources), "--data-dir", str(data_dir), "-s", "DOWNLOAD_TIMEOUT=5")
        assert result.returncode == 0, result.stdout + result.stderr
    finally:
        server.stop()
    (server_, articles), = demo.values()
    assert stored_by_source(data_dir)["zox0"] == articles
    article_paths = {canonical_url(server_.url + path) for path in
                     (e.path_with_query for e in server_.requests)} & articles
    fetched = Counter(canonical_url(server_.url + path) for path in fetches(server_.requests).elements())
    assert [url for url in article_paths if fetched[url] > 1] == []  # the second run went on, not over
    assert_warc_files_whole(data_dir)


def test_a_worker_takes_its_next_host_when_one_is_done_not_on_its_next_poll(hosts, redis_server, tmp_path):
    """One slot, two hosts, a poll of ten minutes: the second host and the end of the
    crawl come right after the first host, or the worker would sit idle for its poll."""
    demo = {name: hosts[name] for name in ("zox0", "zox1")}
    sources = write_sources(tmp_path / "sources.toml", demo, None)
    data_dir = tmp_path / "data"
    follower = follow(redis_server, data_dir, "handover", sources, "--no-delay")
    wait_for(lambda: redis_server.client().exists("handover:run"), 60, "the crawl to be put in")
    one = subprocess.Popen([sys.executable, "-c", "import sys; from pathlib import Path; "
                            "from crawler.worker import run_worker; "
                            "done = run_worker(sys.argv[1], Path(sys.argv[2]), {'STEPPE_PROGRESS_INTERVAL': 0}, "
                            "worker_id='slow-poll', namespace='handover', hosts=1, poll=600); "
                            "sys.exit(1 if done.error else 0)", redis_server.url, str(data_dir)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _, worker_err = one.communicate(timeout=120)  # far less than the poll
        out, err = follower.communicate(timeout=60)
    finally:
        for proc in (one, follower):
            if proc.poll() is None:
                proc.kill()
    assert one.returncode == 0, worker_err
    assert follower.returncode == 0, out + err
    stored = stored_by_source(data_dir)
    for name, (_, articles) in demo.items():
        assert stored.get(name) == articles, name
    # A worker started once the crawl is over (a service restarting it) waits for the
    # next crawl, rather than joining the finished one and ending at once, again and again.
    late = worker(redis_server, data_dir, "handover", "late", "--wait", "2")
    _, late_err = late.communicate(timeout=60)
    assert late.returncode == 1 and "is over" in late_err and "no crawl to work on" in late_err, late_err


@pytest.mark.parametrize("me", ["other", "gone"])
def test_a_dead_workers_open_file_and_run_are_recovered_by_another_or_by_its_namesake(tmp_path, me):
    """What a worker killed outright leaves (an .open WARC file, a run still running) is
    recovered by any other worker, and by a new worker of its name (a pid used again)."""
    from archive.store import Store
    from archive.warc import WarcWriter
    from crawler.worker import recover_dead_workers

    from conftest import html_exchange

    data_dir, crawl_id = tmp_path / "data", "20260101T000000Z-abcdef@gone"
    data_dir.mkdir()
    store = Store(data_dir / "archive.db")
    store.start_crawl(crawl_id, started="2026-01-01T00:00:00+00:00")
    store.close()
    writer = WarcWriter(data_dir / "warcs", f"steppe-{crawl_id}", info={"crawl-id": crawl_id})
    # Written (each exchange is flushed), never closed: the worker was killed.
    writer.write_exchange(html_exchange("http://127.0.0.1:9/page", "<html><title>t</title></html>"))
    assert recover_dead_workers(data_dir, data_dir / "archive.db", data_dir / "warcs", me,
                                mine_too=me == "gone") == [crawl_id]
    assert not list((data_dir / "warcs").glob("*.open"))
    db = sqlite_utils.Database(data_dir / "archive.db")
    assert db.execute("select status from crawls").fetchall() == [("interrupted",)]
    assert db["captures"].count == 1


def test_local_workers_share_the_machines_cores_for_extraction():
    from crawler import settings
    from crawler.coordinator import local_ingest_workers

    cores = os.cpu_count() or 1
    assert local_ingest_workers(1, {}) == settings.STEPPE_INGEST_WORKERS  # alone: the setting's default
    assert local_ingest_workers(cores, {}) == 1  # a core each: one extraction process beside each crawl
    assert local_ingest_workers(2 * cores, {}) == 1
    assert local_ingest_workers(2, {"STEPPE_INGEST_WORKERS": 3}) is None  # said by the crawl: the workers' own
