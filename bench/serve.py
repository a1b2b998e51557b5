"""Datasette speed on a large archive: every page a reader reaches from the home page.

    python bench/serve.py [--articles 100000] [--cache DIR] [--rounds 20] [--clients 8]

1. builds the archive of N demo articles once, under CACHE/N/ (the WARC file from
   `bench/rebuild.py --write`, then `steppe rebuild`), and reuses it afterwards;
2. serves it with `steppe serve` on a free loopback port;
3. fetches each page ROUNDS times in a row and prints p50/p95 (goal: p95 < 300 ms), the
   server's CPU time per fetch and the load average;
4. fetches them all again from CLIENTS threads at once and prints p50/p95, requests/s
   and errors (goal: none), with the machine's load average.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from procstat import cpu_seconds  # bench/procstat.py, beside this file
from rebuild import measure  # bench/rebuild.py, beside this file

HERE = Path(__file__).resolve().parent
DEFAULT_CACHE = Path(tempfile.gettempdir()) / "steppe-bench-serve"
SEARCH_WORD = "water"


def build(data_dir: Path, articles: int, jobs: int) -> None:
    """The archive of ``articles`` demo articles in ``data_dir``, unless built before."""
    done = data_dir / "built"
    if done.exists():
        return
    warcs = data_dir / "warcs"
    if not any(warcs.glob("*.warc.gz")):
        print(f"writing the WARC file of {articles} articles into {warcs}", flush=True)
        subprocess.run([sys.executable, str(HERE / "rebuild.py"), "--write", str(warcs), "--articles", str(articles)],
                       check=True, stdout=subprocess.DEVNULL)
    print(f"steppe rebuild into {data_dir / 'archive.db'} (--jobs {jobs})", flush=True)
    load = os.getloadavg()
    seconds, peak_mib, _ = measure([sys.executable, "-m", "crawler.cli", "rebuild", str(warcs),
                                    "--db", str(data_dir / "archive.db"), "--jobs", str(jobs)])
    records = sqlite3.connect(data_dir / "archive.db").execute("select count(*) from captures").fetchone()[0]
    print(f"rebuilt {records} records in {seconds:.0f} s: {records / seconds:.1f} records/s, peak {peak_mib:.0f} MiB"
          f" (process tree); load average before {load[0]:.2f}, after {os.getloadavg()[0]:.2f}", flush=True)
    done.touch()


def pages(db_path: Path) -> dict[str, str]:
    """Label → path of every kind of page, with values picked from the archive."""
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)

    def one(sql: str):
        return db.execute(sql).fetchone()[0]

    tag = one("select tag from article_tags group by tag order by count(*) desc limit 1")
    author = one("select author from article_authors group by author order by count(*) desc limit 1")
    section = one("select section from articles where section is not null group by section order by count(*) desc")
    month = one("select substr(published, 1, 7) from articles order by published desc limit 1"
                " offset min(5000, (select count(*) from articles) / 2)")  # a month well back, on small archives too
    article = one("select id from articles order by published desc limit 1 offset 100")
    edited = one("select coalesce((select id from articles where version_count > 1 limit 1), 1)")
    capture = one(f"select id from captures where article_id = {article} order by fetched_at desc limit 1")
    quote = urllib.parse.quote
    return {
        "home": "/",
        "database": "/archive",
        "articles (default facets)": "/archive/articles",
        "articles, next page": "NEXT",
        "articles ?section=": f"/archive/articles?section={quote(section)}",
        "articles ?authors__arraycontains=": f"/archive/articles?authors__arraycontains={quote(author)}",
        "articles ?tags__arraycontains=": f"/archive/articles?tags__arraycontains={quote(tag)}",
        "articles ?published__startswith=": f"/archive/articles?published__startswith={month}",
        "articles ?status=live": "/archive/articles?status=live",
        f"articles ?_search={SEARCH_WORD}": f"/archive/articles?_search={SEARCH_WORD}",
        "articles sorted by title": "/archive/articles?_sort=title",
        "articles.json": "/archive/articles.json",
        "articles.csv": "/archive/articles.csv",
        "captures (default facets)": "/archive/captures",
        "captures ?kind=article": "/archive/captures?kind=article",
        "captures ?status=200": "/archive/captures?status=200",
        "captures ?content_type=": "/archive/captures?content_type=text%2Fhtml",
        "captures.json": "/archive/captures.json",
        "article_versions": "/archive/article_versions",
        "crawls": "/archive/crawls",
        "article_tags": "/archive/article_tags",
        "article row page": f"/archive/articles/{article}",
        "capture row page": f"/archive/captures/{capture}",
        "query latest_articles": "/archive/latest_articles",
        "query articles_per_month": "/archive/articles_per_month",
        "query authors": "/archive/authors",
        "query edited_articles": "/archive/edited_articles",
        "query gone_articles": "/archive/gone_articles",
        "query crawl_runs": "/archive/crawl_runs",
        f"query search q={SEARCH_WORD}": f"/archive/search?q={SEARCH_WORD}",
        "archived page": f"/-/steppe/capture/{capture}",
        "archived body": f"/-/steppe/capture/{capture}/body",
        "article → latest capture": f"/-/steppe/article/{article}",
        "what changed (diff)": f"/-/steppe/article/{edited}/diff",
    }


def fetch(base: str, path: str) -> tuple[float, str | None]:
    """(seconds, error or None) of one GET, redirects followed, body read."""
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(base + path, timeout=60) as response:
            response.read()
            error = None if response.status == 200 else f"HTTP {response.status}"
    except (urllib.error.URLError, OSError) as exc:
        error = str(exc)
    return time.perf_counter() - started, error


def percentiles(times: list[float]) -> tuple[float, float]:
    """p50 and p95 in ms (nearest rank)."""
    ordered = sorted(times)
    return (statistics.median(ordered) * 1000,
            ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))] * 1000)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help=f"default: {DEFAULT_CACHE}")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="of the rebuild")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    data_dir = args.cache / str(args.articles) / "data"
    build(data_dir, args.articles, args.jobs)
    targets = pages(data_dir / "archive.db")

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "crawler.cli", "serve", "--data-dir", str(data_dir),
                               "--port", str(port)], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while fetch(base, "/-/versions.json")[1] is not None:
            if time.monotonic() > deadline or server.poll() is not None:
                sys.exit("steppe serve did not answer")
            time.sleep(0.2)
        with urllib.request.urlopen(base + "/archive/articles.json") as response:
            next_token = json.load(response)["next"]
        targets["articles, next page"] = f"/archive/articles?_next={urllib.parse.quote(next_token)}"
        for path in targets.values():  # warm: the first request pays for opening connections
            fetch(base, path)

        print(f"{args.articles} articles, {os.cpu_count()} cores, {args.rounds} fetches of each page")
        print("load average before: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
        # cpu ms: the server's CPU time per fetch; load: the machine's 1-minute load
        # average after the page's fetches (2 cores: above 2, other jobs slow every page).
        print(f"{'page':<40}{'p50 ms':>8}{'p95 ms':>8}{'errors':>8}{'cpu ms':>8}{'load':>6}")
        worst = 0.0
        for label, path in targets.items():
            cpu = cpu_seconds(server.pid)
            results = [fetch(base, path) for _ in range(args.rounds)]
            cpu = (cpu_seconds(server.pid) - cpu) / args.rounds * 1000
            p50, p95 = percentiles([t for t, _ in results])
            worst = max(worst, p95)
            print(f"{label:<40}{p50:>8.0f}{p95:>8.0f}{sum(1 for _, e in results if e):>8}{cpu:>8.0f}"
                  f"{os.getloadavg()[0]:>6.2f}", flush=True)
        print(f"slowest p95 one client at a time: {worst:.0f} ms (goal < 300 ms)")

        work: queue.Queue = queue.Queue()
        for _ in range(args.rounds):
            for label, path in targets.items():
                work.put((label, path))
        timings: dict[str, list] = {label: [] for label in targets}
        errors: list[str] = []

        def client():
            while True:
                try:
                    label, path = work.get_nowait()
                except queue.Empty:
                    return
                seconds, error = fetch(base, path)
                timings[label].append(seconds)
                if error:
                    errors.append(f"{label}: {error}")

        started = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        print(f"\n{args.clients} concurrent clients, {sum(map(len, timings.values()))} requests in {elapsed:.1f} s "
              f"({sum(map(len, timings.values())) / elapsed:.1f} requests/s), {len(errors)} errors")
        print(f"{'page':<40}{'p50 ms':>8}{'p95 ms':>8}")
        for label, times in timings.items():
            p50, p95 = percentiles(times)
            print(f"{label:<40}{p50:>8.0f}{p95:>8.0f}")
        for error in errors[:10]:
            print("error:", error)
        print("load average after: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
