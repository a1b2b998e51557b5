"""Shared fixtures: real WARC files, a real demo site on loopback, a real crawl."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from archive.warc import HttpExchange, WarcWriter, iter_responses

WARCIO = Path(sys.executable).with_name("warcio")


def warcio(*args: str) -> subprocess.CompletedProcess:
    """The real warcio command line, as a user would run it."""
    return subprocess.run([str(WARCIO), *args], capture_output=True, text=True, timeout=120)


def steppe(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """The real `steppe` command, in its own process (Twisted's reactor runs once per process)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "crawler.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=env)


def html_exchange(url: str, html: str, *, at: datetime | None = None, status: int = 200,
                  headers: list[tuple[str, str]] | None = None) -> HttpExchange:
    body = html.encode("utf-8")
    return HttpExchange(
        url=url, sent_at=at or datetime.now(timezone.utc), method="GET", request_headers=[("User-Agent", "test")],
        status=status, body=body,
        response_headers=headers or [("Content-Type", "text/html; charset=UTF-8"), ("Content-Length", str(len(body)))],
    )


@pytest.fixture
def write_warc(tmp_path):
    """Write exchanges to a real WARC file; get back the records as read from it."""
    counter = iter(range(10**6))

    def write(exchanges: list[HttpExchange], crawl_id: str = "test-crawl"):
        directory = tmp_path / "warcs"
        with WarcWriter(directory, f"steppe-{crawl_id}-{next(counter)}", info={"crawl-id": crawl_id}) as writer:
            for exchange in exchanges:
                writer.write_exchange(exchange)
        return [record for path in writer.closed_files for record in iter_responses(path)]

    return write


def minutes_ago(n: int) -> datetime:
    return datetime.now(timezone.utc) - timedelta(minutes=n)
