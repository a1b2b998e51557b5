"""What a recrawl costs, for archives of growing size: it must not grow with them.

    python bench/recrawl.py [--sizes 50 500 5000]

For each size N: a demo site of N articles is crawled once; then crawled again
unchanged; then the site moves to its next epoch (3 new articles, 1 edited with its
sitemap <lastmod> moved, 1 renamed with a 301, 1 removed) and is crawled again. The
revalidation window is 0. Requests are counted at the server, robots.txt and sitemaps
aside. Goals: <= 3 requests unchanged, <= 10 for the epoch, the same for every N.
"""

from __future__ import annotations

import argparse
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from crawler.demo_site import DemoSite, serve_site

OPTIONS = ["--no-delay", "-s", "DOWNLOAD_TIMEOUT=5", "-s", "STEPPE_REVALIDATE_DAYS=0", "-s", "STEPPE_PROGRESS_INTERVAL=0"]


def crawl(server, data_dir: Path) -> tuple[int, float]:
    """(requests besides robots.txt and sitemaps, seconds) of one `steppe crawl`."""
    server.clear_requests()
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "crawler.cli", "crawl", "--start-url", server.section_url,
                             "--data-dir", str(data_dir), *OPTIONS], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode:
        sys.exit(f"crawl failed:\n{result.stdout}\n{result.stderr}")
    pages = [e for e in server.requests if e.path != "/robots.txt" and "sitemap" not in e.path]
    return len(pages), seconds


def check_history(db: sqlite3.Connection, base: str, site: DemoSite) -> str:
    changes = site.changes
    (edited,), ((old, renamed),), (removed,) = changes.edited, changes.renamed, changes.removed
    versions = db.execute("select version_count from articles where url = ?", [base + edited.path]).fetchone()
    rows = db.execute("select count(*) from articles where url in (?, ?)", [base + old, base + renamed.path]).fetchone()
    alias = db.execute("select count(*) from aliases where url = ?", [base + old]).fetchone()
    gone = db.execute("select status from articles where url = ?", [base + removed.path]).fetchone()
    new = sum(db.execute("select count(*) from articles where url = ?", [base + a.path]).fetchone()[0]
              for a in changes.new)
    ok = versions == (2,) and rows == (1,) and alias == (1,) and gone == ("gone",) and new == 3
    return "ok" if ok else f"WRONG: versions {versions}, rows {rows}, alias {alias}, gone {gone}, new {new}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 500, 5000])
    args = parser.parse_args()
    print(f"{'N':>6} {'first crawl':>12} {'unchanged':>10} {'s':>6} {'epoch':>6} {'s':>6} {'DB MiB':>7}  history")
    for n in args.sizes:
        site = DemoSite.build(n_articles=n, seed=11)
        with tempfile.TemporaryDirectory(prefix="steppe-recrawl-") as tmp, \
                serve_site(site, hang_seconds=0.5, slow_seconds=0.5) as server:
            data_dir = Path(tmp) / "data"
            first, first_s = crawl(server, data_dir)
            unchanged, unchanged_s = crawl(server, data_dir)
            server.site = site.next_epoch(new=3, edit=1, rename=1, remove=1)
            epoch, epoch_s = crawl(server, data_dir)
            db_path = data_dir / "archive.db"
            history = check_history(sqlite3.connect(db_path), server.url, server.site)
            size = db_path.stat().st_size / 2**20
        print(f"{n:>6} {first:>5} req {first_s:>4.0f}s {unchanged:>6} req {unchanged_s:>5.1f} {epoch:>2} req"
              f" {epoch_s:>5.1f} {size:>7.1f}  {history}", flush=True)


if __name__ == "__main__":
    main()
