"""``steppe crawl --redis``: put the sources of a crawl in Redis, start local workers if
asked, and follow the crawl to its end."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

import redis

from crawler.distributed import CrawlQueue, StateLost, lost_message
from crawler.sources import Source, check_sources


def hosts_of(sources: list[Source]) -> dict[str, list[Source]]:
    """The sources by host: a host is what one worker crawls at a time."""
    hosts: dict[str, list[Source]] = {}
    for source, profile in zip(sources, check_sources(sources)):
        hosts.setdefault(urlsplit(profile.section_url).netloc, []).append(source)
    return hosts


def worker_command(redis_url: str, data_dir: Path, namespace: str, lease_seconds: float, name: str,
                   hosts: int, ingest_workers: int | None) -> list[str]:
    return [sys.executable, "-m", "crawler.cli", "worker", "--redis", redis_url, "--data-dir", str(data_dir),
            "--namespace", namespace, "--lease-seconds", str(lease_seconds), "--worker-id", name,
            "--hosts", str(hosts), "-s", "STEPPE_PROGRESS_INTERVAL=0",  # the crawl command's line says how it goes
            *(["-s", f"STEPPE_INGEST_WORKERS={ingest_workers}"] if ingest_workers is not None else [])]


def local_ingest_workers(workers: int, settings: dict) -> int | None:
    """Extraction processes for each of ``workers`` local workers: the machine's cores
    shared out, less each worker's crawl process (a worker alone on a machine takes one
    per core but its own, the setting's default). None: the crawl's settings say."""
    if "STEPPE_INGEST_WORKERS" in settings or not workers:
        return None
    return max(1, (os.cpu_count() or 1) // workers - 1)


def crawl_distributed(redis_url: str, sources: list[Source], settings: dict, *, data_dir: Path, workers: int = 0,
                      namespace: str = "steppe", lease_seconds: float = 30.0, interval: float = 1.0,
                      out: TextIO = sys.stderr) -> dict[str, dict]:
    """Put the sources in Redis (replacing whatever crawl ``namespace`` held), start
    ``workers`` local workers on ``data_dir``, and follow the crawl until no host is
    waiting or leased; returns host → outcome. Raises ValueError on bad sources,
    ``redis.ConnectionError`` when Redis cannot be reached at first, StateLost when it
    loses the crawl, RuntimeError when every local worker has ended before the crawl."""
    hosts = hosts_of(sources)
    queue = CrawlQueue(redis_url, namespace)
    queue.submit(hosts, settings)
    # Each its share of the hosts at once: the first worker up would otherwise take them
    # all (a host is never split), and the others would wait.
    share = -(-len(hosts) // workers) if workers else 0
    ingest_workers = local_ingest_workers(workers, settings)
    procs = [subprocess.Popen(worker_command(redis_url, data_dir, namespace, lease_seconds,
                                             f"{os.uname().nodename}-{os.getpid()}-{n}", share, ingest_workers))
             for n in range(workers)]
    started, unreachable = time.monotonic(), False
    try:
        while True:
            time.sleep(interval)
            # Before the state is read: a worker that ends after the read has left it
            # consistent (its hosts released), and one that ended while Redis was out of
            # reach (it gave up waiting) ends the wait here too.
            ended = bool(procs) and all(proc.poll() is not None for proc in procs)
            try:
                run_id, pending, leased, done = queue.state()
                progress = queue.workers()
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                if ended:
                    raise RuntimeError(f"every local worker ended while Redis was out of reach ({exc})") from exc
                if not unreachable:
                    out.write(f"Redis out of reach ({exc}); waiting for it\n")
                unreachable = True
                continue
            unreachable = False
            if run_id != queue.run_id:
                raise StateLost(lost_message(redis_url))
            pages = sum(worker.get("pages", 0) for worker in progress.values())
            elapsed = time.monotonic() - started
            out.write(f"{done}/{len(hosts)} hosts done, {leased} crawling, {pending} waiting; "
                      f"{pages} pages by {len(progress)} worker(s), {elapsed:.0f}s ({pages / elapsed:.1f} pages/s)\n")
            out.flush()
            if not pending and not leased:
                queue.finish()
                outcomes = queue.outcomes()
                break
            if ended:
                raise RuntimeError(f"every local worker ended before the crawl did (exit status "
                                   f"{', '.join(str(proc.returncode) for proc in procs)})")
    finally:
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.terminate()
                proc.wait()
    failed = [proc.returncode for proc in procs if proc.returncode]
    if failed:  # the crawl is whole (other workers took its hosts on), but say so
        out.write(f"{len(failed)} local worker(s) failed (exit status {', '.join(map(str, failed))}); see above\n")
        for outcome in outcomes.values():
            outcome["workers_failed"] = len(failed)
    return outcomes
