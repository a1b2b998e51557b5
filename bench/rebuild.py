"""Rebuild speed: `steppe rebuild` against the loop a user would write without steppe.

    python bench/rebuild.py [--articles 5000] [--jobs N]

Writes the pages of a generated demo site of N articles (and its listing pages) to a
WARC file, streamed page by page, then measures, in one run:
- `steppe rebuild` into a new database (worker processes, the full ingest path);
- the loop a user would write without steppe: warcio's ArchiveIterator and
  trafilatura.extract on each HTML response, in one process, storing nothing.
Prints records/s of both, their ratio (goal >= 3x on 2 cores), and the peak memory of
each one's whole process tree (goal < 300 MB for the rebuild).

    python bench/rebuild.py --scale 100000 [--cache DIR]

also rebuilds the WARC of 100,000 articles (written once under DIR, bench/serve.py's
cache) and prints its records/s against those at --articles (goal: within 10%).

    python bench/rebuild.py --write DIR [--articles N]

only writes the WARC file into DIR (bench/serve.py builds its archive from it).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path

from archive.warc import HttpExchange, WarcWriter
from procstat import process_stat  # bench/procstat.py, beside this file
from crawler.demo_site import DemoSite
from crawler.demo_site.content import DemoArticle
from crawler.demo_site.pages import page_url, render_article, render_listing

BASE = "http://127.0.0.1:8000"
SEED = 3
# What one would write with warcio and trafilatura alone.
USER_LOOP = """
import sys
import trafilatura
from warcio.archiveiterator import ArchiveIterator
count = 0
with open(sys.argv[1], "rb") as stream:
    for record in ArchiveIterator(stream):
        if record.rec_type != "response":
            continue
        if "html" in (record.http_headers.get_header("Content-Type") or ""):
            trafilatura.extract(record.content_stream().read(), url=record.rec_headers.get_header("WARC-Target-URI"))
        count += 1
print(count)
"""


def _release(articles: list[DemoArticle]) -> None:
    """Back to lazy: a generated body is rebuilt on demand, so it need not stay in
    memory, nor the fragments of HTML rendered from it."""
    for article in articles:
        article.cache.clear()
        if article.recipe is not None:
            article.paragraphs = article.block_types = article.description = None


def site_pages(site: DemoSite) -> Iterator[tuple[str, str]]:
    """(URL, HTML) of the section's listing pages, then of every article, one at a time."""
    now = site.now.timestamp()
    root = "/category/central-asia/"
    for n in range(1, site.listing_pages + 1):
        items = site.page(n)
        yield BASE + page_url(root, n), render_listing(site, BASE, now, "n", heading="Central Asia", root=root,
                                                       n=n, pages=site.listing_pages, items=items)
        _release(items)
    for i, article in enumerate(site.articles):
        yield BASE + article.path, render_article(site, article, BASE, now, f"n{i}")
        _release([article])


def write_site(articles: int, directory: Path) -> tuple[Path, int]:
    """The WARC file of a demo site of ``articles`` articles, and its record count."""
    site = DemoSite.build(n_articles=articles, seed=SEED)
    count = 0
    with WarcWriter(directory, "bench", info={"crawl-id": "bench"}) as writer:
        for url, html in site_pages(site):
            body = html.encode("utf-8")
            writer.write_exchange(HttpExchange(
                url=url, sent_at=datetime.now(timezone.utc), method="GET", request_headers=[("User-Agent", "bench")],
                status=200, body=body, ip_address="127.0.0.1",
                response_headers=[("Content-Type", "text/html; charset=UTF-8"), ("Content-Length", str(len(body)))]))
            count += 1
    return writer.closed_files[0], count


def _tree_rss(root: int) -> int:
    """Resident bytes of ``root`` and all its descendants, from /proc."""
    stats = {int(entry.name): stat for entry in os.scandir("/proc")
             if entry.name.isdigit() and (stat := process_stat(int(entry.name))) is not None}
    tree, total = {root}, 0
    for pid in sorted(stats):  # a child has a higher pid than its parent, bar pid wrap-around
        if pid in tree or stats[pid].parent in tree:
            tree.add(pid)
            total += stats[pid].rss_bytes
    return total


def measure(args: list[str]) -> tuple[float, float, str]:
    """(seconds, peak MiB of the process tree summed over its processes, stdout)."""
    started = time.perf_counter()
    child = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    peak, done = 0, threading.Event()

    def sample():
        nonlocal peak
        while not done.wait(0.1):
            peak = max(peak, _tree_rss(child.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output = child.stdout.read()
    status = child.wait()
    done.set()
    sampler.join()
    if status:
        sys.exit(f"{args[:4]} failed:\n{output}")
    return time.perf_counter() - started, peak / 2**20, output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--write", metavar="DIR", help="only write the WARC file into DIR")
    parser.add_argument("--scale", type=int, metavar="N", help="also rebuild an archive of N articles")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "steppe-bench-serve",  # serve.py's
                        help="where the WARC of --scale articles is kept (default: bench/serve.py's cache)")
    args = parser.parse_args()
    if args.write:
        warc, records = write_site(args.articles, Path(args.write))
        print(warc, records)
        return
    with tempfile.TemporaryDirectory(prefix="steppe-bench-") as tmp:
        # Written by a child process, so that this one stays small.
        output = subprocess.run([sys.executable, __file__, "--write", str(Path(tmp) / "warcs"), "--articles",
                                 str(args.articles)], check=True, capture_output=True, text=True).stdout
        warc, records = Path(output.split()[0]), int(output.split()[1])
        size = warc.stat().st_size / 2**20
        load = os.getloadavg()
        base_s, base_mib, counted = measure([sys.executable, "-c", USER_LOOP, str(warc)])
        assert int(counted) == records, (counted, records)
        rebuild_s, rebuild_mib = rebuild(warc, Path(tmp) / "rebuilt.db", args.jobs)
        db_mib = (Path(tmp) / "rebuilt.db").stat().st_size / 2**20
        if args.scale:
            warcs = args.cache / str(args.scale) / "data" / "warcs"
            if not any(warcs.glob("*.warc.gz")):
                print(f"writing the WARC file of {args.scale} articles into {warcs}, once", flush=True)
                partial = warcs.with_name("warcs.partial")  # an interrupted write is not reused
                shutil.rmtree(partial, ignore_errors=True)
                subprocess.run([sys.executable, __file__, "--write", str(partial), "--articles", str(args.scale)],
                               check=True, stdout=subprocess.DEVNULL)
                partial.replace(warcs)
            scaled_db = Path(tmp) / "scaled.db"
            scaled_s, scaled_mib = rebuild(warcs, scaled_db, args.jobs)
            with closing(sqlite3.connect(scaled_db)) as db:
                scaled_records = db.execute("select count(*) from captures").fetchone()[0]
    print(f"{records} records ({args.articles} articles), WARC {size:.0f} MiB, database {db_mib:.0f} MiB, "
          f"{os.cpu_count()} cores, --jobs {args.jobs}")
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, after: "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    print(f"{'':<42}{'seconds':>9}{'records/s':>11}{'peak MiB (tree)':>17}")
    print(f"{'warcio + trafilatura.extract, one process':<42}{base_s:>9.1f}{records / base_s:>11.1f}{base_mib:>17.0f}")
    print(f"{'steppe rebuild (+ SQLite)':<42}{rebuild_s:>9.1f}{records / rebuild_s:>11.1f}{rebuild_mib:>17.0f}")
    if args.scale:
        print(f"{f'steppe rebuild, {args.scale} articles':<42}{scaled_s:>9.1f}{scaled_records / scaled_s:>11.1f}"
              f"{scaled_mib:>17.0f}")
    print(f"speed-up: {base_s / rebuild_s:.2f}x (goal >= 3x on 2 cores); rebuild peak memory goal < 300 MB")
    if args.scale:
        print(f"records/s at {args.scale} articles / at {args.articles}: "
              f"{(scaled_records / scaled_s) / (records / rebuild_s):.2f} (goal >= 0.9)")


def rebuild(warc: Path, db: Path, jobs: int) -> tuple[float, float]:
    """(seconds, peak MiB of the process tree) of ``steppe rebuild`` of ``warc`` into ``db``."""
    seconds, mib, _ = measure([sys.executable, "-m", "crawler.cli", "rebuild", str(warc), "--db", str(db),
                               "--jobs", str(jobs)])
    return seconds, mib


if __name__ == "__main__":
    main()
