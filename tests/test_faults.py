"""Hostile networks, hostile pages, failing disks: real crawls of the chaos server.

Each fault of ``crawler.demo_site.chaos`` sits among good articles on a section
listing; a real ``steppe crawl`` meets it. Every case must end with a clear message
naming its URL (once), the rest of the crawl going on (the good articles stored),
and every WARC file passing ``warcio check``. The faults are grouped into a few
crawls (module fixtures) so that the file runs in a few minutes.
"""

from __future__ import annotations

import ipaddress
import os
import random
import re
import resource
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.warc import OPEN_SUFFIX
from crawler.demo_site import DemoSite
from crawler.demo_site.chaos import FAULTS, FAULTS_BY_SLUG, MiB, SITEMAPS, ChaosServer, fault_path
from crawler.middlewares import ConnectionCut, CutConnectionReport, address_refusal, retry_after_seconds
from crawler.settings import (STEPPE_MAX_BODY_SIZE, STEPPE_MAX_DECODED_SIZE, STEPPE_ROBOTS_MAX_SIZE,
                              STEPPE_SITEMAP_MAX_SIZE)

from conftest import steppe, warcio
from test_rebuild import stable_rows

# Fast, but polite enough to show Retry-After being honoured.
OPTIONS = ["--no-delay", "-s", "RETRY_TIMES=1", "-s", "STEPPE_RETRY_AFTER_MAX=3"]
MEMORY_LIMIT = 300 * MiB


def chaos_site() -> DemoSite:
    return DemoSite.build(n_articles=21, seed=3)


# A crawl as a process, its memory watched -------------------------------------------------

def _tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            pass
    return pids


def _status_kb(pid: int, field_name: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass
class Crawl:
    server: ChaosServer
    data_dir: Path
    returncode: int
    stdout: str
    stderr: str
    # The kernel's own accounting of the crawl's processes (the crawl and its ingest
    # workers): the highest resident size each one reached (VmHWM), by pid, and the
    # highest sum of their resident sizes (VmRSS) seen at one time (sampled at 20 Hz).
    peak_rss: dict[int, int] = field(default_factory=dict)
    peak_total: int = 0

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.data_dir / "archive.db")

    def stored(self) -> set[str]:
        return {url for (url,) in self.db.execute("select url from articles")}

    def records(self) -> list:
        """(type, url, WARC headers, payload length) of every response/revisit record."""
        found = []
        for path in sorted((self.data_dir / "warcs").glob("*.warc.gz")):
            with open(path, "rb") as stream:
                for record in ArchiveIterator(stream):
                    if record.rec_type in ("response", "revisit"):
                        found.append((record.rec_type, record.rec_headers.get_header("WARC-Target-URI"),
                                      dict(record.rec_headers.headers), len(record.content_stream().read())))
        return found

    def records_of(self, url: str) -> list:
        return [record for record in self.records() if record[1] == url]


def run_crawl(server: ChaosServer, data_dir: Path, *extra: str, start_url: str | None = None,
              preexec_fn=None, timeout: float = 180) -> Crawl:
    """`steppe crawl` in its own process, its process tree's memory sampled meanwhile."""
    process = subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", "crawl", "--start-url", start_url or server.section_url,
         "--data-dir", str(data_dir), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=preexec_fn)
    peaks: dict[int, int] = {}
    total = [0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            now = 0
            for pid in _tree(process.pid):
                peaks[pid] = max(peaks.get(pid, 0), _status_kb(pid, "VmHWM") * 1024)
                now += _status_kb(pid, "VmRSS") * 1024
            total[0] = max(total[0], now)
            done.wait(0.05)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    finally:
        done.set()
        process.kill()
    sampler.join()
    return Crawl(server, data_dir, process.returncode, stdout, stderr, peaks, total[0])


def assert_warcs_valid(data_dir: Path) -> None:
    warcs = data_dir / "warcs"
    assert not list(warcs.glob(f"*{OPEN_SUFFIX}"))
    for path in warcs.glob("*.warc.gz"):
        check = warcio("check", str(path))
        assert check.returncode == 0, (path, check.stdout, check.stderr)


def assert_said_once(crawl: Crawl, url: str, message: str) -> None:
    """The crawl's log names ``url`` with ``message``, once."""
    about = [line for line in crawl.stderr.splitlines() if url in line]
    lines = [line for line in about if message in line]
    assert len(lines) == 1, (url, message, about or crawl.stderr[-3000:])  # what the log said instead


def good_urls(server: ChaosServer) -> set[str]:
    return {server.url + article.path for article in server.goods}


# The crawls --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def wire_crawl(tmp_path_factory) -> Crawl:
    """Network faults, Retry-After storms and redirects, with a 10 MB robots.txt."""
    faults = [f for f in FAULTS if f.group in ("network", "storms", "redirects")]
    with ChaosServer(chaos_site(), faults, robots="huge") as server:
        return run_crawl(server, tmp_path_factory.mktemp("wire") / "data", *OPTIONS, "-s", "DOWNLOAD_TIMEOUT=2")


@pytest.fixture(scope="module")
def bodies_crawl(tmp_path_factory) -> Crawl:
    """Hostile bodies (the reactor is busy parsing them: a longer timeout)."""
    faults = [f for f in FAULTS if f.group == "bodies"]
    with ChaosServer(chaos_site(), faults) as server:
        return run_crawl(server, tmp_path_factory.mktemp("bodies") / "data", *OPTIONS, "-s", "DOWNLOAD_TIMEOUT=30")


@dataclass
class TwoCrawls:
    first: Crawl   # meets the 200 MB page and the gzip bomb
    second: Crawl  # incremental: reads the sitemaps
    second_hits: list  # the server's request log during the second crawl


@pytest.fixture(scope="module")
def big_crawls(tmp_path_factory) -> TwoCrawls:
    faults = [f for f in FAULTS if f.group == "big"]
    data_dir = tmp_path_factory.mktemp("big") / "data"
    with ChaosServer(chaos_site(), faults) as server:
        first = run_crawl(server, data_dir, *OPTIONS, "-s", "DOWNLOAD_TIMEOUT=30")
        mark = len(server.hits)
        second = run_crawl(server, data_dir, *OPTIONS, "-s", "DOWNLOAD_TIMEOUT=30")
    return TwoCrawls(first, second, server.hits[mark:])


WIRE = [f.slug for f in FAULTS if f.group in ("network", "storms", "redirects")]
BODIES = [f.slug for f in FAULTS if f.group == "bodies"]


def test_the_wire_crawl_goes_on_past_every_fault(wire_crawl):
    assert wire_crawl.returncode == 0, wire_crawl.output
    assert good_urls(wire_crawl.server) <= wire_crawl.stored()
    assert "Traceback" not in wire_crawl.output
    assert_warcs_valid(wire_crawl.data_dir)


def test_the_bodies_crawl_goes_on_past_every_fault(bodies_crawl):
    assert bodies_crawl.returncode == 0, bodies_crawl.output
    assert good_urls(bodies_crawl.server) <= bodies_crawl.stored()
    assert "Traceback" not in bodies_crawl.output
    assert_warcs_valid(bodies_crawl.data_dir)


# What each fault must end with: (message in the log, the WARC records of its URL).
WIRE_OUTCOMES = {
    "reset-mid-body": ("ConnectionCut: the connection was closed or reset before the response was complete", 0),
    "reset-mid-headers": ("ConnectionCut: the connection was closed or reset before the response was complete", 0),
    "short-body": ("ConnectionCut: the connection was closed or reset before the response was complete", 0),
    "trickle": (": timed out (Getting", 0),
    "silent": (": timed out (Getting", 0),
    "storm-429-seconds": ("Could not fetch", 2),
    "storm-503-date": ("Could not fetch", 2),
    "storm-503-garbage": ("unreadable Retry-After 'soon-ish': retried without waiting", 2),
    "storm-429-year": ("asks to come back in 365.0 days, more than STEPPE_RETRY_AFTER_MAX (3 s): given up", 1),
    "redirect-chain": ("redirect to another host refused", 1),
    "redirect-file": ("redirect to a file: URL refused", 1),
    "redirect-ftp": ("redirect to a ftp: URL refused", 1),
    "redirect-javascript": ("redirect to a javascript: URL refused", 1),
    "redirect-private": ("redirect refused before connecting: 10.0.0.1 is a private address", 1),
    "redirect-link-local": ("redirect refused before connecting: 169.254.169.254 is a link-local address", 1),
    "redirect-ipv6-private": ("redirect refused before connecting: fc00::1 is a private address", 1),
    "redirect-loopback": ("redirect to another host refused (127.0.0.2 is not 127.0.0.1)", 1),
}


@pytest.mark.parametrize("slug", WIRE)
def test_a_fault_of_the_wire_ends_in_one_clear_message(wire_crawl, slug):
    url = wire_crawl.server.url + fault_path(slug)
    message, records = WIRE_OUTCOMES[slug]
    assert_said_once(wire_crawl, url, message)
    assert len(wire_crawl.records_of(url)) == records
    assert url not in wire_crawl.stored()


def test_retry_after_is_honoured_within_its_bound(wire_crawl):
    server = wire_crawl.server
    seconds = server.hits_of(fault_path("storm-429-seconds"))
    assert len(seconds) == 2 and seconds[1].time - seconds[0].time >= 0.9  # Retry-After: 1
    assert len(server.hits_of(fault_path("storm-503-date"))) == 2
    assert len(server.hits_of(fault_path("storm-429-year"))) == 1  # a year: not waited, not retried
    assert "HTTP 429" in wire_crawl.stdout and "HTTP 503" in wire_crawl.stdout


def test_only_a_closed_connection_is_said_to_be_cut():
    """Scrapy wraps every failure Twisted reports for a response in DownloadFailedError:
    a refused TLS handshake keeps its own words, only a closed connection is a cut."""
    from OpenSSL.SSL import Error as TLSError
    from scrapy.exceptions import DownloadFailedError
    from twisted.internet.error import ConnectionDone, ConnectionLost
    from twisted.python.failure import Failure
    from twisted.web._newclient import ResponseFailed, ResponseNeverReceived

    def wrapped(failure_class, error):
        try:
            try:
                raise failure_class([Failure(error)])
            except ResponseFailed as twisted_error:
                raise DownloadFailedError(str(twisted_error)) from twisted_error
        except DownloadFailedError as scrapy_error:
            return scrapy_error

    report = CutConnectionReport()
    for cut in (wrapped(ResponseFailed, ConnectionLost()), wrapped(ResponseNeverReceived, ConnectionDone())):
        with pytest.raises(ConnectionCut):
            report.process_exception(None, cut)
    tls = wrapped(ResponseNeverReceived, TLSError([("SSL routines", "", "sslv3 alert handshake failure")]))
    assert report.process_exception(None, tls) is None


def test_retry_after_values():
    from datetime import datetime, timezone
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert retry_after_seconds(b"120", now) == 120
    assert retry_after_seconds("Thu, 01 Jan 2026 00:00:30 GMT", now) == 30
    assert retry_after_seconds("Wed, 31 Dec 2025 00:00:00 GMT", now) == 0  # in the past
    assert retry_after_seconds("soon-ish", now) is None
    assert retry_after_seconds("2027", now) == 2027  # a bare year is delta-seconds
    assert retry_after_seconds("Fri, 31 Dec 9999 23:59:59 GMT", now) > 365 * 86400
    assert retry_after_seconds("Mon, 99 Foo 2026 99:99:99 GMT", now) is None


def test_redirects_never_reach_their_target(wire_crawl):
    hosts = {hit.host.split(":")[0] for hit in wire_crawl.server.hits}
    assert hosts == {"127.0.0.1"}
    targets = {record[1] for record in wire_crawl.records()}
    assert not any(re.match(r"(file|ftp|javascript):|http://(10\.|169\.254\.|\[fc00|127\.0\.0\.2)", url)
                   for url in targets)


def test_a_10_mb_robots_txt_is_read_to_500_kib(wire_crawl):
    """RFC 9309: read at least 500 KiB; the "Disallow: /" past them is not applied."""
    (robots,) = wire_crawl.records_of(wire_crawl.server.url + "/robots.txt")
    headers, length = robots[2], robots[3]
    assert headers["WARC-Truncated"] == "length"
    assert STEPPE_ROBOTS_MAX_SIZE < length <= STEPPE_ROBOTS_MAX_SIZE + MiB
    assert good_urls(wire_crawl.server) <= wire_crawl.stored()
    assert_said_once(wire_crawl, "/robots.txt", "body larger than STEPPE_ROBOTS_MAX_SIZE")


BODY_OUTCOMES = {
    # slug: (message naming the URL, stored as an article)
    "corrupt-gzip": ("body does not decode as its Content-Encoding says (gzip", False),
    "false-encoding": ("body does not decode as its Content-Encoding says (deflate", False),
    "pdf-as-html": ("not HTML: a binary body", False),
    "video-as-html": ("not HTML: a binary body", False),
    "invalid-utf8": ("bytes invalid in utf-8 were replaced", True),
    "deep-nesting": ("", None),
    "one-line": (None, True),
    "jsonld-malformed": (None, True),
    "jsonld-enormous": (None, True),  # the JSON-LD nested past recursion is skipped; the page reads
}


@pytest.mark.parametrize("slug", BODIES)
def test_a_hostile_body_is_archived_as_sent_and_reported(bodies_crawl, slug):
    url = bodies_crawl.server.url + fault_path(slug)
    message, stored = BODY_OUTCOMES[slug]
    (record,) = bodies_crawl.records_of(url)
    assert record[0] == "response" and "WARC-Truncated" not in record[2]
    if message is not None:
        assert any(url in line and message in line for line in bodies_crawl.stderr.splitlines()), bodies_crawl.stderr
    if stored is not None:
        assert (url in bodies_crawl.stored()) == stored


def test_a_200_mb_page_is_archived_truncated(big_crawls):
    crawl = big_crawls.first
    assert crawl.returncode == 0, crawl.output
    url = crawl.server.url + fault_path("huge-page")
    (record,) = crawl.records_of(url)
    assert record[2]["WARC-Truncated"] == "length"
    assert STEPPE_MAX_BODY_SIZE < record[3] <= STEPPE_MAX_BODY_SIZE + MiB
    assert_said_once(crawl, url, "body larger than STEPPE_MAX_BODY_SIZE")
    assert good_urls(crawl.server) <= crawl.stored()
    assert_warcs_valid(crawl.data_dir)


def test_a_gzip_bomb_is_archived_as_sent_and_not_inflated(big_crawls):
    crawl = big_crawls.first
    url = crawl.server.url + fault_path("gzip-bomb")
    (record,) = crawl.records_of(url)
    assert "WARC-Truncated" not in record[2] and record[3] < 3 * MiB  # the bytes as sent
    assert_said_once(crawl, url, f"body inflates past STEPPE_MAX_DECODED_SIZE ({STEPPE_MAX_DECODED_SIZE} bytes)")


def test_memory_stays_bounded_whatever_the_server_sends(big_crawls):
    """The 200 MB page, the gzip bomb (first crawl), the 100 MB sitemap and the entity
    bomb (second crawl): the crawl's processes together stay under 300 MB, and so
    does the kernel's high-water mark of each."""
    for crawl in (big_crawls.first, big_crawls.second):
        print(f"peak together {crawl.peak_total / MiB:.0f} MiB; per process {[v // MiB for v in crawl.peak_rss.values()]}")
        assert crawl.peak_rss and max(crawl.peak_rss.values()) < MEMORY_LIMIT, crawl.peak_rss
        assert 0 < crawl.peak_total < MEMORY_LIMIT, (crawl.peak_total, crawl.peak_rss)


SITEMAP_OUTCOMES = {
    "/post-sitemap2.xml": "malformed XML",
    "/post-sitemap3.xml": "XML that declares entities (an entity bomb?): read without expanding them",
    "/post-sitemap4.xml": "body larger than STEPPE_SITEMAP_MAX_SIZE",
    "/post-sitemap5.xml": "asked for the 4th time in this crawl (STEPPE_MAX_FETCHES_PER_URL is 3)",
}


@pytest.mark.parametrize("path", list(SITEMAPS))
def test_a_hostile_sitemap_is_survived_and_reported(big_crawls, path):
    crawl = big_crawls.second
    assert crawl.returncode == 0, crawl.output
    url = crawl.server.url + path
    assert_said_once(crawl, url, SITEMAP_OUTCOMES[path])
    assert crawl.records_of(url)
    assert good_urls(crawl.server) <= crawl.stored()
    assert_warcs_valid(crawl.data_dir)


def test_a_100_mb_sitemap_is_cut_and_a_self_listing_index_stops(big_crawls):
    crawl = big_crawls.second
    records = crawl.records_of(crawl.server.url + "/post-sitemap4.xml")
    assert records and all(r[2]["WARC-Truncated"] == "length" for r in records)
    assert all(STEPPE_SITEMAP_MAX_SIZE < r[3] <= STEPPE_SITEMAP_MAX_SIZE + MiB for r in records)
    assert len([hit for hit in big_crawls.second_hits if hit.path == "/post-sitemap5.xml"]) == 3


# Private addresses ---------------------------------------------------------------------------

@pytest.mark.parametrize("address, loopback_ok, refused", [
    ("93.184.216.34", False, None), ("2606:2800:220:1::1", False, None),
    ("127.0.0.1", False, "loopback"), ("127.0.0.2", True, None), ("::1", False, "loopback"), ("::1", True, None),
    ("10.0.0.1", True, "private"), ("172.16.5.4", True, "private"), ("172.31.255.255", False, "private"),
    ("192.168.1.1", True, "private"), ("169.254.169.254", True, "link-local"), ("fc00::1", True, "private"),
    ("fd12:3456::1", True, "private"), ("fe80::1", True, "link-local"), ("::ffff:10.0.0.1", True, "private"),
    ("0.0.0.0", True, "private"), ("100.64.0.1", True, "non-public"),
])
def test_the_address_policy(address, loopback_ok, refused):
    refusal = address_refusal(address, loopback_ok=loopback_ok)
    assert (refusal is None) == (refused is None), refusal
    if refused:
        assert refused in refusal
    assert ipaddress.ip_address(address)  # the table holds addresses only


def test_sitemaps_on_private_addresses_are_refused_before_connecting(big_crawls):
    crawl = big_crawls.second
    for url, reason in [("http://192.168.1.1/sitemap_index.xml", "192.168.1.1 is a private address"),
                        ("http://10.0.0.1/post-sitemap.xml", "10.0.0.1 is a private address"),
                        ("http://169.254.169.254/post-sitemap6.xml", "169.254.169.254 is a link-local address"),
                        ("file:///etc/passwd", "not an http(s) URL")]:
        assert f"Could not fetch {url}: refused before connecting: {reason}" in crawl.stderr
        assert not crawl.records_of(url)
    assert "etc/passwd" not in "".join(r[1] for r in crawl.records())


def test_a_public_name_that_resolves_to_loopback_is_refused(tmp_path):
    """A public host (a made-up name that STEPPE_RESOLVE answers with 127.0.0.1, as a
    hostile DNS server would) is never fetched: not its start page, nor robots.txt."""
    with ChaosServer(chaos_site(), []) as server:
        start = f"http://public.test:{server.port}/category/central-asia/"
        crawl = run_crawl(server, tmp_path / "data", "-s", 'STEPPE_RESOLVE={"public.test": "127.0.0.1"}',
                          "-s", "RETRY_TIMES=0", start_url=start)
        assert server.hits == []
    assert crawl.returncode == 1
    assert_said_once(crawl, start, "Could not fetch")
    assert ("refused before connecting: public.test resolves to 127.0.0.1; 127.0.0.1 is a loopback address "
            "and the crawl's start URL is not") in crawl.stderr


def test_a_host_opened_by_name_is_crawled_but_loopback_stays_closed(tmp_path):
    """STEPPE_PRIVATE_HOSTS opens one name (an intranet mirror), not its network: the
    start URL is not loopback, so a redirect to 127.0.0.2 is refused before connecting."""
    with ChaosServer(chaos_site(), [FAULTS_BY_SLUG["redirect-loopback"]], n_good=2) as server:
        start = f"http://mirror.test:{server.port}/category/central-asia/"
        crawl = run_crawl(server, tmp_path / "data", "-s", 'STEPPE_RESOLVE={"mirror.test": "127.0.0.1"}',
                          "-s", "STEPPE_PRIVATE_HOSTS=mirror.test", "-s", "DOWNLOAD_DELAY=0",
                          "-s", "AUTOTHROTTLE_ENABLED=False", start_url=start)
    assert crawl.returncode == 0, crawl.output
    assert {f"http://mirror.test:{server.port}{a.path}" for a in server.goods} <= crawl.stored()
    assert_said_once(crawl, f"http://mirror.test:{server.port}{fault_path('redirect-loopback')}",
                     "redirect refused before connecting: 127.0.0.2 is a loopback address and the crawl's start URL is not")


# robots.txt unreachable ----------------------------------------------------------------------

@pytest.mark.parametrize("mode, message", [("5xx", "robots.txt answered HTTP 503"),
                                            ("hang", "robots.txt could not be fetched")])
def test_an_unreachable_robots_txt_disallows_the_host_for_the_crawl(tmp_path, mode, message):
    """RFC 9309 2.3.1.4: a robots.txt that answers 5xx, or does not answer, means
    "disallow everything" for the time being."""
    with ChaosServer(chaos_site(), [], robots=mode) as server:
        crawl = run_crawl(server, tmp_path / "data", *OPTIONS, "-s", "DOWNLOAD_TIMEOUT=2")
        assert {hit.path for hit in server.hits} == {"/robots.txt"}
    assert crawl.returncode == 1  # its start page could not be read
    assert_said_once(crawl, server.url + "/robots.txt", message)
    assert 'RFC 9309 reads that as "disallow everything"' in crawl.stderr
    assert "Traceback" not in crawl.output
    assert_warcs_valid(crawl.data_dir)


def test_a_robots_txt_that_is_not_there_allows_everything(tmp_path):
    """RFC 9309 2.3.1.3: a 4xx robots.txt is "unavailable": no rules at all."""
    with ChaosServer(chaos_site(), [], robots="4xx", n_good=2) as server:
        crawl = run_crawl(server, tmp_path / "data", *OPTIONS)
    assert crawl.returncode == 0, crawl.output
    assert good_urls(server) <= crawl.stored()
    assert "RFC 9309" not in crawl.output


# Machines: a full disk, SIGKILL ---------------------------------------------------------------

def test_a_full_disk_stops_the_crawl_cleanly_and_the_next_run_resumes(tmp_path):
    """A file-size limit on the crawl process (RLIMIT_FSIZE) stands for a full disk: a
    6 MB video (random bytes: gzip cannot shrink them) is the write that does not fit."""
    data_dir = tmp_path / "data"

    def small_disk():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (4 * MiB, 4 * MiB))

    with ChaosServer(chaos_site(), [FAULTS_BY_SLUG["video"]], n_good=6) as server:
        full = run_crawl(server, data_dir, *OPTIONS, preexec_fn=small_disk)
        assert full.returncode == 1, full.output
        video = server.url + fault_path("video")
        assert_said_once(full, video, "could not be written to the WARC file (File too large): the disk is full")
        assert "Traceback" not in full.output
        assert_warcs_valid(data_dir)
        in_warcs = {record[2]["WARC-Record-ID"] for record in full.records()}
        in_db = {rid for (rid,) in full.db.execute("select record_id from captures")}
        assert in_db <= in_warcs and not full.records_of(video)
        (status,) = full.db.execute("select status from crawls").fetchone()
        assert status == "failed"
        again = run_crawl(server, data_dir, *OPTIONS)
    assert again.returncode == 0, again.output
    assert good_urls(server) <= again.stored()
    assert again.records_of(video)
    assert_warcs_valid(data_dir)


def test_twenty_sigkills_in_a_row_then_one_clean_run(tmp_path):
    """Each crawl killed at a random moment of its work (from its first request on: a
    process killed while it imports Python tests nothing); then one crawl runs to its end."""
    data_dir = tmp_path / "data"
    rng = random.Random(14)
    killed_mid_write = 0
    with ChaosServer(chaos_site(), [], n_good=12) as server:
        for _ in range(20):
            asked = len(server.hits)
            # Ingest in the crawl's own process: no worker to start, so the 20 crawls
            # reach their work sooner (what a kill can tear is the same).
            process = subprocess.Popen(
                [sys.executable, "-m", "crawler.cli", "crawl", "--start-url", server.section_url,
                 "--data-dir", str(data_dir), *OPTIONS, "-s", "STEPPE_INGEST_WORKERS=0"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 60
            while len(server.hits) == asked and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(rng.uniform(0, 1.5))
            process.send_signal(signal.SIGKILL)
            process.wait()
            killed_mid_write += bool(list((data_dir / "warcs").glob(f"*{OPEN_SUFFIX}")))
        clean = run_crawl(server, data_dir, *OPTIONS)
    assert killed_mid_write >= 5  # the kills did fall in the middle of crawls
    assert clean.returncode == 0, clean.output
    assert_warcs_valid(data_dir)
    rebuilt = tmp_path / "rebuilt.db"
    result = steppe("rebuild", str(data_dir / "warcs"), "--db", str(rebuilt))
    assert result.returncode == 0, result.stdout + result.stderr
    assert stable_rows(rebuilt) == stable_rows(data_dir / "archive.db")
    assert good_urls(server) <= clean.stored()
