"""WACZ packages of an archive, made and checked by py-wacz (``wacz create``/``validate``).

A WACZ is a zip of the WARC files, their CDXJ index and a page list, which
ReplayWeb.page and pywb open as is. Our page list is the ``articles`` table: py-wacz
matches each page to its WARC record (by URL and timestamp) and writes
``pages/pages.jsonl`` from the pages it found, so a page that names no record is
reported rather than listed and unreplayable.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

# Per article, the capture a replay tool should open: the earliest 200 of the
# article's own URL (for a renamed article, its new URL), else of any URL it had,
# in the WARC files packaged (?: a JSON list of their names).
_PAGES_SQL = """
select id, title, text, url, fetched_at from (
    select a.id, a.title, a.text, c.url, c.fetched_at,
           row_number() over (partition by a.id order by c.url != a.url, c.fetched_at) as n
    from articles a join captures c on c.article_id = a.id and c.status = 200
    where c.warc_filename in (select value from json_each(?)))
where n = 1 order by fetched_at, id
"""


class ExportError(Exception):
    pass


@dataclass(frozen=True)
class ExportSummary:
    path: Path
    warc_files: int
    pages: int


def page_lines(db: sqlite_utils.Database, warc_names: list[str]) -> list[dict]:
    """pages.jsonl lines: a header, then one page per article (``ts`` = its capture)."""
    rows = db.execute(_PAGES_SQL, [json.dumps(warc_names)]).fetchall()
    pages = [{"url": url, "ts": fetched_at, "title": title, "text": text, "id": f"article-{article_id}"}
             for article_id, title, text, url, fetched_at in rows]
    return [{"format": "json-pages-1.0", "id": "pages", "title": "Articles"}, *pages]


def export_wacz(data_dir: str | os.PathLike, output: str | os.PathLike) -> ExportSummary:
    """Write DATA_DIR's closed WARC files and its articles as a WACZ, then validate it."""
    from wacz.main import main as wacz_main  # heavy (frictionless); only this command needs it

    data_dir, output = Path(data_dir), Path(output)
    db = sqlite_utils.Database(data_dir / "archive.db")
    # A file still .open belongs to a running crawl and may end in a torn record: its
    # articles wait for the next export.
    warcs = sorted((data_dir / "warcs").glob("*.warc.gz"))
    if not warcs:
        raise ExportError(f"no closed WARC files in {data_dir / 'warcs'}")
    lines = page_lines(db, [path.name for path in warcs])
    first, last = db.execute("select min(started), max(started) from crawls").fetchone()
    site = db.execute("select start_url from crawls order by started desc limit 1").fetchone()
    partial = output.with_name(output.name + ".partial")
    with tempfile.TemporaryDirectory() as tmp:
        pages_file = Path(tmp) / "pages.jsonl"
        pages_file.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
        args = ["create", "-o", str(partial), "-p", str(pages_file),
                "--title", f"steppe archive of {site[0] if site else data_dir}",
                "--desc", f"{len(lines) - 1} articles; crawl runs from {first} to {last}", *map(str, warcs)]
        try:
            status, log = _quietly(wacz_main, args)
            if status != 0:
                raise ExportError(f"wacz create failed:\n{log}")
            listed = _listed_pages(partial)
            missing = {line["url"] for line in lines[1:]} - listed
            if missing:
                raise ExportError(f"{len(missing)} articles have no record in the WARC files, e.g. {min(missing)}")
            status, log = _quietly(wacz_main, ["validate", "-f", str(partial)])
            if status != 0:
                raise ExportError(f"wacz validate rejected the package:\n{log}")
            os.replace(partial, output)
        finally:
            partial.unlink(missing_ok=True)
    return ExportSummary(output, len(warcs), len(lines) - 1)


def _quietly(function, args) -> tuple[int, str]:
    """py-wacz narrates on standard output; keep it for the error message instead."""
    log = io.StringIO()
    with contextlib.redirect_stdout(log):
        status = function(args)
    return status, log.getvalue()


def _listed_pages(wacz_path: Path) -> set[str]:
    with zipfile.ZipFile(wacz_path) as wacz:
        if "pages/pages.jsonl" not in wacz.namelist():  # py-wacz writes none for no pages
            return set()
        with wacz.open("pages/pages.jsonl") as fh:
            return {json.loads(line).get("url") for line in fh if line.strip()} - {None}
