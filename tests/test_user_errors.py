"""What a user types wrong, or a machine refuses, tried as a new user would: each case
runs the real `steppe` command in its own process and checks one clear line on
standard error, a documented exit status, no Python traceback, and nothing
half-made left behind."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from archive.ingest import read_capture
from archive.layouts import ZOX_NEWS
from archive.problems import ProblemKind
from archive.warc import WarcWriter

from conftest import html_exchange, steppe

STEPPE = Path(sys.executable).with_name("steppe")

EXIT_FAILED, EXIT_USAGE = 1, 2


def files_in(folder: Path) -> set[str]:
    return {str(path.relative_to(folder)) for path in folder.rglob("*")} if folder.exists() else set()


def fails_cleanly(result: subprocess.CompletedProcess, status: int, *words: str) -> str:
    """The run ended with ``status``, no traceback, and a message naming ``words``;
    returns standard error."""
    assert result.returncode == status, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in result.stderr, (word, result.stderr)
    return result.stderr


@pytest.fixture
def archive_copy(fixture_crawl, tmp_path) -> Path:
    """A copy of a real crawl's data directory, for a test to damage."""
    data_dir = tmp_path / "data"
    shutil.copytree(fixture_crawl.data_dir, data_dir)
    # Idle, as a crawl that ended leaves it: connections other tests hold to the
    # original may have come along as a -wal file; the last connection folds it in.
    with closing(sqlite3.connect(data_dir / "archive.db")) as db:
        db.execute("pragma wal_checkpoint(truncate)")
    return data_dir


# Read-only disks -----------------------------------------------------------------


def _read_only_prefix(folder: Path) -> list[str] | None:
    """A command prefix that runs the rest with ``folder`` mounted read-only (a user
    and mount namespace, as an unprivileged user may make); None where unavailable."""
    prefix = ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
              'mount --bind -o ro "$0" "$0" && exec "$@"', str(folder)]
    if shutil.which("unshare") is None:
        return None
    probe = subprocess.run([*prefix, "touch", str(folder / "probe")], capture_output=True, text=True)
    return prefix if "Read-only file system" in probe.stderr else None


@pytest.fixture
def read_only(tmp_path):
    def run(folder: Path, *args: str) -> subprocess.CompletedProcess:
        prefix = _read_only_prefix(folder)
        if prefix is None:
            if os.geteuid() == 0:
                pytest.skip("no user namespaces here, and root ignores file modes")
            for path in [folder, *folder.rglob("*")]:
                path.chmod(path.stat().st_mode & ~0o222)
            prefix = []
        return subprocess.run([*prefix, sys.executable, "-m", "crawler.cli", *args], capture_output=True,
                              text=True, timeout=300)
    return run


def test_a_read_only_data_directory(archive_copy, read_only):
    before = files_in(archive_copy)
    crawl = read_only(archive_copy.parent, "crawl", "--no-delay", "--data-dir", str(archive_copy),
                      "--start-url", "http://127.0.0.1:9/category/central-asia/")
    fails_cleanly(crawl, EXIT_FAILED, f"cannot write to {archive_copy}", "--data-dir")
    assert len(crawl.stderr.strip().splitlines()) == 1
    fresh = archive_copy.parent / "fresh"
    fails_cleanly(read_only(archive_copy.parent, "crawl", "--no-delay", "--data-dir", str(fresh),
                            "--start-url", "http://127.0.0.1:9/category/central-asia/"), EXIT_FAILED, "cannot write")
    fails_cleanly(read_only(archive_copy.parent, "rebuild", str(archive_copy / "warcs"),
                            "--db", str(archive_copy / "r.db")), EXIT_FAILED, "cannot write", "--db")
    status = read_only(archive_copy.parent, "status", "--data-dir", str(archive_copy))
    assert status.returncode == 0 and "Traceback" not in status.stderr, status.stderr
    assert " articles (" in status.stdout
    assert files_in(archive_copy) == before and not fresh.exists()


def test_status_writes_nothing(archive_copy):
    def snapshot():
        return {path: (path.stat().st_size, path.stat().st_mtime_ns) for path in archive_copy.rglob("*")}

    before = snapshot()
    result = steppe("status", "--data-dir", str(archive_copy))
    assert result.returncode == 0, result.stderr
    assert snapshot() == before


# Output files and input files ------------------------------------------------------------


def test_export_and_index_into_a_folder_that_does_not_exist(archive_copy, tmp_path):
    export = steppe("export", "--wacz", str(tmp_path / "nosuchdir" / "a.wacz"), "--data-dir", str(archive_copy))
    fails_cleanly(export, EXIT_USAGE, "--wacz", "no folder", "mkdir -p")
    index = steppe("index", str(archive_copy / "warcs"), "-o", str(tmp_path / "nosuchdir" / "i.cdxj"))
    fails_cleanly(index, EXIT_USAGE, "--output", "no folder")
    assert not (tmp_path / "nosuchdir").exists()


def test_index_of_a_file_that_is_not_a_warc(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("shopping list\n")
    for output in ([], ["-o", str(tmp_path / "i.cdxj")]):
        result = steppe("index", str(notes), *output)
        fails_cleanly(result, EXIT_FAILED, f"{notes} is not a WARC file", "nothing indexed")
        assert result.stdout == ""
    assert files_in(tmp_path) == {"notes.txt"}


def test_no_warc_files_found(tmp_path):
    empty = tmp_path / "emptydir"
    empty.mkdir()
    rebuild = steppe("rebuild", str(empty), "--db", str(tmp_path / "r.db"))
    fails_cleanly(rebuild, EXIT_FAILED, "no WARC files found in", str(empty))
    index = steppe("index", str(empty), "-o", str(tmp_path / "i.cdxj"))
    fails_cleanly(index, EXIT_FAILED, "no WARC files found in")
    assert files_in(tmp_path) == {"emptydir"}


def test_a_rebuild_that_stores_nothing_leaves_no_database(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a WARC file\n")
    result = steppe("rebuild", str(notes), "--db", str(tmp_path / "r1.db"))
    fails_cleanly(result, EXIT_FAILED, f"bad input: {notes} at offset 0")
    assert "no database made" in result.stdout
    assert files_in(tmp_path) == {"notes.txt"}


def test_rebuild_leaves_no_lock_file(fixture_crawl, tmp_path):
    result = steppe("rebuild", str(fixture_crawl.data_dir / "warcs"), "--db", str(tmp_path / "out" / "r.db"))
    assert result.returncode == 0, result.stderr
    assert files_in(tmp_path) == {"out", "out/r.db"}


# The network and the keyboard ------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_host_that_refuses_connections(tmp_path):
    url = f"http://127.0.0.1:{_free_port()}/category/central-asia/"
    result = steppe("crawl", "--no-delay", "--start-url", url, "--data-dir", str(tmp_path / "data"),
                    "-s", "RETRY_TIMES=0")
    fails_cleanly(result, EXIT_FAILED, "robots.txt")  # Scrapy's own line about robots.txt stays
    assert len(result.stderr.splitlines()) <= 4, result.stderr
    # Its robots.txt could not be read either: RFC 9309 reads that as "disallow all".
    (error,) = [line for line in result.stdout.splitlines() if line.strip().startswith("error:")]
    assert error.startswith(f"  error: {url}: not fetched: the robots rules of ") and "Connection refused" in error
    assert "steppe.lock" not in files_in(tmp_path)


# Python's own start (some 0.1 s, before steppe's first line runs) is out of reach.
@pytest.mark.parametrize("after", [0.5, 1.0, 1.5])
def test_ctrl_c_in_the_first_second_of_the_demo(tmp_path, after):
    data_dir = tmp_path / "demo-data"
    # The `steppe` script, as typed: under `python -m`, CPython reports a process in
    # which a Ctrl-C was raised inside exec()'d code (dataclasses, namedtuples being
    # made while modules import) as killed by SIGINT, whatever status it exits with.
    process = subprocess.Popen([str(STEPPE), "demo", "--port", "0", "--data-dir", str(data_dir)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(after)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    result = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    fails_cleanly(result, EXIT_FAILED)
    assert "interrupted" in out + err and "KeyboardInterrupt" not in err
    # Nothing half-made: no folder at all, or an archive whose run is marked interrupted.
    assert "steppe.lock" not in files_in(data_dir)
    if data_dir.exists():
        assert files_in(data_dir) >= {"archive.db", "warcs"}
        assert _count(data_dir / "archive.db", "select count(*) from crawls where status != 'interrupted'") == 0


class InterruptWhileOpening:
    """An extension that sends its own process a Ctrl-C as the crawl opens, before its
    engine runs: the moment a Ctrl-C in the first second of a run often lands on."""

    @classmethod
    def from_crawler(cls, crawler):
        from scrapy import signals

        crawler.signals.connect(cls.interrupt, signal=signals.spider_opened)
        return cls()

    @staticmethod
    def interrupt(spider):
        os.kill(os.getpid(), signal.SIGINT)


def test_ctrl_c_while_the_crawl_opens_closes_its_run_as_interrupted(tmp_path):
    from crawler.demo_site import DemoSite, serve_site

    extensions = ('{"crawler.extensions.ArchiveIngest": 500, "crawler.extensions.ProgressReport": 510,'
                  ' "test_user_errors.InterruptWhileOpening": 400}')
    with serve_site(DemoSite.build(n_articles=24, seed=3)) as server:
        result = subprocess.run(
            [sys.executable, "-m", "crawler.cli", "crawl", "--no-delay", "--start-url", server.section_url,
             "--data-dir", str(tmp_path / "data"), "-s", f"EXTENSIONS={extensions}"],
            capture_output=True, text=True, timeout=120,
            env={**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), *sys.path])})
    fails_cleanly(result, EXIT_FAILED)
    assert " interrupted: " in result.stdout, result.stdout + result.stderr
    assert _count(tmp_path / "data" / "archive.db", "select count(*) from crawls where status != 'interrupted'") == 0
    assert "steppe.lock" not in files_in(tmp_path / "data")


def test_serve_on_a_port_in_use(archive_copy):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = steppe("serve", "--data-dir", str(archive_copy), "--port", str(port))
    fails_cleanly(result, EXIT_USAGE, f"cannot listen on 127.0.0.1:{port}", "try another --port")
    assert "serving" not in result.stdout


def test_serve_on_a_public_address_warns_that_the_archive_is_public(archive_copy):
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "crawler.cli", "serve", "--data-dir", str(archive_copy),
                                "--host", "0.0.0.0", "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
    finally:
        process.terminate()
        out, err = process.communicate(timeout=20)
    assert err.startswith(f"warning: 0.0.0.0 is not a loopback address: the archive is public, readable by anyone"
                          f" who can reach this machine on port {port}\n"), err
    assert "serving" in out


# Help ------------------------------------------------------------------------------------------


def test_help_fits_80_columns_and_states_exit_statuses():
    env = {**os.environ, "COLUMNS": "80"}
    result = subprocess.run([sys.executable, "-m", "crawler.cli", "--help"], capture_output=True, text=True,
                            env=env)
    commands = result.stdout.split("Commands:\n", 1)[1].splitlines()
    assert len(commands) == 9
    for line in commands:
        assert len(line) <= 80 and not line.endswith("..."), line
    for command in ("crawl", "worker", "demo", "status", "schedule", "rebuild", "serve", "index", "export"):
        help_text = " ".join(steppe(command, "--help").stdout.split())
        assert "Exit status: 0" in help_text, command


def test_schedule_without_an_interval_names_both_options(tmp_path):
    result = steppe("schedule", "--data-dir", str(tmp_path / "data"))
    fails_cleanly(result, EXIT_USAGE, "--every", "--cron")
    assert not (tmp_path / "data").exists()


def test_demo_with_too_few_articles_is_refused(tmp_path):
    fails_cleanly(steppe("demo", "--articles", "5", "--data-dir", str(tmp_path / "d")), EXIT_USAGE, "--articles")


# A damaged or incomplete database -------------------------------------------------------------


def _rebuild_as_told(stderr: str) -> subprocess.CompletedProcess:
    """Run the `steppe rebuild` command a message tells the user to run."""
    warcs, db = re.search(r"`steppe rebuild (\S+) --db (\S+)`", stderr).groups()
    return steppe("rebuild", warcs, "--db", db)


def _count(db: Path, sql: str, *args) -> int:
    with closing(sqlite3.connect(db)) as connection:
        return connection.execute(sql, args).fetchone()[0]


def _articles(data_dir: Path) -> int:
    return _count(data_dir / "archive.db", "select count(*) from articles")


def _damage(db: Path, how: str) -> None:
    if how == "deleted":
        db.unlink()
    elif how == "truncated":
        with open(db, "r+b") as fh:
            fh.truncate(db.stat().st_size // 3)
    else:  # overwritten in the middle, as a bad sector or a stray write would
        with open(db, "r+b") as fh:
            fh.seek(db.stat().st_size // 2)
            fh.write(os.urandom(8192))


@pytest.mark.parametrize("how", ["deleted", "truncated", "corrupted"])
def test_a_lost_or_damaged_database_is_reported_and_rebuilt(archive_copy, fixture_crawl, how):
    db = archive_copy / "archive.db"
    _damage(db, how)
    status = steppe("status", "--data-dir", str(archive_copy))
    message = fails_cleanly(status, EXIT_FAILED, str(db), "is missing" if how == "deleted" else "is damaged",
                            "steppe rebuild")
    rebuild = _rebuild_as_told(message)
    assert rebuild.returncode == 0, rebuild.stderr
    if how != "deleted":
        assert "set aside" in rebuild.stderr
        [aside] = [path for path in archive_copy.glob("archive.db.damaged-*") if not path.name.endswith(("-wal", "-shm"))]
    assert steppe("status", "--data-dir", str(archive_copy)).returncode == 0
    assert _articles(archive_copy) == _articles(fixture_crawl.data_dir)


def test_a_warc_file_copied_in_is_found_and_added_by_rebuild(archive_copy):
    url = "http://127.0.0.1:9/2021/09/30/a-page-from-elsewhere/"
    page = ("<html><head><title>From elsewhere</title></head><body><article><h1 class='entry-title'>"
            "From elsewhere</h1><div class='entry-content'>" + "<p>Words from another crawl.</p>" * 20
            + "</div></article></body></html>")
    with WarcWriter(archive_copy / "warcs", "other-crawler", info={"software": "other"}) as writer:
        writer.write_exchange(html_exchange(url, page))
    status = steppe("status", "--data-dir", str(archive_copy))
    message = fails_cleanly(status, EXIT_FAILED, "lacks records of 1 WARC file(s)",
                            writer.closed_files[0].name, "a crawl will not add them")
    assert _rebuild_as_told(message).returncode == 0
    assert steppe("status", "--data-dir", str(archive_copy)).returncode == 0
    assert _count(archive_copy / "archive.db", "select count(*) from captures where url = ?", url) == 1


@pytest.mark.parametrize("run", ["finished", "running"])
def test_a_database_behind_its_warc_files_is_completed(archive_copy, run):
    """``finished``: a database restored from an older backup; ``running``: a crawl
    killed before it stored its last records, which the next crawl's recovery takes in."""
    db_path = archive_copy / "archive.db"
    with closing(sqlite3.connect(db_path)) as db, db:
        last = [capture_id for (capture_id,) in db.execute("select id from captures order by id desc limit 3")]
        for table in ("article_versions", "aliases"):
            db.execute(f"update {table} set capture_id = null where capture_id in (?, ?, ?)", last)
        db.execute("delete from captures where id in (?, ?, ?)", last)
        db.execute("update crawls set status = ?", [run])
    count = _count(db_path, "select count(*) from captures")
    status = steppe("status", "--data-dir", str(archive_copy))
    if run == "finished":
        message = fails_cleanly(status, EXIT_FAILED, "lacks records of", "a crawl will not add them")
        assert _rebuild_as_told(message).returncode == 0
    else:
        fails_cleanly(status, EXIT_FAILED, "lacks records of", "the next `steppe crawl` recovers them")
        crawl = steppe("crawl", "--no-delay", "--data-dir", str(archive_copy), "-s", "RETRY_TIMES=0",
                       "--start-url", f"http://127.0.0.1:{_free_port()}/category/central-asia/")
        assert "recovered from an interrupted crawl" in crawl.stderr, crawl.stderr
    assert _count(db_path, "select count(*) from captures") == count + 3
    assert steppe("status", "--data-dir", str(archive_copy)).returncode == 0


# Problems carry a kind ----------------------------------------------------------------------


def test_problems_carry_their_kind_from_where_they_are_found(write_warc):
    from dataclasses import replace

    url = "http://127.0.0.1:9/2021/09/01/a-page/"
    exchanges = [
        replace(html_exchange(url, "x"), body=b"\x1f\x8b\x08\x00" + b"\x00" * 20,
                response_headers=[("Content-Type", "text/html"), ("Content-Encoding", "gzip")]),
        html_exchange(url.replace("a-page", "an-empty-page"), ""),
    ]
    truncated, empty = (read_capture(record, ZOX_NEWS) for record in write_warc(exchanges))
    assert [problem.kind for problem in truncated.problems][:1] == [ProblemKind.DAMAGE]
    assert [problem.kind for problem in empty.problems] == [ProblemKind.NOTE]
    assert empty.problems == ["empty body"]  # and it is still its message


def test_a_crawl_into_a_database_that_is_not_one_stops_before_fetching(archive_copy, tmp_path):
    db = archive_copy / "archive.db"
    with open(db, "r+b") as fh:  # the header gone: SQLite cannot even read the schema
        fh.write(os.urandom(4096))
    before = sorted(p.name for p in (archive_copy / "warcs").iterdir())
    result = steppe("crawl", "--no-delay", "--start-url", "http://127.0.0.1:9/category/central-asia/",
                    "--data-dir", str(archive_copy))
    fails_cleanly(result, EXIT_FAILED, f"{db} is damaged", "not crawling", "steppe rebuild")
    assert sorted(p.name for p in (archive_copy / "warcs").iterdir()) == before
