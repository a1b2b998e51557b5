"""A crawl shared by many workers: its state in Redis.

The unit of work is a **host** with all its sources (sections), as in Heritrix and
StormCrawler: one worker at a time crawls a host, so the host's politeness (robots.txt,
delay, one request in flight) stays a local matter of that worker's crawl, exactly as
in a single-process run. What each section owes (articles, unfinished walks, validators)
is in the archive's database, which every worker reads and writes: Redis only says who
crawls which host now.

Keys, under a namespace (``steppe`` unless told otherwise):

- ``NS:run``: the id of the crawl the sources were put in with; a worker that finds it
  gone or changed knows Redis lost the crawl's state (restarted without persistence).
- ``NS:settings``: the crawl's Scrapy settings (JSON), the same for every worker.
- ``NS:sources``: host → its sources (JSON list).
- ``NS:pending``: hosts waiting for a worker (a list, taken from the left).
- ``NS:leases``: host → when its lease expires (a sorted set, milliseconds of Redis's
  own clock, so that the workers' clocks do not matter).
- ``NS:owners``: host → the worker holding its lease.
- ``NS:done``: host → how its crawls ended (JSON).
- ``NS:workers``: worker → what it has done so far (JSON), for the progress line.
- ``NS:finished``: the id of the crawl once it is over, so that a worker started (or
  restarted by its service manager) afterwards waits for the next one.

Every change of the queue is one Lua script, so atomic: a lease taken, renewed or
given back, expired leases put back in front of the queue.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict
from datetime import datetime, timezone

import redis

from crawler.sources import Source

# Leases whose time is up go back to the front of the queue; the script of every
# operation starts with this, so no expired lease outlives the next call.
_REQUEUE = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
for _, host in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ms)) do
    redis.call('ZREM', KEYS[2], host)
    redis.call('HDEL', KEYS[3], host)
    redis.call('LPUSH', KEYS[1], host)
end
"""

# KEYS: pending, leases, owners, run. ARGV: worker, lease ms, run id.
# Returns the host leased, false when none is waiting, or 'lost' when the run is not
# this worker's any more.
_LEASE = _REQUEUE + """
if redis.call('GET', KEYS[4]) ~= ARGV[3] then return 'lost' end
local host = redis.call('LPOP', KEYS[1])
if not host then return false end
redis.call('ZADD', KEYS[2], ms + tonumber(ARGV[2]), host)
redis.call('HSET', KEYS[3], host, ARGV[1])
return host
"""

# KEYS: pending, leases, owners. ARGV: worker, lease ms, hosts... Returns the hosts
# whose lease the worker has lost (expired and taken back, or the state gone).
_RENEW = _REQUEUE + """
local lost = {}
for i = 3, #ARGV do
    if redis.call('HGET', KEYS[3], ARGV[i]) == ARGV[1] then
        redis.call('ZADD', KEYS[2], ms + tonumber(ARGV[2]), ARGV[i])
    else
        table.insert(lost, ARGV[i])
    end
end
return lost
"""

# KEYS: pending, leases, owners, done. ARGV: worker, host, outcome (JSON), requeue (0/1).
# A host given back unfinished (the worker was stopped) goes to the front of the queue.
_RELEASE = _REQUEUE + """
if redis.call('HGET', KEYS[3], ARGV[2]) ~= ARGV[1] then return 0 end
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('HDEL', KEYS[3], ARGV[2])
if ARGV[4] == '1' then
    redis.call('LPUSH', KEYS[1], ARGV[2])
else
    redis.call('HSET', KEYS[4], ARGV[2], ARGV[3])
end
return 1
"""

# KEYS: pending, leases, owners, run, done. Returns {run id or false, pending, leased, done}.
_STATE = _REQUEUE + """
return {redis.call('GET', KEYS[4]), redis.call('LLEN', KEYS[1]), redis.call('ZCARD', KEYS[2]),
        redis.call('HLEN', KEYS[5])}
"""


class StateLost(RuntimeError):
    """Redis no longer holds the crawl (restarted without persistence, or flushed)."""


def lost_message(url: str) -> str:
    return (f"Redis at {url} no longer holds this crawl (restarted without persistence, or flushed). "
            "Nothing archived is lost: put the sources in again with the same `steppe crawl --redis` "
            "command and start the workers; the archive knows what was fetched, so the crawl goes on "
            "where it stopped.")


class CrawlQueue:
    """The shared state of one distributed crawl: hosts, leases, outcomes."""

    def __init__(self, url: str, namespace: str = "steppe"):
        self.url = url
        # Short timeouts: a Redis that went away is noticed within seconds, and the
        # worker's crawls (which do not need Redis) go on meanwhile.
        self.redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2,
                                          health_check_interval=10, decode_responses=True)
        keys = ("run", "settings", "sources", "pending", "leases", "owners", "done", "workers", "finished")
        self.keys = {name: f"{namespace}:{name}" for name in keys}
        self._lease = self.redis.register_script(_LEASE)
        self._renew = self.redis.register_script(_RENEW)
        self._release = self.redis.register_script(_RELEASE)
        self._state = self.redis.register_script(_STATE)
        self.run_id: str | None = None

    def _k(self, *names: str) -> list[str]:
        return [self.keys[name] for name in names]

    # The crawl command -----------------------------------------------------------------

    def submit(self, hosts: dict[str, list[Source]], settings: dict) -> str:
        """Put a crawl in, replacing whatever crawl the namespace held; returns its id."""
        run_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ-") + secrets.token_hex(3)
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(*self.keys.values())
            pipe.set(self.keys["settings"], json.dumps(settings))
            pipe.hset(self.keys["sources"], mapping={
                host: json.dumps([asdict(source) for source in sources]) for host, sources in hosts.items()})
            pipe.rpush(self.keys["pending"], *hosts)
            pipe.set(self.keys["run"], run_id)  # last: a worker sees a run only once it is whole
            pipe.execute()
        self.run_id = run_id
        return run_id

    def state(self) -> tuple[str | None, int, int, int]:
        """(run id, hosts pending, hosts leased, hosts done)."""
        run_id, pending, leased, done = self._state(keys=self._k("pending", "leases", "owners", "run", "done"))
        return run_id, pending, leased, done

    def outcomes(self) -> dict[str, dict]:
        return {host: json.loads(value) for host, value in self.redis.hgetall(self.keys["done"]).items()}

    def workers(self) -> dict[str, dict]:
        return {worker: json.loads(value) for worker, value in self.redis.hgetall(self.keys["workers"]).items()}

    # Workers ---------------------------------------------------------------------------

    def finish(self) -> None:
        """Say the crawl is over (no host waiting or leased): workers joining later wait."""
        self.redis.set(self.keys["finished"], self.run_id)

    def join(self) -> tuple[str, dict]:
        """The run to work on and its settings; raises LookupError while none is put in."""
        run_id = self.redis.get(self.keys["run"])
        if run_id is None:
            raise LookupError(f"no crawl in Redis at {self.url}")
        if self.redis.get(self.keys["finished"]) == run_id:
            raise LookupError(f"the crawl in Redis at {self.url} is over")
        self.run_id = run_id
        return run_id, json.loads(self.redis.get(self.keys["settings"]) or "{}")

    def sources(self, host: str) -> list[Source]:
        return [Source(**entry) for entry in json.loads(self.redis.hget(self.keys["sources"], host) or "[]")]

    def lease(self, worker: str, seconds: float) -> str | None:
        """A host for ``worker`` to crawl alone for ``seconds`` unless renewed; None when
        none is waiting. Raises StateLost when the run is gone."""
        host = self._lease(keys=self._k("pending", "leases", "owners", "run"),
                           args=[worker, int(seconds * 1000), self.run_id])
        if host == "lost":
            raise StateLost(lost_message(self.url))
        return host or None

    def renew(self, worker: str, hosts: list[str], seconds: float) -> list[str]:
        """Extend the worker's leases; returns the hosts it no longer holds."""
        if not hosts:
            return []
        return self._renew(keys=self._k("pending", "leases", "owners"), args=[worker, int(seconds * 1000), *hosts])

    def release(self, worker: str, host: str, outcome: dict, requeue: bool = False) -> bool:
        """Give a host back: done with ``outcome``, or (``requeue``) unfinished, to be
        crawled again first. False when the lease had already been lost."""
        return bool(self._release(keys=self._k("pending", "leases", "owners", "done"),
                                  args=[worker, host, json.dumps(outcome), "1" if requeue else "0"]))

    def report(self, worker: str, progress: dict) -> None:
        self.redis.hset(self.keys["workers"], worker, json.dumps(progress))
