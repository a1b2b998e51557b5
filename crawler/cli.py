"""The ``steppe`` command: a thin shell over crawler.runner and archive.

This is the only module that may import both sides. What a user gets wrong, or a
machine refuses, ends in one line on standard error (what, where, what to do) and a
documented exit status, never a Python traceback. Heavy modules (Scrapy, Datasette)
are imported by the commands that need them: `steppe --help` answers at once, and a
Ctrl-C in the first second finds little under way.
"""

from __future__ import annotations

import signal
import sys

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LOCKED = 0, 1, 2, 3
GIVEN_UP_SHOWN = 10  # `steppe status` lists the latest fetches given up, not years of them


def _interrupted_while_starting(signum, frame):
    # Until a command runs nothing has been made: end without the traceback of
    # whatever import Ctrl-C fell into. ``main`` puts Python's own handler back.
    sys.stderr.write("steppe: interrupted (Ctrl-C) before starting; nothing was done\n")
    sys.exit(EXIT_FAILED)


# Run as the program (`python -m crawler.cli`, or the `steppe` script, which imports
# this module first), not imported by other code, whose Ctrl-C is its own.
if __name__ == "__main__" or sys.argv[0].endswith("/steppe"):
    signal.signal(signal.SIGINT, _interrupted_while_starting)

import errno  # noqa: E402  (after the handler: a Ctrl-C during these imports is quiet)
import logging  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import sqlite3  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import click  # noqa: E402

from archive import __version__  # noqa: E402
from archive.layouts import LAYOUTS  # noqa: E402
from archive.lock import ArchiveLocked, ArchiveNotWritable, hold, is_held  # noqa: E402


def _setting_pairs(values: tuple[str, ...]) -> dict[str, str]:
    pairs = {}
    for value in values:
        name, sep, setting = value.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{value!r} is not NAME=VALUE", param_hint="--set")
        pairs[name.strip()] = setting
    return pairs


def _crawl_options(command):
    options = [
        click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("data"),
                     show_default=True, help="Where the archive lives: DIR/warcs/*.warc.gz and DIR/archive.db."),
        click.option("--set", "-s", "overrides", multiple=True, metavar="NAME=VALUE",
                     help="Any Scrapy or STEPPE_* setting (see crawler/settings.py); repeatable."),
        click.option("--verbose", "-v", is_flag=True, help="Show Scrapy's log (INFO) instead of warnings only."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


class _WithoutTraceback(logging.Filter):
    """Scrapy's robots.txt middleware logs a robots.txt it could not fetch (a refused
    connection, a timeout) with the whole traceback, some 60 lines: keep its one line.
    The page that could not be fetched is listed in the crawl's summary anyway."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info, record.exc_text = None, None
        return True


_ROBOTS_LOGGER = "scrapy.downloadermiddlewares.robotstxt"


def _redis_options(command):
    options = [
        click.option("--namespace", default="steppe", show_default=True, metavar="NAME",
                     help="Prefix of the crawl's Redis keys: several crawls can share one Redis."),
        click.option("--lease-seconds", type=click.FloatRange(min=1), default=30.0, show_default=True,
                     metavar="SECONDS", help="How long a host stays leased to a worker that stopped answering "
                     "(killed, cut off) before another takes it."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _run_and_report(data_dir: Path, settings: dict, sources: list) -> None:
    logging.getLogger(_ROBOTS_LOGGER).addFilter(_WithoutTraceback())
    try:
        from crawler.runner import run_crawls

        summaries = run_crawls(data_dir, sources, settings)
    except ArchiveLocked as exc:
        click.echo(f"steppe: {exc}; not crawling", err=True)
        sys.exit(EXIT_LOCKED)
    except ArchiveNotWritable as exc:
        click.echo(f"steppe: {exc}; not crawling: choose another --data-dir, or make it writable", err=True)
        sys.exit(EXIT_FAILED)
    except sqlite3.DatabaseError as exc:
        db_path = data_dir / "archive.db"
        _fail(f"{db_path} is damaged ({exc}); not crawling: the WARC files are the archive, and"
              f" `steppe rebuild {data_dir / 'warcs'} --db {db_path}` makes it again (it sets the damaged file aside)")
    except KeyboardInterrupt:  # before the crawl began: from then on Scrapy stops it cleanly
        click.echo("steppe: interrupted (Ctrl-C) before the crawl began; nothing was archived", err=True)
        sys.exit(EXIT_FAILED)
    for summary in summaries:
        for line in summary.lines():
            click.echo(line)
    sys.exit(EXIT_OK if all(summary.ok for summary in summaries) else EXIT_FAILED)


def _base_settings(overrides: tuple[str, ...], verbose: bool) -> dict:
    return {"LOG_LEVEL": "INFO" if verbose else "WARNING", "STEPPE_PROGRESS_INTERVAL": 2.0,
            **_setting_pairs(overrides)}


def _output_file(ctx, param, path: Path | None) -> Path | None:
    """An output file must go into a folder that exists: made half-way, a package or
    an index would fail at its end with a traceback."""
    if path is not None and not path.resolve().parent.is_dir():
        raise click.BadParameter(f"no folder {path.parent}: create it first (mkdir -p {path.parent})")
    return path


def _fail(message: str, status: int = EXIT_FAILED):
    click.echo(f"steppe: {message}", err=True)
    sys.exit(status)


def _no_archive(data_dir: Path) -> click.BadParameter:
    return click.BadParameter(f"no archive database in {data_dir}: run steppe crawl or steppe demo first",
                              param_hint="--data-dir")


class _Steppe(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:  # rather than click's bare "Aborted!"
            click.echo("steppe: interrupted (Ctrl-C)", err=True)
            ctx.exit(EXIT_FAILED)


@click.group(cls=_Steppe, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="steppe")
def main():
    """steppe: archive one section of a news site as WARC files and an SQLite database.

    By default the Central Asia section of Modern Diplomacy
    (https://moderndiplomacy.eu/category/central-asia/).
    """
    # From here a Ctrl-C is Python's KeyboardInterrupt again, which the commands (and
    # Scrapy, which installs its own handler only over Python's) deal with.
    signal.signal(signal.SIGINT, signal.default_int_handler)


@main.command(short_help="Crawl sections into WARC files and the database.")
@click.option("--start-url", "start_urls", metavar="URL", multiple=True,
              help="Listing page of a section, category, tag or topic of any news site (repeatable), "
                   "e.g. a local copy: http://127.0.0.1:8000/category/central-asia/")
@click.option("--sources", "sources_file", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="A TOML file of sources: [[source]] tables with url, and optional name, contact, delay "
                   "(seconds) and layout.")
@click.option("--section", metavar="SLUG", help="Another section of Modern Diplomacy, e.g. southeast-asia.")
@click.option("--contact", metavar="URL|EMAIL",
              help="How site operators can reach you; goes into the User-Agent. Set it for real sites.")
@click.option("--no-delay", is_flag=True,
              help="No politeness delays and full concurrency: refused unless the target is on 127.0.0.0/8.")
@click.option("--full", is_flag=True,
              help="Fetch every listing page and article again, as on a first crawl.")
@click.option("--max-pages", type=click.IntRange(min=1), metavar="N", help="Stop after N responses (per source).")
@click.option("--redis", "redis_url", metavar="URL",
              help="Crawl with `steppe worker`s: put the sources in this Redis (redis://host:6379/0) and "
                   "follow the crawl to its end.")
@click.option("--workers", type=click.IntRange(min=0), default=0, metavar="N",
              help="With --redis: start N local workers on --data-dir too, each with its share of the hosts.")
@_redis_options
@_crawl_options
def crawl(start_urls, sources_file, section, contact, no_delay, full, max_pages, redis_url, workers, namespace,
          lease_seconds, data_dir, overrides, verbose):
    """Crawl sections: listing pages, their pagination, and articles ("Continue
    Reading" links too, where the site's theme keeps them in the section).

    By default the Central Asia section of Modern Diplomacy. Any other section is
    read from its pages alone: the listing's own teasers and its next pages, each
    article's text and metadata. Several sections (--start-url repeated, or
    --sources) are crawled in one run: hosts at the same time, each politely (its
    robots.txt, its delay, one request at a time).

    Every response goes to a WARC file first, then into the database. On a data
    directory that already holds articles the crawl is incremental: it fetches new
    articles, and known ones only where they may have changed (young ones, and those
    the site's sitemaps show as modified or no longer list).

    With --redis the crawl is shared by `steppe worker` processes on any machines
    (see `steppe worker --help`), a host to one worker at a time.

    Exit status: 0 every crawl finished (pages that failed are listed); 1 a crawl
    failed (its start page could not be read, or it was interrupted); 2 bad usage;
    3 another crawl is using the data directory. A data directory that cannot be
    written to, or Ctrl-C before the crawl began: 1, and nothing is left behind.
    """
    from crawler.settings import user_agent
    from crawler.sources import Source, check_sources, read_sources

    if section and (len(start_urls) > 1 or sources_file):
        raise click.BadParameter("goes with one source only", param_hint="--section")
    try:
        sources = read_sources(sources_file) if sources_file else []
        sources += [Source(url, section=section) for url in start_urls]
        sources = sources or [Source(section=section)]  # none given: Modern Diplomacy
        profiles = check_sources(sources)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--sources" if sources_file else "--start-url") from None
    remote = [profile.host for profile in profiles if not profile.is_loopback]
    if no_delay and remote:
        raise click.BadParameter(f"{remote[0]} is not a loopback address", param_hint="--no-delay")
    settings = _base_settings(overrides, verbose)
    if contact:
        settings.setdefault("USER_AGENT", user_agent(contact))
    elif remote and "USER_AGENT" not in settings and not all(source.contact for source in sources):
        click.echo("note: no --contact given; site operators cannot reach you from the User-Agent", err=True)
    if no_delay:
        settings["STEPPE_NO_DELAY"] = True
    if full:
        settings["STEPPE_FULL"] = True
    if max_pages:
        settings["STEPPE_MAX_PAGES"] = max_pages
    if redis_url:
        _crawl_distributed(redis_url, sources, settings, data_dir, workers, namespace, lease_seconds)
    elif workers:
        raise click.BadParameter("goes with --redis", param_hint="--workers")
    _run_and_report(data_dir, settings, sources)


def _crawl_distributed(redis_url, sources, settings, data_dir, workers, namespace, lease_seconds) -> None:
    import redis

    from crawler.coordinator import crawl_distributed
    from crawler.distributed import StateLost

    # The crawl command's own log level and progress are not the workers'.
    settings = {name: value for name, value in settings.items()
                if name not in ("LOG_LEVEL", "STEPPE_PROGRESS_INTERVAL")}
    try:
        outcomes = crawl_distributed(redis_url, sources, settings, data_dir=data_dir, workers=workers,
                                     namespace=namespace, lease_seconds=lease_seconds)
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        _fail(f"cannot reach Redis at {redis_url} ({exc}); not crawling")
    except (StateLost, RuntimeError) as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        _fail("interrupted (Ctrl-C); the hosts not crawled stay in Redis for workers to take")
    ok = not any(outcome.get("workers_failed") for outcome in outcomes.values())
    for host, outcome in sorted(outcomes.items()):
        for crawl in outcome["crawls"]:
            ok = ok and crawl["status"] == "finished"
            click.echo(f"crawl {crawl['crawl_id']} of {crawl['source']} {crawl['status']}: {crawl['pages']} pages"
                       f" archived, {crawl['articles_new']} new articles, {crawl['errors']} errors")
    sys.exit(EXIT_OK if ok else EXIT_FAILED)


@main.command(short_help="Work on a crawl shared through Redis (see crawl --redis).")
@click.option("--redis", "redis_url", metavar="URL", required=True, help="The crawl's Redis: redis://host:6379/0.")
@click.option("--worker-id", metavar="NAME", help="Name in this worker's crawl ids and WARC files "
              "(default: host name and process id).")
@click.option("--hosts", type=click.IntRange(min=1), default=8, show_default=True,
              help="Hosts this worker crawls at the same time (each one request at a time); with many "
                   "workers on a CPU-bound crawl, about hosts / workers, so that each gets its share.")
@click.option("--wait", type=click.FloatRange(min=0), default=60.0, show_default=True, metavar="SECONDS",
              help="How long to wait for a crawl to be put in Redis.")
@_redis_options
@_crawl_options
def worker(redis_url, worker_id, hosts, wait, namespace, lease_seconds, data_dir, overrides, verbose):
    """Take hosts from the crawl in Redis and crawl them into DIR, until no host is
    waiting or leased. Run any number, on any number of machines sharing DIR (one
    database, each worker's WARC files of its own).

    Exit status: 0 the crawl is over; 1 Redis lost the crawl or could not be reached
    (put the sources in again with `steppe crawl --redis`: the archive knows what was
    fetched), or no crawl was put in within --wait; 3 a single-process crawl is using DIR.
    """
    import redis

    from crawler.worker import run_worker

    logging.getLogger(_ROBOTS_LOGGER).addFilter(_WithoutTraceback())
    try:
        done = run_worker(redis_url, data_dir, _base_settings(overrides, verbose), worker_id=worker_id,
                          namespace=namespace, hosts=hosts, lease_seconds=lease_seconds, wait=wait)
    except ArchiveLocked as exc:
        click.echo(f"steppe: {exc}; not working", err=True)
        sys.exit(EXIT_LOCKED)
    except LookupError as exc:
        _fail(f"no crawl to work on ({exc}); put one in with `steppe crawl --redis {redis_url}`")
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        _fail(f"cannot reach Redis at {redis_url} ({exc})")
    if done.error:
        _fail(done.error)
    sys.exit(EXIT_OK)


@main.command(short_help="Crawl the bundled demo site on 127.0.0.1 (no delays).")
@click.option("--articles", type=click.IntRange(min=21), default=40, show_default=True,
              help="Articles on the demo site.")
@click.option("--port", default=8123, show_default=True,
              help="Port of the demo site on 127.0.0.1 (0: any free one). The same port on every run "
                   "keeps the URLs, so that a second demo run is an incremental crawl.")
@_crawl_options
def demo(articles, port, data_dir, overrides, verbose):
    """Start the bundled demo site on 127.0.0.1 and crawl it (no delays).

    The demo site mimics the real section, broken pages included: a 503 with
    Retry-After, a slow page, a page that times out, a redirect loop, an empty page.

    Exit status: 0 the crawl finished; 1 it failed or was interrupted (Ctrl-C), or
    the data directory cannot be written to; 2 bad usage, the port taken included;
    3 another crawl is using the data directory.
    """
    from crawler.demo_site import DemoServer, DemoSite
    from crawler.sources import Source

    settings = {"STEPPE_NO_DELAY": True, "DOWNLOAD_TIMEOUT": 3, "RETRY_TIMES": 1,
                **_base_settings(overrides, verbose)}
    try:
        server = DemoServer(DemoSite.build(n_articles=articles), port=port, hang_seconds=10)
    except OSError as exc:
        raise click.BadParameter(f"cannot listen on 127.0.0.1:{port} ({exc.strerror}); try --port 0",
                                 param_hint="--port") from None
    with server:
        click.echo(f"demo site at {server.url} ({articles} articles)")
        _run_and_report(data_dir, settings, [Source(server.section_url)])


def _check_can_listen(host: str, port: int) -> bool:
    """Whether HOST:PORT is free to listen on (checked before saying "serving"); and
    whether it is a loopback address. Raises BadParameter when it cannot be used."""
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.create_server(address[:2], family=family):
            pass
    except OSError as exc:
        hint = "; try another --port" if exc.errno == errno.EADDRINUSE else ""
        raise click.BadParameter(f"cannot listen on {host}:{port} ({exc.strerror}){hint}",
                                 param_hint="--host/--port") from None
    import ipaddress

    return ipaddress.ip_address(address[0]).is_loopback


@main.command(short_help="Explore the archive in Datasette, read-only, in a browser.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("data"),
              show_default=True, help="The archive to open: DIR/archive.db and DIR/warcs/*.warc.gz.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; the default is reachable from this machine only. Any other "
                   "makes the archive readable by whoever can reach it.")
@click.option("--port", default=8001, show_default=True, help="Port to listen on.")
def serve(data_dir, host, port):
    """Explore the archive in Datasette, read-only, at http://HOST:PORT/.

    Full-text search, facets, canned queries, a chart of articles per month, and every
    capture shown as archived, scripts off. Safe to run while a crawl writes.

    Exit status: 0 stopped (Ctrl-C); 2 bad usage (no archive in --data-dir, or the
    address or port cannot be listened on, e.g. taken by another program).
    """
    if not (data_dir / "archive.db").is_file():
        raise _no_archive(data_dir)
    if not _check_can_listen(host, port):
        click.echo(f"warning: {host} is not a loopback address: the archive is public, readable by anyone"
                   f" who can reach this machine on port {port}", err=True)
    from archive.serve import serve as serve_archive

    click.echo(f"serving {data_dir / 'archive.db'} at http://{host}:{port}/ (Ctrl-C to stop)")
    serve_archive(data_dir, host, port)


@main.command(short_help="Build the database from WARC files alone.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--db", "db_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Database to build, or to complete when it exists (nothing is added twice).")
@click.option("--site", "layout", type=click.Choice(sorted(LAYOUTS)), default="auto", show_default=True,
              help="How to read pages of WARC files that do not say (steppe's own say how their crawl "
                   "read them): auto (a platform steppe knows where the page's markup shows it, else "
                   "generic), zox-news (Modern Diplomacy's theme) or generic (any site).")
@click.option("--jobs", "-j", type=click.IntRange(min=0), default=os.cpu_count() or 1, show_default=True,
              help="Worker processes that read pages (0: in this process).")
def rebuild(paths, db_path, layout, jobs):
    """Build the database from WARC files alone: files (.warc, .warc.gz, a leftover
    .open) or folders of them, from steppe or any other crawler, in any order.

    A database that SQLite cannot read (damaged) is set aside, renamed
    NAME.damaged-TIME, and made again. A new database appears only once it is whole
    and holds something.

    Exit status: 0 every record was read; 1 some input was bad (each bad record or
    file is listed with its offset, skipped, and the rest ingested), or there was no
    WARC file at all, or the folder of --db cannot be written to; 2 bad usage; 3 a
    crawl is writing to the database's folder.
    """
    from archive.health import SQLITE_SIDE_FILES, database_problem, set_aside
    from archive.rebuild import Rebuild, warc_files
    from archive.store import Store

    files = warc_files(paths)
    if not files:
        _fail(f"no WARC files found in {', '.join(map(str, paths))} (.warc, .warc.gz or .open); "
              "nothing to rebuild, no database made")
    try:
        hold(db_path.resolve().parent)  # no crawl may write there meanwhile
    except ArchiveLocked as exc:
        _fail(f"{exc}; not rebuilding", EXIT_LOCKED)
    except ArchiveNotWritable as exc:
        _fail(f"{exc}; not rebuilding: choose another --db")
    problem = database_problem(db_path) if db_path.exists() else None
    if problem and problem.unreadable:
        click.echo(f"note: {db_path} {problem.what}: set aside as {set_aside(db_path).name}, making it again",
                   err=True)
    # A new database is built under a passing name: an interrupted or empty rebuild
    # leaves no file that looks like a database.
    building = db_path if db_path.exists() else db_path.with_name(db_path.name + ".partial")
    partial_files = [building.with_name(building.name + suffix) for suffix in ("", *SQLITE_SIDE_FILES)]
    store = Store(building)
    try:
        with click.progressbar(length=sum(path.stat().st_size for path in files), label="rebuilding",
                               file=sys.stderr, show_pos=False, show_eta=True, item_show_func=lambda _: None) as bar:
            started = time.monotonic()

            def progress(n: int) -> None:
                if sys.stderr.isatty():  # in a log, a changing label would print a line per update
                    bar.label = f"rebuilding {(bar.pos + n) / 2**20 / max(time.monotonic() - started, 1e-3):.1f} MB/s"
                bar.update(n)

            report = Rebuild(store, LAYOUTS[layout], jobs, progress).run(files)
    except BaseException:
        store.close()
        if building != db_path:
            for path in partial_files:
                path.unlink(missing_ok=True)
        raise
    store.close()
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    for bad in report.bad:
        click.echo(f"bad input: {bad}", err=True)
    outcome = f"{report.ingested} captures added to {db_path}"
    if building != db_path:
        if report.ingested:
            os.replace(building, db_path)
        else:
            for path in partial_files:
                path.unlink(missing_ok=True)
            outcome = f"nothing to store, no database made at {db_path}"
    click.echo(f"{report.files} files, {report.records} records, {outcome}"
               f" in {time.monotonic() - started:.1f}s" + (f"; {len(report.bad)} bad" if report.bad else ""))
    sys.exit(EXIT_FAILED if report.bad else EXIT_OK)


def _echo_learned_layouts(db) -> None:
    from archive.learn import learned_layouts

    learned = learned_layouts(db)
    if learned:
        click.echo("layouts learned from the hosts' own pages (where a page does not fit, it is read generically):")
    for row in learned:
        layout = row["layout"]
        click.echo(f"  {row['host']}: learned {row['learned_at']} from {row['pages']} pages; title {layout.title},"
                   f" text {layout.body}, byline {layout.byline or '-'}, date {layout.published or '-'},"
                   f" {len(layout.template_texts)} template blocks")


@main.command(short_help="The archive at a glance: runs, size, articles, problems.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("data"),
              show_default=True, help="The archive to describe.")
@click.option("--runs", default=5, show_default=True, help="How many of the latest crawl runs to list.")
def status(data_dir, runs):
    """The archive at a glance: latest runs and their counts, size, articles, gone
    and edited ones, the layouts learned from each host's pages, what the crawls
    still owe it (found, not archived yet) and what they gave up, and the next
    scheduled run if ``steppe schedule`` is running. It writes nothing, so it works
    on a read-only copy too.

    Exit status: 0 the archive is in order; 1 its database is missing, damaged or
    lacks records of its WARC files (what to do is printed); 2 no archive in
    --data-dir.
    """
    from archive.health import database_problem, records_missing
    from archive.store import Store
    from crawler.frontier import debts
    from crawler.schedule import read_state
    from crawler.settings import archive_paths

    warc_dir, db_path = archive_paths({"STEPPE_DATA_DIR": str(data_dir)})
    rebuild_command = f"steppe rebuild {warc_dir} --db {db_path}"
    problem = database_problem(db_path)
    if problem and not db_path.is_file() and not any(warc_dir.glob("*.warc*")):
        raise _no_archive(data_dir)
    if problem:
        _fail(f"{db_path} {problem.what}; the WARC files are the archive: `{rebuild_command}` makes it again"
              + (" (and sets the damaged file aside)" if problem.unreadable else ""))
    store = Store(db_path, read_only=True)
    totals = store.overview()
    warc_bytes = sum(p.stat().st_size for p in warc_dir.glob("*.warc.gz*"))
    click.echo(f"archive {data_dir}: {totals['articles']} articles ({totals['gone']} gone, {totals['edited']} edited,"
               f" {totals['aliases']} former URLs), {totals['captures']} captures")
    click.echo(f"size: WARC {warc_bytes / 2**20:.1f} MiB, database {db_path.stat().st_size / 2**20:.1f} MiB")
    sources = store.sources()
    if len(sources) > 1:
        click.echo(f"sources ({len(sources)}):")
        for source in sources:
            click.echo(f"  {source['source']}: {source['articles']} articles, {source['start_url']};"
                       f" latest run {source['started']} {source['status']}")
    _echo_learned_layouts(store.db)
    click.echo("latest runs:")
    for run in store.recent_crawls(runs):
        click.echo(f"  {run['id']}  {run['status'] or '?':<11} {run['started']} → {run['finished'] or '…'}"
                   f"  requests {run['requests'] or 0}, new {run['articles_new'] or 0},"
                   f" changed {run['articles_changed'] or 0}, unchanged {run['articles_unchanged'] or 0},"
                   f" gone {run['articles_gone'] or 0}, errors {run['errors'] or 0}")
    entries, counts = debts(store)
    owed = [debt for debt in entries if debt.state == "owed"]
    given_up = [debt for debt in entries if debt.state == "given_up"]
    if owed:
        click.echo(f"owed ({len(owed)}): found and not archived yet, fetched by the next crawls")
        for debt in owed:
            click.echo(f"  {debt.describe()}")
    if given_up:
        shown = given_up[-GIVEN_UP_SHOWN:]
        click.echo(f"given up ({len(given_up)}): the site's answer was final" + (", latest:" if shown != given_up else ":"))
        for debt in shown:
            click.echo(f"  {debt.describe()}")
    if counts.get("sought"):
        click.echo(f"sought: {counts['sought']} articles the sitemaps list, to be looked for in the section's listing")
    if counts.get("elsewhere"):
        click.echo(f"elsewhere: {counts['elsewhere']} articles the sitemaps list and the section's listing does not")
    # While a crawl runs, its newest records are on their way in: not a lag.
    lag = records_missing(warc_dir, store) if not is_held(data_dir) else None
    interrupted = {crawl_id for (crawl_id,) in store.db.execute("select id from crawls where status = 'running'")}
    store.close()
    state = read_state(data_dir)
    if state:
        click.echo(f"schedule: {state['schedule']}, next run {state['next_run']}")
    if lag:
        # The next crawl's recovery ingests the records of runs still marked running
        # (killed); anything else (a file copied in, a database from an old backup)
        # only a rebuild adds.
        remedy = ("the next `steppe crawl` recovers them, or now: " if lag.crawls <= interrupted
                  else "a crawl will not add them: ")
        _fail(f"{db_path} lacks records of {len(lag.files)} WARC file(s), e.g. {lag.files[0].name}; "
              f"{remedy}`{rebuild_command}` (it adds only what is missing)")


@main.command(context_settings={"ignore_unknown_options": True},
              short_help="Crawl now, then on a schedule, until stopped (Ctrl-C).")
@click.option("--every", metavar="INTERVAL", help="Run every INTERVAL from the start of the last run: 90s, 30m, 6h, 1d.")
@click.option("--cron", metavar="EXPRESSION", help='Run at the times of a cron expression, e.g. "0 */6 * * *".')
@click.option("--jitter", metavar="INTERVAL", default="5m", show_default=True,
              help="Start each run up to this much later, at random, so that runs do not fall on the hour; 0: none.")
@click.option("--max-runs", type=click.IntRange(min=1), metavar="N", help="Stop after N runs (default: never).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("data"),
              show_default=True, help="Where the archive lives.")
@click.argument("crawl_args", nargs=-1, type=click.UNPROCESSED)
def schedule(every, cron, jitter, max_runs, data_dir, crawl_args):
    """Crawl now, then on a schedule, in the foreground, until stopped (Ctrl-C).

    Any further options go to each `steppe crawl` run, e.g.
    `steppe schedule --every 6h --contact mailto:you@example.org`. A failed run is
    logged and the schedule goes on; a run that finds another crawl holding the data
    directory is skipped. `steppe status` shows the next run.

    Exit status: 0 when stopped (Ctrl-C) or after --max-runs; 2 bad usage, crawl
    options included.
    """
    import logging

    from crawler.schedule import Schedule, parse_every, run_forever

    if (every is None) == (cron is None):
        raise click.UsageError('give one of --every INTERVAL (e.g. --every 6h) or --cron EXPRESSION'
                               ' (e.g. --cron "0 */6 * * *")')
    try:
        plan = Schedule(every=parse_every(every) if every else None, cron=cron, jitter=parse_every(jitter, zero=True))
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    crawl.make_context("steppe crawl", [*crawl_args])  # bad crawl options: refused now, not at every run
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    click.echo(f"steppe schedule: {plan.describe()}, jitter up to {jitter}; Ctrl-C stops", err=True)
    try:
        run_forever(plan, [*crawl_args, "--data-dir", str(data_dir)], data_dir, max_runs)
    except KeyboardInterrupt:
        click.echo("schedule stopped", err=True)


@main.command(short_help="Write a CDXJ index of WARC files, for replay tools.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), callback=_output_file,
              help="The CDXJ file to write (default: standard output).")
def index(paths, output):
    """Write a CDXJ index of WARC files and directories of them, with cdxj-indexer.

    One sorted line per response, revisit, resource or metadata record, the format
    pywb and other replay tools read. A directory gives its closed .warc/.warc.gz
    files; a file still .open is indexed only when named.

    Exit status: 0 indexed; 1 no WARC file among PATHS, or one that is not a WARC
    file (nothing is written); 2 bad usage (a path or the folder of --output missing).
    """
    from archive.index import NotIndexable, write_index

    try:
        write_index(paths, output)
    except NotIndexable as exc:
        _fail(f"{exc}; nothing indexed")
    if output is not None:
        with open(output, "rb") as fh:
            click.echo(f"{output}: {sum(1 for _ in fh)} records indexed", err=True)


@main.command(short_help="Package the archive as WACZ, for ReplayWeb.page or pywb.")
@click.option("--wacz", "output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              callback=_output_file, help="The WACZ file to write, e.g. archive.wacz.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("data"),
              show_default=True, help="The archive to export: DIR/warcs/*.warc.gz and DIR/archive.db.")
def export(output, data_dir):
    """Package the archive as WACZ, with py-wacz, for ReplayWeb.page or pywb.

    The package holds the closed WARC files, their CDXJ index, and pages/pages.jsonl
    listing every article (URL, title, date of its first capture, text). It is checked
    with `wacz validate` before it is kept. Safe to run while a crawl writes.

    Exit status: 0 written and validated; 1 the package could not be made or was
    rejected (nothing is kept); 2 bad usage (no archive in --data-dir, no folder for
    --wacz).
    """
    from archive.export import ExportError, export_wacz

    if not (data_dir / "archive.db").is_file():
        raise _no_archive(data_dir)
    try:
        summary = export_wacz(data_dir, output)
    except ExportError as exc:
        _fail(str(exc))
    click.echo(f"{summary.path}: {summary.warc_files} WARC files, {summary.pages} article pages")


if __name__ == "__main__":
    main()
