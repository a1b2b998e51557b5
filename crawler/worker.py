"""A worker of a distributed crawl: ``steppe worker``.

It takes hosts from the crawl's queue in Redis (``crawler.distributed``), crawls each
host's sources one after another with the same spider, settings and ingest as a
single-process run, and gives the host back; several hosts at once, each leased to
this worker alone. One long-lived reactor serves host after host. The worker ends (0)
when no host is waiting and none is leased by anyone.

All workers write into one data directory: WARC files of their own (the worker's
name is in each crawl id, so in each file name), one database through the one ingest
path. Each holds the directory's lock shared, and a lock of its own under
``DIR/workers/``: a worker whose own lock is free has died, and any other worker
recovers what it left (its ``.open`` files, its runs still ``running``) before it
crawls the next host, and again before it exits.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import signal
import socket
import time
from pathlib import Path

import redis
from scrapy.utils.reactor import install_reactor

from archive.layouts import LAYOUTS
from archive.lock import ArchiveLocked, hold, release, share
from archive.recover import recover
from archive.store import Store
from crawler.distributed import CrawlQueue, StateLost, lost_message
from crawler.runner import CrawlSummary, StoppableProcess, _Run, crawl_settings
from crawler.settings import archive_paths

log = logging.getLogger(__name__)

WORKERS_DIR = "workers"
# How long Redis may stay out of reach before the worker gives up (its crawls go on
# meanwhile; its leases may expire and other workers take the hosts on).
REDIS_PATIENCE = 600.0


def default_worker_id() -> str:
    return safe_name(f"{socket.gethostname()}-{os.getpid()}")


def safe_name(name: str) -> str:
    """A worker id usable in file names."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or "worker"


def worker_of(crawl_id: str) -> str | None:
    """The worker that ran a crawl, from its id (``<crawl>@<worker>``); None: not a worker's."""
    return crawl_id.partition("@")[2] or None


def recover_dead_workers(data_dir: Path, db_path: Path, warc_dir: Path, me: str, mine_too: bool = False) -> list[str]:
    """Recover the runs of workers that died (their own lock free): close their
    ``.open`` WARC files, ingest what the database lacks, mark the runs interrupted.
    ``mine_too``: and those of an earlier worker of ``me``'s name (a process id used
    again), before ``me`` starts any. Returns the runs recovered."""
    store = Store(db_path)
    try:
        running = [crawl_id for (crawl_id,) in store.db.execute("select id from crawls where status = 'running'")]
        dead: dict[str, list[str]] = {}
        for crawl_id in running:
            worker = worker_of(crawl_id)
            if worker and (worker != me or mine_too):
                dead.setdefault(worker, []).append(crawl_id)
        recovered = []
        for worker, crawls in dead.items():
            lock_dir = data_dir / WORKERS_DIR / worker
            try:
                if worker != me:  # our own we hold already
                    hold(lock_dir)  # taken: its worker is gone, and no other worker recovers it now
            except ArchiveLocked:
                continue
            try:
                recovery = recover(warc_dir, store, LAYOUTS["auto"], crawls)
                log.warning("recovered runs %s of worker %s, which died: %d WARC file(s) closed, %d record(s) ingested",
                            ", ".join(crawls), worker, len(recovery.files_closed), recovery.records_ingested)
                recovered += crawls
            finally:
                if worker != me:
                    release(lock_dir)
        return recovered
    finally:
        store.close()


class Worker:
    def __init__(self, queue: CrawlQueue, data_dir: Path, worker_id: str, settings: dict,
                 hosts: int = 8, lease_seconds: float = 30.0, poll: float = 0.5):
        self.queue = queue
        self.data_dir = Path(data_dir)
        self.id = worker_id
        self.overrides = settings  # the command line's, over the crawl's own
        self.slots = hosts
        self.lease_seconds = lease_seconds
        self.poll = poll
        self.active: dict[str, list[_Run]] = {}  # host → its crawls
        self.lost: set[str] = set()  # hosts whose lease ran out under us: their crawls are stopped
        self.summaries: list[CrawlSummary] = []
        self.hosts_done = 0
        self.reported: dict | None = None  # the progress last written to Redis
        self.stopping = False
        self.error: str | None = None
        self.renewed = 0.0
        self.unreachable_since: float | None = None
        self.process: StoppableProcess | None = None
        self.settings = None
        self.warc_dir = self.db_path = None

    def run(self) -> int:
        """Work until the crawl is over; returns the exit status (0, or 1 with ``error`` set)."""
        _, crawl_overrides = self.queue.join()
        share(self.data_dir)
        hold(self.data_dir / WORKERS_DIR / self.id)
        self.settings = {**crawl_overrides, **self.overrides, "STEPPE_SHARED_DATA_DIR": True}
        scrapy_settings = crawl_settings(self.data_dir, self.settings)
        self.warc_dir, self.db_path = archive_paths(scrapy_settings)
        self._open_store()
        recover_dead_workers(self.data_dir, self.db_path, self.warc_dir, self.id, mine_too=True)
        install_reactor(scrapy_settings["TWISTED_REACTOR"])
        from twisted.internet import reactor
        from twisted.internet.task import LoopingCall

        self.process = StoppableProcess(scrapy_settings)
        loop = LoopingCall(self.tick)
        reactor.callWhenRunning(self._hook_signals)
        reactor.callWhenRunning(lambda: loop.start(self.poll).addErrback(self._crashed))
        self.process.start(stop_after_crawl=False)
        self._recover()
        return 1 if self.error else 0

    def _open_store(self):
        """Make (or migrate) the database before any crawl opens it, one worker at a time:
        SQLite refuses, rather than waits for, two schema changes racing on a new file."""
        lock = self.data_dir / WORKERS_DIR / ".store.lock"
        with open(lock, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            Store(self.db_path).close()

    def _hook_signals(self):
        """Ctrl-C or SIGTERM: Scrapy stops the crawls under way; the worker then gives
        their hosts back and takes no more."""
        for signum in (signal.SIGINT, signal.SIGTERM):
            scrapys = signal.getsignal(signum)

            def stop(number, frame, scrapys=scrapys):
                self.stopping = True
                if callable(scrapys):
                    scrapys(number, frame)
            signal.signal(signum, stop)

    def _crashed(self, failure):
        self.error = f"worker failed: {failure.getErrorMessage()}"
        log.error("%s", failure.getTraceback())
        self._stop_reactor()

    def tick(self):
        try:
            self._tick()
            self.unreachable_since = None
        except StateLost as exc:
            self._give_up(str(exc))
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            now = time.monotonic()
            if self.unreachable_since is None:
                self.unreachable_since = now
                log.warning("Redis at %s is out of reach (%s); crawls under way go on, waiting for it",
                            self.queue.url, exc)
            if self.active and now - self.renewed > 0.9 * self.lease_seconds:
                # Our leases may have run out: another worker could take the hosts as soon
                # as Redis is back. Politeness first: stop, and let the queue decide.
                for host in list(self.active):
                    self._lease_lost(host)
            if now - self.unreachable_since > REDIS_PATIENCE:
                self._give_up(f"Redis at {self.queue.url} out of reach for {REDIS_PATIENCE:.0f}s ({exc})")

    def _tick(self):
        now = time.monotonic()
        if self.active and now - self.renewed >= self.lease_seconds / 3:
            for host in self.queue.renew(self.id, list(self.active), self.lease_seconds):
                self._lease_lost(host)
            self.renewed = now
        progress = self._progress()
        if progress != self.reported:  # a write (an fsync, with appendfsync always) only when it says something new
            self.queue.report(self.id, progress)
            self.reported = progress
        while not self.stopping and len(self.active) < self.slots:
            if not self.active:
                self.renewed = now
            host = self.queue.lease(self.id, self.lease_seconds)
            if host is None:
                break
            self._crawl_host(host)
        if not self.active:
            if self.stopping:
                self._stop_reactor()
                return
            run_id, pending, leased, _ = self.queue.state()
            if run_id != self.queue.run_id:
                raise StateLost(lost_message(self.queue.url))
            if not pending and not leased:
                self.queue.finish()
                self._stop_reactor()

    def _crawl_host(self, host: str):
        """Crawl the host's sources one after another; give the host back at the end."""
        recover_dead_workers(self.data_dir, self.db_path, self.warc_dir, self.id)
        runs = [_Run.of(source, source.profile(), self.data_dir, self.settings, labelled=True, init_reactor=False)
                for source in self.queue.sources(host)]
        self.active[host] = runs
        log.info("worker %s crawls %s (%d source(s))", self.id, host, len(runs))
        self._next(host, runs, 0)

    def _next(self, host: str, runs: list[_Run], index: int):
        if index < len(runs) and not self.stopping and host not in self.lost:
            runs[index].start(self.process, self.id).addBoth(lambda _: self._next(host, runs, index + 1))
            return
        del self.active[host]
        summaries = [run.summary(self.data_dir) for run in runs]
        self.summaries += [summary for summary in summaries if summary.crawl_id != "-"]
        if host in self.lost:
            self.lost.discard(host)
            return
        self.hosts_done += 1
        outcome = {"worker": self.id, "crawls": [
            {"source": s.source, "crawl_id": s.crawl_id, "status": s.status, "pages": s.pages,
             "articles_new": s.articles_new, "errors": len(s.failures)} for s in summaries]}
        unfinished = self.stopping and any(s.status in ("interrupted",) for s in summaries)
        try:
            self.queue.release(self.id, host, outcome, requeue=unfinished)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            # The lease expires and the host is crawled again: an incremental crawl, cheap.
            log.warning("could not give %s back to Redis (%s); its lease will expire", host, exc)
        # The next host now, or the end: not a poll interval later, idle meanwhile. Off
        # this callback chain, which is the finished crawl's.
        from twisted.internet import reactor

        reactor.callLater(0, self.tick)

    def _lease_lost(self, host: str):
        """Another worker may crawl the host now: stop ours at once, politeness first."""
        if host in self.active and host not in self.lost:
            log.warning("worker %s lost its lease on %s (or cannot renew it); stopping its crawl", self.id, host)
            self.lost.add(host)
            for run in self.active[host]:
                if run.crawl_id and run.crawler.crawling:
                    run.crawler.stop()

    def _give_up(self, message: str):
        if self.error is None:
            self.error = message
            log.error("%s", message)
        self.stopping = True
        for host in list(self.active):
            self._lease_lost(host)
        if not self.active:
            self._stop_reactor()

    def _progress(self) -> dict:
        live = [run for runs in self.active.values() for run in runs if run.crawl_id]
        pages = sum(s.pages for s in self.summaries) + sum(
            run.crawler.stats.get_value("steppe/archived", 0) for run in live if run.crawler.stats)
        return {"pages": pages, "hosts_done": self.hosts_done, "hosts": sorted(self.active), "pid": os.getpid()}

    def _stop_reactor(self):
        from twisted.internet import reactor

        if reactor.running:
            reactor.stop()

    def _recover(self):
        """Before leaving: what a dead worker left is recovered by whoever ends last."""
        try:
            recover_dead_workers(self.data_dir, self.db_path, self.warc_dir, self.id)
        except Exception as exc:  # the next worker or crawl on this data directory does it then
            log.error("could not recover dead workers' runs: %r", exc)


def run_worker(redis_url: str, data_dir: Path, settings: dict | None = None, *, worker_id: str | None = None,
               namespace: str = "steppe", hosts: int = 8, lease_seconds: float = 30.0,
               wait: float = 60.0, poll: float = 0.5) -> Worker:
    """Work on the crawl in Redis until it is over. Waits up to ``wait`` seconds for a
    crawl to be put in (LookupError after that). ``poll``: how often it looks for hosts
    while it has a free slot (a host of its own done, it looks at once). Returns the
    worker; ``worker.error`` says why it stopped early."""
    queue = CrawlQueue(redis_url, namespace)
    deadline = time.monotonic() + wait
    while True:
        try:
            queue.join()
            break
        except (LookupError, redis.ConnectionError) as exc:
            if time.monotonic() > deadline:
                raise LookupError(str(exc)) from None
            time.sleep(1)
    worker = Worker(queue, Path(data_dir), safe_name(worker_id or default_worker_id()), settings or {},
                    hosts=hosts, lease_seconds=lease_seconds, poll=poll)
    worker.run()
    return worker
