"""Rebuild speed: `steppe rebuild` against a plain loop that reads and extracts.

    python bench/rebuild.py [--articles 5000] [--jobs N]

Writes the pages of a generated demo site of N articles (and its listing pages) to a
WARC file, then measures, in one run:
- `steppe rebuild` into a new database (worker processes, the full ingest path);
- a single process that only reads the same records and runs the extraction
  (archive.ingest.read_capture), storing nothing.
Prints records/s of both, their ratio (goal >= 1.5 on 2 cores) and peak memory.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from archive.warc import HttpExchange, WarcWriter
from crawler.demo_site import DemoSite
from crawler.demo_site.pages import page_url, render_article, render_listing

BASE = "http://127.0.0.1:8000"
BASELINE = """
import sys
from archive.ingest import read_capture
from archive.layouts import ZOX_NEWS
from archive.warc import iter_responses
count = 0
for response in iter_responses(sys.argv[1]):
    read_capture(response, ZOX_NEWS)
    count += 1
print(count)
"""


def write_site(site: DemoSite, directory: Path) -> tuple[Path, int]:
    now = site.now.timestamp()
    pages = [(BASE + page_url("/category/central-asia/", n),
              render_listing(site, BASE, now, "n", heading="Central Asia", root="/category/central-asia/", n=n,
                             pages=site.listing_pages, items=site.page(n)))
             for n in range(1, site.listing_pages + 1)]
    pages += [(BASE + a.path, render_article(site, a, BASE, now, f"n{i}")) for i, a in enumerate(site.articles)]
    with WarcWriter(directory, "bench", info={"crawl-id": "bench"}) as writer:
        for url, html in pages:
            body = html.encode("utf-8")
            writer.write_exchange(HttpExchange(
                url=url, sent_at=datetime.now(timezone.utc), method="GET", request_headers=[("User-Agent", "bench")],
                status=200, body=body, ip_address="127.0.0.1",
                response_headers=[("Content-Type", "text/html; charset=UTF-8"), ("Content-Length", str(len(body)))]))
    return writer.closed_files[0], len(pages)


def measure(args: list[str]) -> tuple[float, float, str]:
    """(seconds, peak RSS MiB of the process and its workers, stdout)."""
    started = time.perf_counter()
    child = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status):
        sys.exit(f"{args[:4]} failed:\n{output}")
    return time.perf_counter() - started, usage.ru_maxrss / 1024, output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--write", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write:
        write_site(DemoSite.build(n_articles=args.articles, seed=3), Path(args.write))
        return
    with tempfile.TemporaryDirectory(prefix="steppe-bench-") as tmp:
        # Written by a child process: this one stays small, so that the children
        # measured below do not start with its memory (ru_maxrss counts from fork).
        subprocess.run([sys.executable, __file__, "--write", str(Path(tmp) / "warcs"), "--articles",
                        str(args.articles)], check=True)
        (warc,) = (Path(tmp) / "warcs").glob("*.warc.gz")
        records = args.articles + DemoSite.build(n_articles=args.articles, seed=3).listing_pages
        size = warc.stat().st_size / 2**20
        base_s, base_mib, counted = measure([sys.executable, "-c", BASELINE, str(warc)])
        assert int(counted) == records
        rebuild_s, rebuild_mib, _ = measure([sys.executable, "-m", "crawler.cli", "rebuild", str(warc),
                                             "--db", str(Path(tmp) / "rebuilt.db"), "--jobs", str(args.jobs)])
    print(f"{records} records ({args.articles} articles), WARC {size:.0f} MiB, {os.cpu_count()} cores, "
          f"--jobs {args.jobs}")
    print(f"{'':<34}{'seconds':>9}{'records/s':>11}{'peak RSS MiB':>14}")
    print(f"{'read + extract, one process':<34}{base_s:>9.1f}{records / base_s:>11.1f}{base_mib:>14.0f}")
    print(f"{'steppe rebuild (+ SQLite)':<34}{rebuild_s:>9.1f}{records / rebuild_s:>11.1f}{rebuild_mib:>14.0f}")
    print(f"speed-up: {base_s / rebuild_s:.2f}x (goal >= 1.5x)")


if __name__ == "__main__":
    main()
