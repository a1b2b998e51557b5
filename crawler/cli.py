"""The ``steppe`` command: a thin shell over crawler.runner and archive.

This is the only module that may import both sides.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

from archive import __version__
from archive.layouts import LAYOUTS
from archive.lock import ArchiveLocked, hold
from crawler.runner import resolve_profile, run_crawl
from crawler.settings import user_agent

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LOCKED = 0, 1, 2, 3


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


def _run_and_report(data_dir: Path, settings: dict, **crawl_args) -> None:
    try:
        summary = run_crawl(data_dir, settings=settings, **crawl_args)
    except ArchiveLocked as exc:
        click.echo(f"steppe: {exc}; not crawling", err=True)
        sys.exit(EXIT_LOCKED)
    for line in summary.lines():
        click.echo(line)
    sys.exit(EXIT_OK if summary.ok else EXIT_FAILED)


def _base_settings(overrides: tuple[str, ...], verbose: bool) -> dict:
    return {"LOG_LEVEL": "INFO" if verbose else "WARNING", "STEPPE_PROGRESS_INTERVAL": 2.0,
            **_setting_pairs(overrides)}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="steppe")
def main():
    """steppe: archive one section of a news site as WARC files and an SQLite database.

    By default the Central Asia section of Modern Diplomacy
    (https://moderndiplomacy.eu/category/central-asia/).
    """


@main.command()
@click.option("--start-url", metavar="URL",
              help="Section listing to start from, e.g. a local copy: http://127.0.0.1:8000/category/central-asia/")
@click.option("--section", metavar="SLUG", help="Another section of the same site, e.g. southeast-asia.")
@click.option("--contact", metavar="URL|EMAIL",
              help="How site operators can reach you; goes into the User-Agent. Set it for real sites.")
@click.option("--no-delay", is_flag=True,
              help="No politeness delays and full concurrency: refused unless the target is on 127.0.0.0/8.")
@click.option("--full", is_flag=True,
              help="Fetch every listing page and article again, as on a first crawl.")
@click.option("--max-pages", type=click.IntRange(min=1), metavar="N", help="Stop after N responses.")
@_crawl_options
def crawl(start_url, section, contact, no_delay, full, max_pages, data_dir, overrides, verbose):
    """Crawl the section: listing pages, articles and "Continue Reading" links.

    Every response goes to a WARC file first, then into the database. On a data
    directory that already holds articles the crawl is incremental: it fetches new
    articles, and known ones only where they may have changed (young ones, and those
    the site's sitemaps show as modified or no longer list).

    Exit status: 0 the crawl finished (pages that failed are listed); 1 the crawl
    failed (its start page could not be read, or it was interrupted); 2 bad usage;
    3 another crawl is using the data directory.
    """
    try:
        profile = resolve_profile(start_url, section)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--start-url") from None
    if no_delay and not profile.is_loopback:
        raise click.BadParameter(f"{profile.host} is not a loopback address", param_hint="--no-delay")
    settings = _base_settings(overrides, verbose)
    if contact:
        settings.setdefault("USER_AGENT", user_agent(contact))
    elif not profile.is_loopback and "USER_AGENT" not in settings:
        click.echo("note: no --contact given; site operators cannot reach you from the User-Agent", err=True)
    if no_delay:
        settings["STEPPE_NO_DELAY"] = True
    if full:
        settings["STEPPE_FULL"] = True
    if max_pages:
        settings["STEPPE_MAX_PAGES"] = max_pages
    _run_and_report(data_dir, settings, start_url=start_url, section=section)


@main.command()
@click.option("--articles", default=40, show_default=True, help="Articles on the demo site.")
@click.option("--port", default=8123, show_default=True,
              help="Port of the demo site on 127.0.0.1 (0: any free one). The same port on every run "
                   "keeps the URLs, so that a second demo run is an incremental crawl.")
@_crawl_options
def demo(articles, port, data_dir, overrides, verbose):
    """Start the bundled demo site on 127.0.0.1 and crawl it (no delays).

    The demo site mimics the real section, broken pages included: a 503 with
    Retry-After, a slow page, a page that times out, a redirect loop, an empty page.
    """
    from crawler.demo_site import DemoServer, DemoSite

    settings = {"STEPPE_NO_DELAY": True, "DOWNLOAD_TIMEOUT": 3, "RETRY_TIMES": 1,
                **_base_settings(overrides, verbose)}
    try:
        server = DemoServer(DemoSite.build(n_articles=articles), port=port, hang_seconds=10)
    except OSError as exc:
        raise click.BadParameter(f"cannot listen on 127.0.0.1:{port} ({exc.strerror}); try --port 0",
                                 param_hint="--port") from None
    with server:
        click.echo(f"demo site at {server.url} ({articles} articles)")
        _run_and_report(data_dir, settings, start_url=server.section_url)


@main.command()
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("data"),
              show_default=True, help="The archive to open: DIR/archive.db and DIR/warcs/*.warc.gz.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; the default is reachable from this machine only.")
@click.option("--port", default=8001, show_default=True, help="Port to listen on.")
def serve(data_dir, host, port):
    """Explore the archive in Datasette, read-only, at http://HOST:PORT/.

    Full-text search, facets, canned queries, a chart of articles per month, and every
    capture shown as archived, scripts off. Safe to run while a crawl writes.
    """
    from archive.serve import serve as serve_archive

    if not (data_dir / "archive.db").is_file():
        raise click.BadParameter(f"no archive database in {data_dir}: run steppe crawl or steppe demo first",
                                 param_hint="--data-dir")
    click.echo(f"serving {data_dir / 'archive.db'} at http://{host}:{port}/ (Ctrl-C to stop)")
    serve_archive(data_dir, host, port)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--db", "db_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Database to build, or to complete when it exists (nothing is added twice).")
@click.option("--site", "layout", type=click.Choice(sorted(LAYOUTS)), default="zox-news", show_default=True,
              help="How to find a page's own article: zox-news (the default site) or generic "
                   "(trafilatura over the whole page, for WARCs of other sites).")
@click.option("--jobs", "-j", type=click.IntRange(min=0), default=os.cpu_count() or 1, show_default=True,
              help="Worker processes that read pages (0: in this process).")
def rebuild(paths, db_path, layout, jobs):
    """Build the database from WARC files alone: files (.warc, .warc.gz, a leftover
    .open) or folders of them, from steppe or any other crawler, in any order.

    Exit status: 0 every record was read; 1 some input was bad (each bad record or
    file is listed with its offset, skipped, and the rest ingested); 2 bad usage;
    3 a crawl is writing to the database's folder.
    """
    from archive.rebuild import Rebuild, warc_files
    from archive.store import Store

    total = sum(path.stat().st_size for path in warc_files(paths))
    try:
        hold(db_path.resolve().parent)  # no crawl may write there meanwhile
    except ArchiveLocked as exc:
        click.echo(f"steppe: {exc}; not rebuilding", err=True)
        sys.exit(EXIT_LOCKED)
    store = Store(db_path)
    with click.progressbar(length=total, label="rebuilding", file=sys.stderr,
                           show_pos=False, show_eta=True, item_show_func=lambda _: None) as bar:
        started = time.monotonic()

        def progress(n: int) -> None:
            if sys.stderr.isatty():  # in a log, a changing label would print a line per update
                bar.label = f"rebuilding {(bar.pos + n) / 2**20 / max(time.monotonic() - started, 1e-3):.1f} MB/s"
            bar.update(n)

        report = Rebuild(store, LAYOUTS[layout], jobs, progress).run(paths)
    store.close()
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    for bad in report.bad:
        click.echo(f"bad input: {bad}", err=True)
    click.echo(f"{report.files} files, {report.records} records, {report.ingested} captures added to {db_path}"
               f" in {time.monotonic() - started:.1f}s" + (f"; {len(report.bad)} bad" if report.bad else ""))
    sys.exit(EXIT_FAILED if report.bad else EXIT_OK)


@main.command()
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("data"),
              show_default=True, help="The archive to describe.")
@click.option("--runs", default=5, show_default=True, help="How many of the latest crawl runs to list.")
def status(data_dir, runs):
    """The archive at a glance: latest runs and their counts, size, articles, gone
    and edited ones, what the crawls still owe it (found, not archived yet) and what
    they gave up, and the next scheduled run if ``steppe schedule`` is running."""
    from archive.store import Store
    from crawler.frontier import debts
    from crawler.schedule import read_state
    from crawler.settings import archive_paths

    warc_dir, db_path = archive_paths({"STEPPE_DATA_DIR": str(data_dir)})
    if not db_path.is_file():
        raise click.BadParameter(f"no archive database in {data_dir}", param_hint="--data-dir")
    store = Store(db_path)
    totals = store.overview()
    warc_bytes = sum(p.stat().st_size for p in warc_dir.glob("*.warc.gz*"))
    click.echo(f"archive {data_dir}: {totals['articles']} articles ({totals['gone']} gone, {totals['edited']} edited,"
               f" {totals['aliases']} former URLs), {totals['captures']} captures")
    click.echo(f"size: WARC {warc_bytes / 2**20:.1f} MiB, database {db_path.stat().st_size / 2**20:.1f} MiB")
    click.echo("latest runs:")
    for run in store.recent_crawls(runs):
        click.echo(f"  {run['id']}  {run['status'] or '?':<11} {run['started']} → {run['finished'] or '…'}"
                   f"  requests {run['requests'] or 0}, new {run['articles_new'] or 0},"
                   f" changed {run['articles_changed'] or 0}, unchanged {run['articles_unchanged'] or 0},"
                   f" gone {run['articles_gone'] or 0}, errors {run['errors'] or 0}")
    owed, given_up, elsewhere = [], [], 0
    for debt in debts(store):
        if debt.state == "elsewhere":
            elsewhere += 1
        else:
            (given_up if debt.state == "given_up" else owed).append(debt)
    if owed:
        click.echo(f"owed ({len(owed)}): found and not archived yet, fetched by the next crawls")
        for debt in owed:
            click.echo(f"  {debt.describe()}")
    if given_up:
        click.echo(f"given up ({len(given_up)}): the site's answer was final" + (", latest:" if len(given_up) > runs else ":"))
        for debt in given_up[-runs:]:
            click.echo(f"  {debt.describe()}")
    if elsewhere:
        click.echo(f"elsewhere: {elsewhere} articles the sitemaps list and the section's listing does not")
    store.close()
    state = read_state(data_dir)
    if state:
        click.echo(f"schedule: {state['schedule']}, next run {state['next_run']}")


@main.command(context_settings={"ignore_unknown_options": True})
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


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="The CDXJ file to write (default: standard output).")
def index(paths, output):
    """Write a CDXJ index of WARC files and directories of them, with cdxj-indexer.

    One sorted line per response, revisit, resource or metadata record, the format
    pywb and other replay tools read. A directory gives its closed .warc/.warc.gz
    files; a file still .open is indexed only when named.
    """
    from archive.index import write_index

    write_index(paths, output)
    if output is not None:
        with open(output, "rb") as fh:
            click.echo(f"{output}: {sum(1 for _ in fh)} records indexed", err=True)


@main.command()
@click.option("--wacz", "output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The WACZ file to write, e.g. archive.wacz.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("data"),
              show_default=True, help="The archive to export: DIR/warcs/*.warc.gz and DIR/archive.db.")
def export(output, data_dir):
    """Package the archive as WACZ, with py-wacz, for ReplayWeb.page or pywb.

    The package holds the closed WARC files, their CDXJ index, and pages/pages.jsonl
    listing every article (URL, title, date of its first capture, text). It is checked
    with `wacz validate` before it is kept. Safe to run while a crawl writes.
    """
    from archive.export import ExportError, export_wacz

    if not (data_dir / "archive.db").is_file():
        raise click.BadParameter(f"no archive database in {data_dir}", param_hint="--data-dir")
    try:
        summary = export_wacz(data_dir, output)
    except ExportError as exc:
        click.echo(f"steppe: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    click.echo(f"{summary.path}: {summary.warc_files} WARC files, {summary.pages} article pages")


if __name__ == "__main__":
    main()
