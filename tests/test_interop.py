"""Standard tools read our archive: a CDXJ index (cdxj-indexer), a WACZ (py-wacz), replay in pywb.

One archive of four real crawls of the demo site: a first crawl; everything
revalidated (robots.txt comes back identical: an identical-payload-digest revisit);
a next epoch (new, edited, renamed and removed articles); the same site again (the
sitemap index answers 304: a server-not-modified revisit).
"""

from __future__ import annotations

import fcntl
import gzip
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
import sqlite_utils

from archive.extract import decode_html, read_page
from archive.layouts import ZOX_NEWS
from archive.warc import RecordLocation, read_response
from crawler.demo_site import DemoSite

from conftest import steppe

# pywb pins old packages (redis, werkzeug, gevent): it gets a virtual environment of its own.
PYWB_REQUIREMENT = "pywb==2.10.0"


@dataclass
class Archive:
    data_dir: Path
    site: DemoSite

    @property
    def db(self) -> sqlite_utils.Database:
        return sqlite_utils.Database(self.data_dir / "archive.db")

    @property
    def warc_dir(self) -> Path:
        return self.data_dir / "warcs"

    def latest_capture(self, url_suffix: str) -> dict:
        return next(self.db["captures"].rows_where("url like ?", ["%" + url_suffix], order_by="fetched_at desc"))

    def capture(self, record_id: str) -> dict:
        return next(self.db["captures"].rows_where("record_id = ?", [record_id]))

    def payload(self, capture: dict) -> bytes:
        """The body a capture stands for, as a browser gets it (Content-Encoding undone)."""
        if capture["refers_to"]:
            capture = self.capture(capture["refers_to"])
        location = RecordLocation(capture["warc_filename"], capture["warc_offset"], capture["warc_length"])
        body, problem = read_response(self.warc_dir, location).content()
        assert problem is None
        return body


@pytest.fixture(scope="module")
def archive(four_crawls) -> Archive:
    return Archive(four_crawls.data_dir, four_crawls.site)


def ts14(warc_date: str) -> str:
    return re.sub(r"\D", "", warc_date)[:14]


# --- steppe index -------------------------------------------------------------------------------

def test_index_has_a_sorted_line_for_every_response_and_revisit(archive, tmp_path):
    out = tmp_path / "index.cdxj"
    result = steppe("index", str(archive.warc_dir), "-o", str(out))
    assert result.returncode == 0, result.stderr
    lines = out.read_text().splitlines()
    assert lines == sorted(lines)
    entries = [json.loads(line.split(" ", 2)[2]) for line in lines]
    indexed = {(e["filename"], int(e["offset"]), int(e["length"])) for e in entries}
    captures = {(c["warc_filename"], c["warc_offset"], c["warc_length"]) for c in archive.db["captures"].rows}
    assert indexed == captures and len(entries) == len(captures)
    revisits = [e for e in entries if e["mime"] == "warc/revisit"]
    assert len(revisits) == archive.db["captures"].count_where("refers_to != ''")
    assert {e["status"] for e in revisits} == {"200", "304"}
    assert f"{len(lines)} records indexed" in result.stderr


def test_index_of_named_files_to_standard_output_is_the_same(archive, tmp_path):
    out = tmp_path / "index.cdxj"
    assert steppe("index", str(archive.warc_dir), "-o", str(out)).returncode == 0
    files = sorted(str(p) for p in archive.warc_dir.glob("*.warc.gz"))
    result = steppe("index", *reversed(files))
    assert result.returncode == 0, result.stderr
    assert result.stdout == out.read_text()


# --- steppe export --wacz -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def wacz_file(archive, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wacz") / "archive.wacz"
    result = steppe("export", "--wacz", str(out), "--data-dir", str(archive.data_dir))
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def test_the_wacz_passes_wacz_validate(wacz_file):
    result = subprocess.run([str(Path(sys.executable).with_name("wacz")), "validate", "-f", str(wacz_file)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation succeeded" in result.stdout


def test_the_wacz_holds_every_warc_file_and_its_index(archive, wacz_file):
    with zipfile.ZipFile(wacz_file) as wacz:
        names = set(wacz.namelist())
        index = gzip.decompress(wacz.read("indexes/index.cdx.gz")).decode().splitlines()
    assert {f"archive/{p.name}" for p in archive.warc_dir.glob("*.warc.gz")} <= names
    assert len(index) == archive.db["captures"].count
    assert any('"warc/revisit"' in line for line in index)


def test_the_wacz_pages_list_every_article_with_title_date_and_text(archive, wacz_file):
    with zipfile.ZipFile(wacz_file) as wacz:
        header, *pages = [json.loads(line) for line in wacz.read("pages/pages.jsonl").splitlines()]
    assert header["format"] == "json-pages-1.0"
    articles = {row["url"]: row for row in archive.db["articles"].rows}
    assert sorted(page["url"] for page in pages) == sorted(articles)
    db = archive.db
    for page in pages:
        article = articles[page["url"]]
        assert page["title"] == article["title"] and page["text"] == article["text"]
        first = db.execute("select min(fetched_at) from captures where url = ? and status = 200",
                           [page["url"]]).fetchone()[0]
        assert ts14(page["ts"]) == ts14(first)
    changes = archive.site.changes
    ((old_path, renamed),) = changes.renamed
    urls = {page["url"] for page in pages}
    assert any(url.endswith(renamed.path) for url in urls) and not any(url.endswith(old_path) for url in urls)
    assert any(url.endswith(changes.removed[0].path) for url in urls)  # gone from the site, kept in the archive


def test_export_without_an_archive_is_a_usage_error(tmp_path):
    result = steppe("export", "--wacz", str(tmp_path / "x.wacz"), "--data-dir", str(tmp_path / "none"))
    assert result.returncode == 2 and "no archive database" in result.stderr
    assert not (tmp_path / "x.wacz").exists()


# --- replay in pywb -----------------------------------------------------------------------------

def pywb_environment() -> Path:
    """pywb in its own virtual environment, made once and kept in the user's cache."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    venv = cache / "steppe-test-pywb"
    marker = venv / "steppe-installed.txt"
    cache.mkdir(parents=True, exist_ok=True)
    # Two test sessions on one machine must not build the same environment at once.
    with open(cache / "steppe-test-pywb.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.is_file() and marker.read_text() == PYWB_REQUIREMENT:
            return venv
        shutil.rmtree(venv, ignore_errors=True)
        for command in ([sys.executable, "-m", "venv", str(venv)],
                        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", PYWB_REQUIREMENT]):
            made = subprocess.run(command, capture_output=True, text=True, timeout=900)
            if made.returncode != 0:
                pytest.skip(f"pywb cannot be installed here ({' '.join(command[-2:])}): {made.stderr[-500:]}")
        marker.write_text(PYWB_REQUIREMENT)
    return venv


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch(url: str) -> tuple[int, dict, bytes]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy
    try:
        with opener.open(url, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:  # 3xx without Location, 4xx, 5xx
        return error.code, dict(error.headers), error.read()


@pytest.fixture(scope="module")
def pywb(archive, tmp_path_factory):
    """`wb-manager init/add` on our WARC files, then `wayback` on loopback: the collection's base URL."""
    bin_dir = pywb_environment() / "bin"
    root = tmp_path_factory.mktemp("pywb")
    for args in (["init", "steppe"], ["add", "steppe", *map(str, sorted(archive.warc_dir.glob("*.warc.gz")))]):
        result = subprocess.run([str(bin_dir / "wb-manager"), *args], cwd=root, capture_output=True, text=True,
                                timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
    port = free_port()
    log = open(root / "wayback.log", "w")
    server = subprocess.Popen([str(bin_dir / "wayback"), "-p", str(port), "-b", "127.0.0.1", "-d", str(root)],
                              cwd=root, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/steppe"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, (root / "wayback.log").read_text()
            try:
                if fetch(base + "/")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "pywb did not start: " + (root / "wayback.log").read_text()
            time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def test_pywb_replays_an_article_with_its_text(archive, pywb):
    article = next(archive.db["articles"].rows_where("version_count = 2"))  # the edited one: its latest text
    capture = next(archive.db["captures"].rows_where("url = ? and status = 200 and text_hash = ?",
                                                     [article["url"], article["text_hash"]],
                                                     order_by="fetched_at desc"))
    status, headers, body = fetch(f"{pywb}/{ts14(capture['fetched_at'])}id_/{article['url']}")
    assert status == 200
    assert body == archive.payload(capture)
    html, _ = decode_html(body, headers.get("Content-Type"))
    reading = read_page(html, article["url"], ZOX_NEWS)
    assert reading.article.text_hash == article["text_hash"] and reading.article.title == article["title"]


def test_pywb_replays_an_identical_payload_revisit_with_the_original_body(archive, pywb):
    revisit = archive.latest_capture("/robots.txt")
    assert revisit["refers_to"] and revisit["status"] == 200  # robots.txt unchanged: a revisit
    status, headers, body = fetch(f"{pywb}/{ts14(revisit['fetched_at'])}id_/{revisit['url']}")
    assert status == 200
    assert body == archive.payload(revisit) and b"Sitemap:" in body
    # pywb served the revisit itself (its date), resolved to the original's payload.
    original = archive.capture(revisit["refers_to"])
    assert ts14(original["fetched_at"]) != ts14(revisit["fetched_at"])
    served = parsedate_to_datetime(headers["Memento-Datetime"]).strftime("%Y%m%d%H%M%S")
    assert served == ts14(revisit["fetched_at"])


def test_pywb_resolves_a_server_not_modified_revisit(archive, pywb):
    revisit = archive.latest_capture("/sitemap_index.xml")
    assert revisit["status"] == 304 and revisit["refers_to"]
    original = archive.capture(revisit["refers_to"])
    # pywb answers a 304 revisit with the revisit's own headers (pywb#751), so 304, not a
    # 503 "Original for revisit record could not be loaded": the original was found.
    status, headers, _ = fetch(f"{pywb}/{ts14(revisit['fetched_at'])}id_/{revisit['url']}")
    assert status == 304
    assert headers.get("X-Archive-Orig-Etag") == original["etag"]
    # The body it stands for replays at the original's date.
    status, _, body = fetch(f"{pywb}/{ts14(original['fetched_at'])}id_/{original['url']}")
    assert status == 200 and body == archive.payload(revisit) and b"<sitemapindex" in body
