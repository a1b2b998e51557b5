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

import logging
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone

from warcio.timeutils import datetime_to_iso_date

from archive.store import Store

log = logging.getLogger(__name__)

# Longest backoff across runs: a URL that keeps failing is still tried every 32nd run.
MAX_WAIT_RUNS = 31


# An article archived for good: its row, a former URL of it, or a final answer (a
# page without an article, 404/410); a redirect or a 503 is no answer yet.
_ARCHIVED = ("exists (select 1 from articles a where a.url = frontier.url)"
             " or exists (select 1 from aliases l join articles a on a.url = l.target_url where l.url = frontier.url)"
             " or exists (select 1 from captures c where c.canonical_url = frontier.url"
             " and (c.status between 200 and 299 or c.status in (404, 410)))")


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
        self.unwritable = False

    def _write(self, sql: str, params: list, many: bool = False) -> None:
        """One statement (``many``: one per tuple of ``params``), committed at once: the
        crawl's ingest writes through another connection, which must not wait on this one.

        A database that cannot be written (a full disk) is said once; the crawl's ingest
        meets it too and stops the crawl, and the walk left unfinished makes the next run
        look again for what this one could not note."""
        try:
            with self.db.atomic():
                (self.db.conn.executemany if many else self.db.conn.execute)(sql, params)
        except sqlite3.OperationalError as exc:
            if not self.unwritable:
                log.error("%s: the frontier could not be written (%s)", self.section, exc)
            self.unwritable = True

    def _urls(self, where: str, params: list) -> set[str]:
        return {url for (url,) in self.db.execute(f"select url from frontier where section = ? and {where}",
                                                   [self.section, *params])}

    # Walks -----------------------------------------------------------------------

    def begin_walk(self) -> tuple[str, set[str]]:
        """Start a listing walk. Returns the time articles must be known from for the
        walk to stop at them (this run's start, or the start of an unfinished walk),
        and the listing pages where an unfinished walk would have gone on."""
        now = now_stamp()
        self._write("insert or ignore into frontier (section, url, kind, state, discovered, crawl_id)"
                    " values (?, ?, 'walk', 'owed', ?, ?)", [self.section, self.section, now, self.crawl_id])
        began = self.db.execute("select discovered from frontier where section = ? and url = ?",
                                [self.section, self.section]).fetchone()
        return began[0] if began else now, self._urls("kind = 'resume'", [])

    def walk_goes_on(self, pages: list[str]) -> None:
        """The walk is about to read these listing pages: where a next run resumes it."""
        now = now_stamp()
        self._write("delete from frontier where section = ? and kind = 'resume'", [self.section])
        self._write("insert or ignore into frontier (section, url, kind, state, discovered, crawl_id)"
                    " values (?, ?, 'resume', 'owed', ?, ?)", [(self.section, url, now, self.crawl_id) for url in pages],
                    many=True)

    def end_walk(self) -> None:
        self._write("delete from frontier where section = ? and kind in ('walk', 'resume')", [self.section])

    # Articles --------------------------------------------------------------------

    def articles(self, *states: str) -> set[str]:
        """Article URLs in these states: owed (not to be requested as new: they are
        due, or waiting out their backoff), given_up, sought, elsewhere."""
        return self._urls(f"kind = 'article' and state in ({', '.join('?' for _ in states)})", list(states))

    def found_before(self, when: str) -> set[str]:
        """Article URLs owed or given up, found before ``when`` (by an earlier walk)."""
        return self._urls("kind = 'article' and state in ('owed', 'given_up') and discovered < ?", [when])

    def drop_archived(self) -> None:
        """Forget the articles owed or sought that the archive's database now holds. A
        row goes only then, not when its page is fetched: a record that never reaches
        the database (a failed ingest, a torn WARC file) is fetched again."""
        self._write(f"delete from frontier where section = ? and kind = 'article' and state in ('owed', 'sought')"
                    f" and ({_ARCHIVED})", [self.section])

    def due(self) -> dict[str, str | None]:
        """The owed articles this run fetches (each with the page whose read-next link
        found it, if that is how). Call once per run, at its start: it counts the
        backoff of the others down."""
        self.drop_archived()
        due = dict(self.db.execute("select url, found_via from frontier where section = ? and kind = 'article'"
                                   " and state = 'owed' and wait_runs = 0", [self.section]).fetchall())
        self._write("update frontier set wait_runs = wait_runs - 1 where section = ? and kind = 'article'"
                    " and state = 'owed' and wait_runs > 0", [self.section])
        return dict(sorted(due.items()))

    def found(self, urls: list[str], via: dict[str, str] | None = None) -> None:
        """Articles of the section's own (listed, or linked from its articles; ``via``:
        those found by a read-next link → the page it was on): owed until archived,
        whatever the sitemaps said of them."""
        self._add(urls, "owed", replaces=("sought", "elsewhere"), via=via)

    def sought(self, urls: list[str]) -> None:
        """Articles the sitemaps list and the archive lacks: to be looked for in the
        section's listing, by this run or the next ones."""
        self._add(urls, "sought", replaces=())

    def elsewhere(self, urls: list[str]) -> None:
        """Sought articles the section's listing does not hold: other sections'."""
        self._add(urls, "elsewhere", replaces=("sought",))

    def _add(self, urls: list[str], state: str, replaces: tuple[str, ...], via: dict[str, str] | None = None) -> None:
        if not urls:
            return
        now = now_stamp()
        update = (f" do update set state = excluded.state, discovered = excluded.discovered,"
                  f" crawl_id = excluded.crawl_id where frontier.state in ({', '.join(repr(s) for s in replaces)})"
                  if replaces else " do nothing")
        self._write("insert into frontier (section, url, kind, state, discovered, crawl_id, attempts, wait_runs,"
                    " found_via) values (?, ?, 'article', ?, ?, ?, 0, 0, ?) on conflict (section, url)" + update,
                    [(self.section, url, state, now, self.crawl_id, (via or {}).get(url)) for url in urls], many=True)

    def failed(self, url: str, reason: str, transient: bool) -> None:
        """A fetch of an owed article failed: try again in a later run, or give up."""
        if transient:
            self._write(
                "update frontier set attempts = attempts + 1, last_attempt = ?, last_error = ?,"
                f" wait_runs = min((1 << min(attempts, 5)) - 1, {MAX_WAIT_RUNS})"
                " where section = ? and url = ? and kind = 'article'", [now_stamp(), reason, self.section, url])
        else:
            self._write("update frontier set state = 'given_up', last_attempt = ?, last_error = ?, wait_runs = 0"
                        " where section = ? and url = ? and kind = 'article'", [now_stamp(), reason, self.section, url])


def debts(store: Store) -> tuple[list[Debt], dict[str, int]]:
    """What the frontier owes and gave up, oldest first, and how many articles it
    seeks in the listings or found elsewhere: for ``steppe status``."""
    if not store.db["frontier"].exists():  # a database older than the frontier, opened read-only
        return [], {}
    rows = store.db.execute("select section, url, kind, state, discovered, attempts, last_error, wait_runs"
                            " from frontier where kind != 'resume' and state in ('owed', 'given_up')"
                            " order by state desc, kind desc, discovered, url").fetchall()
    counts = dict(store.db.execute("select state, count(*) from frontier where state in ('sought', 'elsewhere')"
                                   " group by state").fetchall())
    return [Debt(*row[:5], row[5] or 0, row[6], row[7] or 0) for row in rows], counts
