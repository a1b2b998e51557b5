"""The `steppe` command as a user meets it: help, version, bad input, exit statuses."""

import socket

import pytest

from archive import __version__

from conftest import steppe


def test_version_and_help_document_every_option():
    assert steppe("--version").stdout.strip() == f"steppe, version {__version__}"
    for command, options in {
        "crawl": ["--start-url", "--sources", "--section", "--contact", "--no-delay", "--data-dir", "--set", "--verbose"],
        "demo": ["--articles", "--data-dir", "--set", "--verbose"],
    }.items():
        result = steppe(command, "--help")
        assert result.returncode == 0
        for option in options:
            assert option in result.stdout, (command, option)
    assert "Exit status: 0" in " ".join(steppe("crawl", "--help").stdout.split())


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/category/x/", "127.0.0.1:8123/category/x/", "http:///x/"])
def test_a_start_url_no_crawl_can_start_from_is_refused(tmp_path, url):
    result = steppe("crawl", "--start-url", url, "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert "--start-url" in result.stderr and "http(s) URL" in result.stderr
    assert not (tmp_path / "archive.db").exists()


def test_sources_file_mistakes_are_refused_in_one_line(tmp_path):
    sources = tmp_path / "sources.toml"
    for text, message in [
        ('[[source]]\nname = "x"\n', "source 1: a url is required"),
        ('[[source]]\nurl = "http://127.0.0.1:9/news/"\ndelai = 2\n', "unknown key(s) delai"),
        ('[[source]]\nurl = "http://127.0.0.1:9/news/"\n[[source]]\nurl = "http://127.0.0.1:9/news/"\n',
         "two sources have the same section url"),
        ("[[source]\n", "is not valid TOML"),
    ]:
        sources.write_text(text)
        result = steppe("crawl", "--sources", str(sources), "--data-dir", str(tmp_path / "data"))
        assert result.returncode == 2 and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists()


def test_no_delay_is_refused_for_a_host_outside_loopback(tmp_path):
    # Refused before anything is sent: the check needs no network.
    result = steppe("crawl", "--no-delay", "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert "not a loopback address" in result.stderr
    assert not (tmp_path / "warcs").exists()


def test_bad_setting_syntax_is_refused(tmp_path):
    result = steppe("crawl", "-s", "DOWNLOAD_DELAY", "--data-dir", str(tmp_path))
    assert result.returncode == 2 and "NAME=VALUE" in result.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_site_fails_with_a_clear_message(tmp_path):
    port = free_port()  # nothing listens there any more
    result = steppe("crawl", "--no-delay", "--start-url", f"http://127.0.0.1:{port}/category/central-asia/",
                    "--data-dir", str(tmp_path), "-s", "RETRY_TIMES=0", "-s", "DOWNLOAD_TIMEOUT=2")
    assert result.returncode == 1, result.stdout + result.stderr
    assert " failed: " in result.stdout
    assert "Could not fetch" in result.stderr or "error:" in result.stdout
    assert "Connection" in result.stdout + result.stderr or "refused" in result.stdout + result.stderr


def test_scrapy_crawl_from_the_repo_root_archives_the_section(tmp_path):
    """The Scrapy way in: same spider, same settings module (scrapy.cfg), same archive."""
    import sqlite3
    import subprocess
    import sys
    from pathlib import Path

    from crawler.demo_site import DemoSite, serve_site

    root = Path(__file__).resolve().parent.parent
    site = DemoSite.build(n_articles=30, seed=2)
    with serve_site(site, hang_seconds=4) as server:
        result = subprocess.run(
            [sys.executable, "-m", "scrapy", "crawl", "central_asia", "-a", f"start_url={server.section_url}",
             "-s", f"STEPPE_DATA_DIR={tmp_path}", "-s", "STEPPE_NO_DELAY=1", "-s", "DOWNLOAD_TIMEOUT=2.5", "-s", "RETRY_TIMES=1",
             "-s", "LOG_LEVEL=WARNING"], cwd=root, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    db = sqlite3.connect(tmp_path / "archive.db")
    assert db.execute("select count(*) from articles").fetchone()[0] == len(site.expected_articles())
    assert list((tmp_path / "warcs").glob("*.warc.gz"))


def test_schedule_runs_crawls_and_status_reports_them(tmp_path):
    import subprocess
    import sys
    import time

    from crawler.demo_site import DemoSite, serve_site

    data_dir = tmp_path / "data"
    common = ["--data-dir", str(data_dir), "--no-delay", "-s", "DOWNLOAD_TIMEOUT=2"]
    with serve_site(DemoSite.build(n_articles=30, seed=4), hang_seconds=0.5) as server:
        result = steppe("schedule", "--every", "1s", "--jitter", "0", "--max-runs", "2",
                        "--start-url", server.section_url, *common)
        assert result.returncode == 0, result.stderr
        assert "run 1 finished" in result.stderr and "run 2 finished" in result.stderr
        status = steppe("status", "--data-dir", str(data_dir))
        assert status.returncode == 0, status.stderr
        lines = status.stdout.splitlines()
        assert lines[0].startswith(f"archive {data_dir}: 28 articles (0 gone")
        assert sum(" finished " in line for line in lines) == 2
        assert "schedule:" not in status.stdout  # that schedule has ended

        waiting = subprocess.Popen([sys.executable, "-m", "crawler.cli", "schedule", "--every", "1h",
                                    "--start-url", server.section_url, *common],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 120
            while "schedule:" not in (status := steppe("status", "--data-dir", str(data_dir)).stdout):
                assert time.monotonic() < deadline and waiting.poll() is None
                time.sleep(0.5)
            assert "schedule: every 1h, next run " in status
        finally:
            waiting.terminate()
            waiting.wait(30)


def test_schedule_refuses_a_bad_interval_or_cron(tmp_path):
    assert steppe("schedule", "--every", "soon", "--data-dir", str(tmp_path)).returncode == 2
    assert steppe("schedule", "--cron", "61 * * * *", "--data-dir", str(tmp_path)).returncode == 2
    assert steppe("schedule", "--every", "1h", "--cron", "0 * * * *", "--data-dir", str(tmp_path)).returncode == 2
    assert steppe("schedule", "--every", "1h", "--bogus", "--data-dir", str(tmp_path)).returncode == 2


def test_cron_schedules_give_the_next_time():
    from datetime import datetime, timezone

    from crawler.schedule import Schedule, parse_every

    moment = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
    assert Schedule(every=parse_every("6h")).next_after(moment) == datetime(2026, 11, 23, 16, 0, tzinfo=timezone.utc)
    nxt = Schedule(cron="*/15 * * * *", jitter=parse_every("1m")).next_after(moment)
    assert moment < nxt <= moment.replace(minute=16)
