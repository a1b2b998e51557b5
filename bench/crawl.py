"""Crawl throughput of steppe against bare Scrapy, on one demo site, in one run.

    python bench/crawl.py [--articles 2000]

1. serves a demo site of N articles on 127.0.0.1, in its own process;
2. `steppe crawl --no-delay` archives it (WARC + extraction + SQLite);
3. a bare Scrapy spider (bench/bare_spider.py) fetches the very URLs steppe
   fetched (read back from the captures table) with the same concurrency and
   stores nothing;
4. prints pages/s of both, their ratio, each one's peak memory, and the CPU time each
   spent a page (its worker processes included), with their ratio (goal: <= 2).

Both crawls run as child processes, one after the other, against the same server.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from procstat import cpu_seconds  # bench/procstat.py, beside this file

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16, help="CONCURRENT_REQUESTS of both crawls")
    args = parser.parse_args()

    load = os.getloadavg()
    server = subprocess.Popen(
        [sys.executable, "-m", "crawler.demo_site", "--port", "0", "--articles", str(args.articles),
         "--hang-seconds", "0.5"], stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        section_url = line.split("section: ")[1].split(",")[0]
        with tempfile.TemporaryDirectory(prefix="steppe-bench-") as tmp:
            data_dir = Path(tmp) / "data"
            concurrency = f"CONCURRENT_REQUESTS={args.concurrency}"
            server_cpu = cpu_seconds(server.pid)
            steppe = measure([sys.executable, "-m", "crawler.cli", "crawl", "--no-delay", "--start-url", section_url,
                              "--data-dir", str(data_dir), "-s", concurrency, "-s", "DOWNLOAD_TIMEOUT=5"])
            steppe["server_cpu"] = cpu_seconds(server.pid) - server_cpu
            db = sqlite3.connect(data_dir / "archive.db")
            urls = [url for (url,) in db.execute("select url from captures order by id")]
            articles = db.execute("select count(*) from articles").fetchone()[0]
            warc_bytes = sum(p.stat().st_size for p in (data_dir / "warcs").iterdir())
            db_bytes = (data_dir / "archive.db").stat().st_size
            url_file = Path(tmp) / "urls.txt"
            url_file.write_text("\n".join(urls) + "\n", encoding="utf-8")
            server_cpu = cpu_seconds(server.pid)
            bare = measure([sys.executable, "-m", "scrapy", "runspider", str(HERE / "bare_spider.py"),
                            "-a", f"urls={url_file}", "-s", concurrency, "-s", f"CONCURRENT_REQUESTS_PER_DOMAIN={args.concurrency}",
                            "-s", "DOWNLOAD_TIMEOUT=5"], cwd=tmp)  # away from scrapy.cfg: no steppe settings
            bare["server_cpu"] = cpu_seconds(server.pid) - server_cpu
    finally:
        server.terminate()
        server.wait()

    pages = len(urls)
    steppe_rate, bare_rate = pages / steppe["seconds"], pages / bare["seconds"]
    print(f"demo site: {args.articles} articles; {pages} pages fetched, {articles} articles stored, "
          f"WARC {warc_bytes / 2**20:.1f} MiB, database {db_bytes / 2**20:.1f} MiB")
    print(f"{os.cpu_count()} cores; load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, after: "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    print(f"{'crawler':<14}{'seconds':>9}{'pages/s':>10}{'peak RSS MiB':>14}{'CPU s':>8}{'CPU ms/page':>13}"
          f"{'server CPU s':>14}")
    for name, m, rate in (("steppe crawl", steppe, steppe_rate), ("bare Scrapy", bare, bare_rate)):
        print(f"{name:<14}{m['seconds']:>9.1f}{rate:>10.1f}{m['peak_mib']:>14.0f}{m['cpu']:>8.1f}"
              f"{1000 * m['cpu'] / pages:>13.1f}{m['server_cpu']:>14.1f}")
    print(f"pages/s steppe/bare: {steppe_rate / bare_rate:.2f}; "
          f"CPU a page steppe/bare: {steppe['cpu'] / bare['cpu']:.2f} (goal <= 2)")


def measure(args: list[str], cwd: Path | str = HERE.parent) -> dict:
    started = time.perf_counter()
    child = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=cwd)
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode not in (0,):
        sys.exit(f"{' '.join(args[2:5])} failed with status {child.returncode}:\n{output.decode(errors='replace')}")
    return {"seconds": seconds, "peak_mib": usage.ru_maxrss / 1024, "cpu": usage.ru_utime + usage.ru_stime}


if __name__ == "__main__":
    main()
