"""What the crawls owe the archive, kept where the next run finds it.

A run can end before it has fetched all it found: interrupted (Ctrl-C, SIGTERM),
killed (SIGKILL, a power cut), bounded (``--max-pages``), or because the site failed
it for a while (5xx, 429, timeouts). The frontier, a table of the archive's database,
remembers two things across runs so that the next run completes the archive:

- **articles** found (on a listing page, behind "Continue Reading") and not yet
  answered. A row is written when the URL is first requested and deleted once the
  response is in WARC; a transient failure keeps it, with a backoff counted in runs
  (retried by the next run, then every 2nd, 4th, … run up to ``MAX_WAIT_RUNS``), and
  a permanent answer (404/410, robots.txt) ends it as ``given_up``, with the reason.
- **walks** of the section's listing that did not reach their end. The listing is
  read from page 1 and pagination stops at a page of articles already known; a walk
  cut short leaves its row, and the next walk stops only at articles known *before
  the unfinished walk began*, so it goes at least as deep as that walk would have.

Rows are committed as they change: a crawl killed with SIGKILL leaves a frontier
that is at most one page behind its WARC files, and a page fetched again is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from warcio.timeutils import datetime_to_iso_date

from archive.store import Store

# Longest backoff across runs: a URL that keeps failing is still tried every 32nd run.
MAX_WAIT_RUNS = 31


def now_stamp() -> str:
    """Now, in the format of WARC-Date (captures' fetched_at), so that the two compare."""
    return datetime_to_iso_date(datetime.now(timezone.utc).replace(tzinfo=None), use_micros=True)


@dataclass(frozen=True)
class Debt:
    """One row of the frontier, as ``steppe status`` shows it."""

    section: str
    url: str
    kind: str
    state: str
    discovered: str
    attempts: int
    last_error: str | None
    wait_runs: int

    def describe(self) -> str:
        if self.kind == "walk":
            return f"listing walk of {self.url} unfinished since {self.discovered}: the next crawl reads it through"
        if self.state == "given_up":
            return f"{self.url}: given up ({self.last_error}), found {self.discovered}"
        tried = f", failed in {self.attempts} run(s), last: {self.last_error}" if self.attempts else ""
        due = "next run" if not self.wait_runs else f"in {self.wait_runs + 1} runs"
        return f"{self.url}: owed since {self.discovered}{tried}; tried again {due}"


class Frontier:
    """The frontier of one section in an archive database (``store``'s connection)."""

    def __init__(self, store: Store, section: str, crawl_id: str):
        self.db = store.db
        self.section = section
        self.crawl_id = crawl_id

    def _write(self, sql: str, params: list) -> None:
        """One statement, or one per tuple of ``params``, committed at once: the crawl's
        ingest writes through another connection, which must not wait on this one."""
        with self.db.conn:
            if params and isinstance(params[0], tuple):
                self.db.conn.executemany(sql, params)
            else:
                self.db.conn.execute(sql, params)

    # Walks -----------------------------------------------------------------------

    def begin_walk(self) -> str:
        """Start a listing walk; returns the time articles must be known from for the
        walk to stop at them: this run's start, or the start of an unfinished walk."""
        self._write("insert or ignore into frontier (section, url, kind, state, discovered, crawl_id)"
                    " values (?, ?, 'walk', 'owed', ?, ?)", [self.section, self.section, now_stamp(), self.crawl_id])
        return self.db.execute("select discovered from frontier where section = ? and url = ?",
                               [self.section, self.section]).fetchone()[0]

    def end_walk(self) -> None:
        self._write("delete from frontier where section = ? and url = ? and kind = 'walk'", [self.section, self.section])

    # Articles --------------------------------------------------------------------

    def articles(self, *states: str) -> set[str]:
        """Article URLs in these states: owed (not to be requested as new: they are
        due, or waiting out their backoff), given_up, elsewhere."""
        marks = ", ".join("?" for _ in states)
        return {url for (url,) in self.db.execute(
            f"select url from frontier where section = ? and kind = 'article' and state in ({marks})",
            [self.section, *states])}

    def owed_before(self, when: str) -> set[str]:
        """Article URLs owed or given up since before ``when``: found by an earlier walk."""
        return {url for (url,) in self.db.execute(
            "select url from frontier where section = ? and kind = 'article' and discovered < ?", [self.section, when])}

    def due(self, answered: set[str]) -> list[str]:
        """The owed articles this run fetches. Call once per run: it counts the backoff
        of the others down, and drops rows whose answer an earlier run archived (a run
        killed between its WARC write and its frontier write)."""
        rows = self.db.execute("select url, wait_runs from frontier where section = ? and kind = 'article'"
                               " and state = 'owed'", [self.section]).fetchall()
        done = [url for url, _ in rows if url in answered]
        self.answered(done)
        self._write("update frontier set wait_runs = wait_runs - 1 where section = ? and kind = 'article'"
                    " and state = 'owed' and wait_runs > 0", [self.section])
        return [url for url, wait in rows if not wait and url not in answered]

    def found(self, urls: list[str]) -> None:
        if urls:
            now = now_stamp()
            self._write("insert or ignore into frontier (section, url, kind, state, discovered, crawl_id, attempts,"
                        " wait_runs) values (?, ?, 'article', 'owed', ?, ?, 0, 0)",
                        [(self.section, url, now, self.crawl_id) for url in urls])

    def answered(self, urls: list[str]) -> None:
        if urls:
            self._write("delete from frontier where section = ? and url = ? and kind = 'article'",
                        [(self.section, url) for url in urls])

    def elsewhere(self, urls: list[str]) -> None:
        """Articles the sitemaps list and the section's listing does not: other
        sections' (or not listed at all), not looked for again."""
        if urls:
            now = now_stamp()
            self._write("insert or ignore into frontier (section, url, kind, state, discovered, crawl_id, attempts,"
                        " wait_runs) values (?, ?, 'article', 'elsewhere', ?, ?, 0, 0)",
                        [(self.section, url, now, self.crawl_id) for url in urls])

    def failed(self, url: str, reason: str, transient: bool) -> None:
        """A fetch of an owed article failed: try again in a later run, or give up."""
        if transient:
            self._write(
                "update frontier set attempts = attempts + 1, last_attempt = ?, last_error = ?,"
                f" wait_runs = min((1 << attempts) - 1, {MAX_WAIT_RUNS})"
                " where section = ? and url = ? and kind = 'article'", [now_stamp(), reason, self.section, url])
        else:
            self._write("update frontier set state = 'given_up', last_attempt = ?, last_error = ?, wait_runs = 0"
                        " where section = ? and url = ? and kind = 'article'", [now_stamp(), reason, self.section, url])


def debts(store: Store) -> list[Debt]:
    """Everything the frontier holds, oldest first: for ``steppe status``."""
    if not store.db["frontier"].exists():  # a database older than the frontier, opened read-only
        return []
    rows = store.db.execute("select section, url, kind, state, discovered, attempts, last_error, wait_runs"
                            " from frontier order by state desc, kind desc, discovered, url").fetchall()
    return [Debt(*row[:5], row[5] or 0, row[6], row[7] or 0) for row in rows]
