"""The distributed crawl on this machine, in one run:

    python bench/distributed.py [--hosts 4] [--articles 300] [--polite-hosts 6] [--delay 0.5]

1. CPU-bound: HOSTS demo sites of ARTICLES articles each (each its own server process
   on 127.0.0.1), crawled without delays by 1, then 2 workers (`steppe crawl --redis
   --workers N`), each into a fresh data directory: pages/s of each, and their ratio
   (goal: 2 workers >= 1.6 x one). One worker already keeps both cores of a 2-core
   machine busy (Scrapy, and an extraction process), so the same again with each
   worker held to one core of its own (taskset), as a worker per one-core machine;
2. politeness-bound: POLITE_HOSTS small demo sites, each with DELAY seconds between
   requests, crawled by 2 workers: the crawl's wall time against the slowest host's
   own time, crawled alone by one process (goal: <= 1.2 x).

Times are those of the archive itself (the captures' fetch times), from the first
request to the last: the workers' start-up (importing Scrapy) is left out, and said.
A redis-server of its own runs on a free loopback port, without persistence.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def redis_server(directory: Path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory),
                             "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
    time.sleep(0.5)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait()


@contextmanager
def demo_sites(count: int, articles: int):
    """Section URLs of ``count`` demo sites, each served by a process of its own."""
    procs, urls = [], []
    try:
        for seed in range(count):
            proc = subprocess.Popen([sys.executable, "-m", "crawler.demo_site", "--port", "0", "--articles",
                                     str(articles), "--seed", str(100 + seed), "--hang-seconds", "0.3"],
                                    stdout=subprocess.PIPE, text=True, cwd=ROOT)
            procs.append(proc)
            urls.append(proc.stdout.readline().split("section: ")[1].split(",")[0])
        yield urls, procs
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait()


def crawl(args: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the crawl command and its workers)."""
    started, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run([sys.executable, "-m", "crawler.cli", "crawl", *args, "-s", "DOWNLOAD_TIMEOUT=5"],
                            cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"crawl {' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.perf_counter() - started, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def crawl_pinned(redis_url: str, namespace: str, workers: int, data_dir: Path, urls: list[str]) -> float:
    """The crawl command with ``workers`` workers of its own, each held to one core of its
    own (taskset): a worker per one-core machine. Returns the wall seconds."""
    started = time.perf_counter()
    follow = subprocess.Popen([sys.executable, "-m", "crawler.cli", "crawl", "--redis", redis_url, "--namespace",
                               namespace, "--no-delay", "--data-dir", str(data_dir), *sources_args(urls)],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)  # the crawl is put in before the workers look for it
    procs = [subprocess.Popen(["taskset", "-c", str(core), sys.executable, "-m", "crawler.cli", "worker", "--redis",
                               redis_url, "--namespace", namespace, "--data-dir", str(data_dir), "--hosts",
                               str(-(-len(urls) // workers)), "-s", "STEPPE_PROGRESS_INTERVAL=0",
                               "-s", "STEPPE_INGEST_WORKERS=1"],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for core in range(workers)]
    if any(proc.wait() for proc in procs) or follow.wait():
        sys.exit(f"pinned crawl with {workers} worker(s) failed")
    return time.perf_counter() - started


def cpu_seconds(pid: int) -> float:
    """user + system CPU time of a running process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def spans(db_path: Path) -> tuple[int, float, dict[str, float]]:
    """(pages, seconds from the first fetch to the last, host → its own such seconds)."""
    db = sqlite3.connect(db_path)
    times: dict[str, list[float]] = {}
    for url, fetched in db.execute("select url, fetched_at from captures"):
        times.setdefault(urlsplit(url).netloc, []).append(datetime.fromisoformat(fetched.replace("Z", "+00:00")).timestamp())
    every = [t for host in times.values() for t in host]
    return len(every), max(every) - min(every), {host: max(t) - min(t) for host, t in times.items()}


def sources_args(urls: list[str]) -> list[str]:
    return [arg for url in urls for arg in ("--start-url", url)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=4)
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--polite-hosts", type=int, default=6)
    parser.add_argument("--delay", type=float, default=0.5)
    args = parser.parse_args()
    if shutil.which("redis-server") is None:
        sys.exit("redis-server is not installed (apt-get install redis-server)")
    with tempfile.TemporaryDirectory(prefix="steppe-bench-") as tmp, redis_server(Path(tmp)) as redis_url:
        tmp = Path(tmp)
        rates = {}
        with demo_sites(args.hosts, args.articles) as (urls, servers):
            for workers in (1, 2):
                data_dir = tmp / f"cpu-{workers}"
                served = sum(cpu_seconds(proc.pid) for proc in servers)
                wall, cpu = crawl(["--redis", redis_url, "--namespace", f"cpu{workers}", "--workers", str(workers),
                              "--no-delay", "--data-dir", str(data_dir), *sources_args(urls)])
                pages, seconds, _ = spans(data_dir / "archive.db")
                rates[workers] = pages / seconds
                served = sum(cpu_seconds(proc.pid) for proc in servers) - served
                print(f"CPU-bound, {args.hosts} hosts x {args.articles} articles, {workers} worker(s): "
                      f"{pages} pages in {seconds:.1f}s = {rates[workers]:.1f} pages/s "
                      f"(command's wall time {wall:.1f}s, start-up included; CPU: crawl {cpu:.1f}s, "
                      f"servers {served:.1f}s, of {os.cpu_count()} cores x {wall:.1f}s = {os.cpu_count() * wall:.1f}s)")
            print(f"2 workers / 1 worker: {rates[2] / rates[1]:.2f} x (goal >= 1.6)")
            if shutil.which("taskset") and (os.cpu_count() or 1) >= 2:
                for workers in (1, 2):
                    data_dir = tmp / f"pinned-{workers}"
                    crawl_pinned(redis_url, f"pinned{workers}", workers, data_dir, urls)
                    pages, seconds, _ = spans(data_dir / "archive.db")
                    rates[workers] = pages / seconds
                    print(f"CPU-bound, each worker held to a core of its own, {workers} worker(s): "
                          f"{pages} pages in {seconds:.1f}s = {rates[workers]:.1f} pages/s")
                print(f"2 workers / 1 worker, a core each: {rates[2] / rates[1]:.2f} x (goal >= 1.6)")

        with demo_sites(args.polite_hosts, 22) as (urls, _):
            data_dir = tmp / "polite"
            sources = tmp / "polite.toml"
            sources.write_text("".join(f'[[source]]\nurl = "{url}"\ndelay = {args.delay}\n\n' for url in urls))
            crawl(["--redis", redis_url, "--namespace", "polite", "--workers", "2", "--sources", str(sources),
                   "--data-dir", str(data_dir)])
            pages, seconds, hosts = spans(data_dir / "archive.db")
            slowest = max(hosts, key=hosts.get)
            alone_dir = tmp / "alone"
            (tmp / "alone.toml").write_text(f'[[source]]\nurl = "http://{slowest}{urlsplit(urls[0]).path}"\n'
                                            f"delay = {args.delay}\n")
            crawl(["--sources", str(tmp / "alone.toml"), "--data-dir", str(alone_dir)])
            _, alone, _ = spans(alone_dir / "archive.db")
            print(f"politeness-bound, {args.polite_hosts} hosts, delay {args.delay}s, 2 workers: {pages} pages in "
                  f"{seconds:.1f}s; slowest host {slowest} in this crawl {hosts[slowest]:.1f}s, alone {alone:.1f}s")
            print(f"wall time / slowest host alone: {seconds / alone:.2f} x (goal <= 1.2)")


if __name__ == "__main__":
    main()
