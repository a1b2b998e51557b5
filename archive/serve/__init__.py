"""`steppe serve`: Datasette on the archive database, read-only, with steppe's plugin.

Datasette opens a database file that may change (not ``--immutable``) through
``mode=ro`` connections, and the archive is in WAL mode, so a crawl can keep writing
while the archive is browsed. No write plugin is loaded and no canned query writes.
"""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from pathlib import Path

from datasette.app import Datasette
from datasette.plugins import pm

from archive.store import SCHEMA, Store

from . import filters, plugin
from .metadata import SETTINGS, build_metadata

# Any query a visitor runs (the SQL box, a crafted URL, a search) is stopped after
# this long: one request cannot keep the archive's server busy. Datasette's default,
# stated here so that it stays set.
SQL_TIME_LIMIT_MS = 1000


def datasette_for(data_dir: str | Path) -> Datasette:
    """A Datasette instance on DATA_DIR/archive.db, its WARC files in DATA_DIR/warcs."""
    data_dir = Path(data_dir)
    db_path = data_dir / "archive.db"
    if not db_path.is_file():
        raise FileNotFoundError(f"no archive database at {db_path}: crawl first (steppe crawl or steppe demo)")
    _migrate(db_path)
    if not pm.is_registered(plugin):
        pm.register(plugin, name="steppe")
        # Our plugin registers Datasette's facets itself, with faster column and
        # array facets; the author and tag filters read their tables, and a search
        # matching many articles is found through an index (archive.serve.filters).
        pm.set_blocked("datasette.facets")
        pm.set_blocked("datasette.filters")
        pm.register(filters, name="steppe.filters")
        filters.install()
    return Datasette([str(db_path)], metadata=build_metadata(db_path.stem, str(data_dir / "warcs")),
                     settings={**SETTINGS, "sql_time_limit_ms": SQL_TIME_LIMIT_MS})


def _migrate(db_path: Path) -> None:
    """An archive from an older steppe gains the tables and indexes the pages read
    (archive.store migrates additively); one that has them is not written to."""
    with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as db:
        present = {name for (name,) in db.execute("select name from sqlite_master where type in ('table', 'index')")}
    if not _schema_names() <= present:
        Store(db_path).close()


def _schema_names() -> set[str]:
    """Tables and indexes of archive.store.SCHEMA, indexes named as sqlite-utils names them."""
    names = set(SCHEMA)
    for name, table in SCHEMA.items():
        names |= {f"idx_{name}_{'_'.join(columns)}" for columns in table.indexes + table.unique}
        names |= set(table.sql_indexes)
    return names


def serve(data_dir: str | Path, host: str = "127.0.0.1", port: int = 8001) -> None:
    """Serve the archive over HTTP until interrupted (as `datasette serve` does)."""
    import uvicorn

    datasette = datasette_for(data_dir)
    asyncio.run(datasette.invoke_startup())
    uvicorn.run(datasette.app(), host=host, port=port, log_level="warning")
